"""Simulated sources for demos, tests and benchmarks, driven by scripts on the monotonic clock.

They behave like the real thing at the agent boundary: the temperature source is
polled and the door source emits events, so the agent, outbox and hub cannot tell
them apart from hardware.
"""

from __future__ import annotations

import random
import threading
import zlib
from typing import Literal

from pydantic import Field

from edge.sources.base import EventSink, Measurement, SourceBase, SourceContext, SourceOptions
from edge.wire import SensorInfo


class SimulatedTemperatureOptions(SourceOptions):
    name: str = ""
    #: Domain preset announced to the hub (``fridge``, ``freezer``, ``sample_fridge``).
    profile: str = ""
    interval_s: float = Field(default=10.0, gt=0)
    #: ``steady``: base ± noise; ``drift_warm``: warms from ``start_after_s`` at ``rate_per_min`` up to
    #: ``ceiling`` (and, with ``recover_after_s``, cools back to ``base`` at the same rate from then: the
    #: repair done); ``door_spike``: a rise of ``spike_rise`` for ``spike_for_s`` every ``spike_every_s``.
    scenario: Literal["steady", "drift_warm", "door_spike"] = "steady"
    base: float = 4.0
    noise: float = Field(default=0.1, ge=0)
    start_after_s: float = Field(default=0.0, ge=0)
    rate_per_min: float = 2.0
    ceiling: float = 15.0
    recover_after_s: float | None = Field(default=None, gt=0)
    spike_every_s: float = Field(default=300.0, gt=0)
    spike_for_s: float = Field(default=60.0, gt=0)
    spike_rise: float = 5.0
    low: float | None = None
    high: float | None = None


class SimulatedTemperature(SourceBase):
    Options = SimulatedTemperatureOptions

    def __init__(self, sensor: str, options: SimulatedTemperatureOptions, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self.interval_s = options.interval_s
        self._monotonic = context.monotonic
        self._started = context.monotonic()
        # Seeded by sensor id so a run is reproducible and sensors differ from each other.
        self._random = random.Random(zlib.crc32(sensor.encode()))

    def describe(self) -> list[SensorInfo]:
        o = self.options
        return [SensorInfo(sensor=self.sensor, kind="temperature", unit="°C", name=o.name,
                           profile=o.profile, low=o.low, high=o.high)]

    def value_at(self, elapsed: float) -> float:
        """The scripted temperature ``elapsed`` seconds after start, before noise."""
        o = self.options
        if o.scenario == "drift_warm" and elapsed > o.start_after_s:
            warmed = min(o.ceiling, o.base + (min(elapsed, o.recover_after_s or elapsed) - o.start_after_s)
                         / 60.0 * o.rate_per_min)
            if o.recover_after_s is not None and elapsed > o.recover_after_s:
                return max(o.base, warmed - (elapsed - o.recover_after_s) / 60.0 * o.rate_per_min)
            return warmed
        if o.scenario == "door_spike" and elapsed > o.start_after_s:
            phase = (elapsed - o.start_after_s) % o.spike_every_s
            if phase < o.spike_for_s:
                return o.base + o.spike_rise * (phase / o.spike_for_s)
        return o.base

    def read(self) -> list[Measurement]:
        elapsed = self._monotonic() - self._started
        noise = self._random.uniform(-self.options.noise, self.options.noise)
        value = round(self.value_at(elapsed) + noise, 2)
        return [Measurement(self.sensor, "temperature", value, "°C")]


class DoorStep(SourceOptions):
    at_s: float = Field(ge=0)
    state: Literal["open", "closed"]


class SimulatedDoorOptions(SourceOptions):
    name: str = ""
    #: ``door`` or ``gate``: gates get the gatekeeper's rules at the hub.
    door_kind: Literal["door", "gate"] = "door"
    initial: Literal["open", "closed"] = "closed"
    schedule: list[DoorStep] = Field(default_factory=list)
    #: Start the schedule again after this many seconds (``None``: play it once).
    repeat_every_s: float | None = Field(default=None, gt=0)
    interval_s: float = Field(default=0.5, gt=0)


class SimulatedDoor(SourceBase):
    """A reed switch that opens and closes on a script (seconds after the agent started)."""

    Options = SimulatedDoorOptions

    def __init__(self, sensor: str, options: SimulatedDoorOptions, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self.interval_s = options.interval_s
        self._monotonic = context.monotonic
        self._started = context.monotonic()
        self._state = options.initial
        self._next_step = 0
        self._steps = sorted(options.schedule, key=lambda s: s.at_s)
        self._cycle_start = 0.0
        self._emit: EventSink | None = None
        self._lock = threading.Lock()

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind=self.options.door_kind, name=self.options.name)]

    def start(self, emit: EventSink) -> None:
        self._emit = emit

    def states(self) -> dict[str, str]:
        with self._lock:
            return {self.sensor: self._state}

    def read(self) -> list[Measurement]:
        """Play every script step that is due; door changes leave as events, not readings."""
        steps = self._steps
        elapsed = self._monotonic() - self._started
        due: list[str] = []
        with self._lock:
            while steps:
                if self._next_step >= len(steps):
                    if self.options.repeat_every_s is None:
                        break
                    if elapsed < self._cycle_start + self.options.repeat_every_s:
                        break
                    self._cycle_start += self.options.repeat_every_s
                    self._next_step = 0
                step = steps[self._next_step]
                if elapsed < self._cycle_start + step.at_s:
                    break
                self._next_step += 1
                if step.state != self._state:
                    self._state = step.state
                    due.append(step.state)
        if self._emit is not None:
            for state in due:
                self._emit(self.sensor, self.options.door_kind, state)
        return []
