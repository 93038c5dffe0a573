"""Fail-local: when the agent sounds its own buzzer, as pure functions of (state, readings, now).

The hub raises alarms, but a kitchen whose network is down must still hear a freezer
thawing. The agent knows the limits of its own sensors (from its config: explicit
``low``/``high``, or the profile's preset) and sounds the buzzer itself when a
sensor has been beyond them for ``delay_s`` *and* the hub cannot be reached (the
link is down, or no hub heartbeat for ``hub_silence_s``).

Once sounding, the buzzer stays on until every overdue excursion has cleared or
someone silences it (a ``silence`` / ``alarm_off`` command); the network coming
back does not silence it, because the hub may never have seen the excursion start.
A faulty reading (no value) neither starts nor ends an excursion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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
    #: True while fail-local (not the hub) has the buzzer on.
    sounding: bool = False
    #: Excursions someone silenced; they re-arm when the sensor comes back in range.
    silenced: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    action: Literal["sound", "silence", "none"]
    reason: str
    state: FailLocalState


def evaluate(state: FailLocalState, limits: Mapping[str, Limits], values: Iterable[tuple[str, float | None]],
             now: float, hub_is_unreachable: bool, delay_s: float) -> Decision:
    """Fold one tick's values into the state and decide whether the local buzzer changes."""
    excursions = dict(state.excursions)
    silenced = set(state.silenced)
    for sensor, value in values:
        sensor_limits = limits.get(sensor)
        if sensor_limits is None or value is None:
            continue
        how = breach(value, sensor_limits)
        if how is None:
            excursions.pop(sensor, None)
            silenced.discard(sensor)
        elif sensor not in excursions:
            excursions[sensor] = (now, how)
    overdue = sorted(s for s, (since, _) in excursions.items() if now - since >= delay_s and s not in silenced)
    new = FailLocalState(excursions, state.sounding, frozenset(silenced))
    if not state.sounding and overdue and hub_is_unreachable:
        reason = "; ".join(f"{s} {excursions[s][1]} for {now - excursions[s][0]:.0f}s" for s in overdue)
        return Decision("sound", f"hub unreachable and {reason}", replace(new, sounding=True))
    if state.sounding and not overdue:
        return Decision("silence", "every excursion cleared or silenced", replace(new, sounding=False))
    return Decision("none", "", new)


def silence(state: FailLocalState) -> FailLocalState:
    """Someone silenced the buzzer: current excursions stay quiet until they clear."""
    return FailLocalState(state.excursions, False, state.silenced | frozenset(state.excursions))
