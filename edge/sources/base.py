"""What every source is: a small object that reads sensors or reports input changes.

Polled sources (temperature probes) return measurements from ``read()``; event
sources (reed switches, buttons, scanners) call the ``EventSink`` they were started
with on every change. Timestamps, sequence numbers and the outbox are the agent's
job, so a source only deals with its hardware.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from edge.wire import ScalarValue, SensorInfo


@dataclass(frozen=True)
class Measurement:
    """One value from one sensor, or the fault that kept it from giving one."""

    sensor: str
    kind: str
    value: float | None
    unit: str = ""
    fault: str | None = None


class EventSink(Protocol):
    def __call__(
        self, sensor: str, kind: str, state: str, detail: Mapping[str, ScalarValue] | None = None
    ) -> None: ...


@runtime_checkable
class Source(Protocol):
    """The seam between the agent and a piece of hardware (or a simulation of it)."""

    #: Seconds between ``read()`` calls; ``None`` for a source that only emits events.
    interval_s: float | None

    def describe(self) -> list[SensorInfo]:
        """The sensors this source provides, announced to the hub in the status message."""
        ...

    def start(self, emit: EventSink) -> None:
        """Begin watching inputs; ``emit`` may be called from any thread."""
        ...

    def read(self) -> list[Measurement]:
        """Take one measurement of every sensor; faults are measurements with ``fault`` set."""
        ...

    def states(self) -> dict[str, str]:
        """Current state of state-like inputs (door open/closed), for the heartbeat."""
        ...

    def close(self) -> None: ...


@dataclass
class SourceContext:
    """The hardware seams a source may need, injected so tests can point them at fakes.

    ``pin_factory`` is a gpiozero pin factory (``None``: gpiozero's default, the real
    pins); ``w1_base`` is the kernel's 1-wire sysfs directory; ``monotonic`` is the
    clock scripted simulations run on.
    """

    pin_factory: Any = None
    w1_base: str = "/sys/bus/w1/devices"
    monotonic: Callable[[], float] = time.monotonic
    extras: dict[str, Any] = field(default_factory=dict)


class SourceOptions(BaseModel):
    """Base for each kind's own config keys; unknown keys are refused so typos surface."""

    model_config = ConfigDict(extra="forbid")


class SourceBase:
    """Defaults for the optional parts of the Source protocol."""

    Options: ClassVar[type[SourceOptions]] = SourceOptions
    #: Whether the config entry must give ``sensor`` (sources of one input; multi-sensor
    #: sources name their sensors inside their own options).
    requires_sensor: ClassVar[bool] = False
    interval_s: float | None = None

    def __init__(self, sensor: str, options: Any, context: SourceContext) -> None:
        self.sensor = sensor

    def describe(self) -> list[SensorInfo]:
        return []

    def start(self, emit: EventSink) -> None:
        return None

    def read(self) -> list[Measurement]:
        return []

    def states(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        return None
