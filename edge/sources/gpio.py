"""GPIO inputs through gpiozero: door and gate reed switches, mains power, sample-station and patrol buttons.

Every class takes its pin factory from the ``SourceContext`` (``None``: the real
pins; tests pass gpiozero's ``MockFactory``). Inputs are interrupt-driven: gpiozero
calls back from its own thread on every edge, and the source reports a change to the
agent's event sink the moment the contact has settled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from edge.sources.base import EventSink, SourceBase, SourceContext, SourceOptions
from edge.wire import SensorInfo

_LOGGER = logging.getLogger(__name__)


class SettledInput:
    """A digital input reported only once it has stopped bouncing.

    A reed switch chatters for a few milliseconds when a door swings past the magnet.
    gpiozero's own ``bounce_time`` ignores edges after the first one, so a final edge
    inside the window is lost and the input can stay "open" forever. Instead, every
    edge (re)starts a timer, and when the pin has been quiet for ``settle_s`` its
    *current* level is compared with the last reported one: one event per real
    change, and never a missed final state.
    """

    def __init__(self, pin: int | str, pull_up: bool, settle_s: float, pin_factory: Any,
                 on_change: Callable[[bool], None]) -> None:
        from gpiozero import DigitalInputDevice  # noqa: PLC0415 - hardware libraries load only where used

        self._device = DigitalInputDevice(pin, pull_up=pull_up, bounce_time=None, pin_factory=pin_factory)
        self._settle_s = settle_s
        self._on_change = on_change
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False
        self.reported = bool(self._device.is_active)

    def start(self) -> None:
        """Watch for edges, and take the level now as the state already reported."""
        self._device.when_activated = self._edge
        self._device.when_deactivated = self._edge
        with self._lock:
            self.reported = bool(self._device.is_active)

    def _edge(self) -> None:
        with self._lock:
            if self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self._settle_s, self._settled)
            self._timer.daemon = True
            self._timer.start()

    def _settled(self) -> None:
        with self._lock:
            if self._closed:
                return
            level = bool(self._device.is_active)
            changed = level != self.reported
            self.reported = level
        if changed:
            self._on_change(level)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
        self._device.close()


class DoorOptions(SourceOptions):
    """Keys of a ``door`` source: one reed switch on a door or gate."""

    #: BCM pin number (``17``) or a gpiozero pin name (``"GPIO17"``, ``"BOARD11"``).
    pin: int | str
    name: str = ""
    #: ``door`` or ``gate`` (gates get the gatekeeper's rules at the hub).
    door_kind: Literal["door", "gate"] = "door"
    #: ``true``: the switch connects the pin to ground (the Pi's internal pull-up holds it high).
    pull_up: bool = True
    #: The contact's state while the door is *shut*, as door contacts are labelled for alarm
    #: panels: ``normally_closed`` (circuit closed when shut — a cut wire then reads "open",
    #: the safe failure) or ``normally_open``.
    contact: Literal["normally_closed", "normally_open"] = "normally_closed"
    #: Seconds the contact must be quiet before a change counts (reed switches bounce for ~1–5 ms).
    bounce_time: float = Field(default=0.05, gt=0, le=5)


class Door(SourceBase):
    """A reed switch: an event on every settled change, and the current state in every heartbeat."""

    Options = DoorOptions
    requires_sensor = True

    def __init__(self, sensor: str, options: DoorOptions, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self._emit: EventSink | None = None
        self._input = SettledInput(options.pin, options.pull_up, options.bounce_time, context.pin_factory,
                                   self._changed)

    def state_of(self, circuit_closed: bool) -> str:
        shut = circuit_closed if self.options.contact == "normally_closed" else not circuit_closed
        return "closed" if shut else "open"

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind=self.options.door_kind, name=self.options.name)]

    def start(self, emit: EventSink) -> None:
        self._emit = emit
        self._input.start()
        # The state at start is an event too: the hub must not assume "closed" after a reboot.
        emit(self.sensor, self.options.door_kind, self.state_of(self._input.reported), {"initial": True})

    def _changed(self, circuit_closed: bool) -> None:
        if self._emit is not None:
            self._emit(self.sensor, self.options.door_kind, self.state_of(circuit_closed))

    def states(self) -> dict[str, str]:
        return {self.sensor: self.state_of(self._input.reported)}

    def close(self) -> None:
        self._input.close()


class PowerOptions(SourceOptions):
    """Keys of a ``power`` source: the "mains present" output of a UPS HAT or power monitor."""

    pin: int | str
    name: str = ""
    pull_up: bool = True
    #: Which level of the input means mains is present: ``active`` (pulled to ground by the
    #: monitor, with ``pull_up``) or ``inactive``.
    mains_when: Literal["active", "inactive"] = "active"
    #: Mains flickers when a compressor starts; a change must hold this long to count.
    bounce_time: float = Field(default=0.5, gt=0, le=30)


class MainsPower(SourceBase):
    """Mains present or lost, as ``power`` events (``on``/``off``) — the Pi runs on through the UPS."""

    Options = PowerOptions

    def __init__(self, sensor: str, options: PowerOptions, context: SourceContext) -> None:
        self.sensor = sensor or "mains"
        self.options = options
        self._emit: EventSink | None = None
        self._input = SettledInput(options.pin, options.pull_up, options.bounce_time, context.pin_factory,
                                   self._changed)

    def state_of(self, active: bool) -> str:
        return "on" if active == (self.options.mains_when == "active") else "off"

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind="power", name=self.options.name)]

    def start(self, emit: EventSink) -> None:
        self._emit = emit
        self._input.start()
        emit(self.sensor, "power", self.state_of(self._input.reported), {"initial": True})

    def _changed(self, active: bool) -> None:
        if self._emit is not None:
            self._emit(self.sensor, "power", self.state_of(active))

    def states(self) -> dict[str, str]:
        return {self.sensor: self.state_of(self._input.reported)}

    def close(self) -> None:
        self._input.close()


class MealButton(SourceOptions):
    pin: int | str
    #: The meal this button logs a sample for (``breakfast``, ``lunch``, ``dinner``, ``snack`` …).
    meal: str = Field(min_length=1, max_length=32)


class SampleButtonsOptions(SourceOptions):
    """Keys of a ``sample_buttons`` source: one push button per meal at the food-sample station."""

    buttons: list[MealButton] = Field(min_length=1)
    pull_up: bool = True
    #: Presses closer together than this count once (a staff member pressing twice, or contact bounce).
    lockout_s: float = Field(default=2.0, ge=0, le=60)


class SampleButtons(SourceBase):
    """A ``sample`` event (state ``logged``, detail ``meal``) each time a meal's button is pressed."""

    Options = SampleButtonsOptions

    def __init__(self, sensor: str, options: SampleButtonsOptions, context: SourceContext) -> None:
        from gpiozero import Button  # noqa: PLC0415 - hardware libraries load only where used

        self.sensor = sensor or "sample-station"
        self.options = options
        self._monotonic = context.monotonic
        self._emit: EventSink | None = None
        self._last_press: dict[str, float] = {}
        self._lock = threading.Lock()
        self._buttons = [(b.meal, Button(b.pin, pull_up=options.pull_up, pin_factory=context.pin_factory))
                         for b in options.buttons]

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind="sample", name="留样")]

    def start(self, emit: EventSink) -> None:
        self._emit = emit
        for meal, button in self._buttons:
            button.when_pressed = lambda _device=None, meal=meal: self.pressed(meal)

    def pressed(self, meal: str) -> None:
        now = self._monotonic()
        with self._lock:
            last = self._last_press.get(meal)
            if last is not None and now - last < self.options.lockout_s:
                return
            self._last_press[meal] = now
        if self._emit is not None:
            self._emit(self.sensor, "sample", "logged", {"meal": meal, "input": "button"})

    def close(self) -> None:
        for _, button in self._buttons:
            button.close()


