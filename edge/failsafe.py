"""Fail-local: when the agent sounds its own buzzer, as pure functions of (state, readings, now).

The hub raises alarms, but a kitchen whose network is down must still hear a freezer
thawing. The agent knows the limits of its own sensors (from its config: explicit
``low``/``high``, or the profile's preset) and sounds the buzzer itself when a
sensor has been beyond them for ``delay_s`` *and* the hub cannot be reached (the
link is down, or no hub heartbeat for ``hub_silence_s``).

Each sensor holds the buzzer by itself: an excursion that went overdue while the hub
was unreachable is *latched* and holds the buzzer until that sensor is back in range
or someone silences it (from the hub, for that sensor's alert, or with the node's
button); the network coming back does not release it, because the hub may never have
seen the excursion start. One sensor clearing never releases another's. A faulty
reading (no value) neither starts nor ends an excursion. What the buzzer finally does
is decided in edge.buzzer, from these latches and the hub's alerts together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from edge.wire import SensorInfo


@dataclass(frozen=True)
class Limits:
    low: float | None = None
    high: float | None = None


#: Chinese school-canteen practice (GB 31654-2021): refrigeration 0–8 °C, freezing at
#: or below -12 °C, the food-sample fridge like a refrigerator. The hub builds its presets from this table.
PROFILE_LIMITS: dict[str, Limits] = {
    "fridge": Limits(0.0, 8.0),
    "freezer": Limits(None, -12.0),
    "sample_fridge": Limits(0.0, 8.0),
}


def limits_for(info: SensorInfo) -> Limits | None:
    """A sensor's limits: the profile's preset with any explicit ``low``/``high`` taking its side's place."""
    preset = PROFILE_LIMITS.get(info.profile, Limits())
    limits = Limits(info.low if info.low is not None else preset.low,
                    info.high if info.high is not None else preset.high)
    return None if limits == Limits() else limits


def breach(value: float, limits: Limits) -> str | None:
    """How ``value`` is outside ``limits`` (``"above 8.0"``), or ``None`` inside them."""
    if limits.high is not None and value > limits.high:
        return f"above {limits.high:g}"
    if limits.low is not None and value < limits.low:
        return f"below {limits.low:g}"
    return None


def hub_unreachable(connected: bool, hub_last_seen: float | None, started: float, now: float,
                    hub_silence_s: float) -> bool:
    """No broker, or no hub heartbeat for ``hub_silence_s`` (counted from start if none was ever heard)."""
    if not connected:
        return True
    last = hub_last_seen if hub_last_seen is not None else started
    return now - last >= hub_silence_s


@dataclass(frozen=True)
class FailLocalState:
    #: sensor → (monotonic time its excursion began, how it is out of range)
    excursions: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    #: Sensors whose excursion went overdue while the hub was unreachable: each holds the buzzer on.
    sounding: frozenset[str] = frozenset()
    #: Excursions someone silenced; they re-arm when the sensor comes back in range.
    silenced: frozenset[str] = frozenset()

    def reason(self, now: float) -> str:
        """What the latched excursions are, for the log line when the buzzer starts."""
        return "; ".join(f"{s} {self.excursions[s][1]} for {now - self.excursions[s][0]:.0f}s"
                         for s in sorted(self.sounding) if s in self.excursions)


@dataclass(frozen=True)
class Decision:
    action: Literal["sound", "silence", "none"]
    reason: str
    state: FailLocalState


def evaluate(state: FailLocalState, limits: Mapping[str, Limits], values: Iterable[tuple[str, float | None]],
             now: float, hub_is_unreachable: bool, delay_s: float) -> Decision:
    """Fold one tick's values into the state; ``action`` says whether fail-local starts or stops holding the buzzer.

    A sensor latches when its excursion is overdue, not silenced, and the hub is
    unreachable; it lets go when it is back in range (or is silenced, see ``silence``).
    """
    excursions = dict(state.excursions)
    silenced = set(state.silenced)
    sounding = set(state.sounding)
    for sensor, value in values:
        sensor_limits = limits.get(sensor)
        if sensor_limits is None or value is None:
            continue
        how = breach(value, sensor_limits)
        if how is None:
            excursions.pop(sensor, None)
            silenced.discard(sensor)
            sounding.discard(sensor)
        elif sensor not in excursions:
            excursions[sensor] = (now, how)
    overdue = {s for s, (since, _) in excursions.items() if now - since >= delay_s and s not in silenced}
    if hub_is_unreachable:
        sounding |= overdue
    new = FailLocalState(excursions, frozenset(sounding), frozenset(silenced))
    if sounding and not state.sounding:
        return Decision("sound", f"hub unreachable and {new.reason(now)}", new)
    if state.sounding and not sounding:
        return Decision("silence", "every excursion cleared or silenced", new)
    return Decision("none", "", new)


def silence(state: FailLocalState, sensors: Iterable[str] | None = None) -> FailLocalState:
    """Someone silenced the buzzer: these sensors' current excursions (all, without ``sensors``) stay quiet
    until they clear."""
    chosen = frozenset(state.excursions) if sensors is None else frozenset(sensors) & frozenset(state.excursions)
    return FailLocalState(state.excursions, state.sounding - chosen, state.silenced | chosen)