class PatrolButtonOptions(SourceOptions):
    """Keys of a ``patrol_button`` source: a push button at a patrol checkpoint (the sensor is the checkpoint)."""

    pin: int | str
    name: str = ""
    pull_up: bool = True
    #: Presses closer together than this are one visit.
    lockout_s: float = Field(default=5.0, ge=0, le=600)


class PatrolButton(SourceBase):
    """A ``patrol`` event (state ``visited``) each time the guard presses the checkpoint's button."""

    Options = PatrolButtonOptions
    requires_sensor = True

    def __init__(self, sensor: str, options: PatrolButtonOptions, context: SourceContext) -> None:
        from gpiozero import Button  # noqa: PLC0415 - hardware libraries load only where used

        self.sensor = sensor
        self.options = options
        self._monotonic = context.monotonic
        self._emit: EventSink | None = None
        self._last_press: float | None = None
        self._lock = threading.Lock()
        self._button = Button(options.pin, pull_up=options.pull_up, pin_factory=context.pin_factory)

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind="patrol", name=self.options.name or "巡更点")]

    def start(self, emit: EventSink) -> None:
        self._emit = emit
        self._button.when_pressed = lambda _device=None: self.pressed()

    def pressed(self) -> None:
        now = self._monotonic()
        with self._lock:
            if self._last_press is not None and now - self._last_press < self.options.lockout_s:
                return
            self._last_press = now
        if self._emit is not None:
            self._emit(self.sensor, "patrol", "visited", {"input": "button"})

    def close(self) -> None:
        self._button.close()
