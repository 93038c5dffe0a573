"""Whether the kitchen buzzer sounds, derived from everything that wants it on (pure functions).

One buzzer serves every sensor of a node, while the hub's commands are about one alert
each. Toggling the buzzer by whichever command came last let one alert's ``alarm_off``
silence another alert still firing, and let a replayed backlog (an alert that pended
and was cancelled, then the real one firing) chirp it off and on within milliseconds.
So the node keeps *why* it should sound — the hub alerts it was told to sound, each
sounding or silenced, and the local excursions fail-local latched (edge.failsafe) —
and the buzzer is on exactly while one of them holds it. A command changes only the
entry of its own alert; the buzzer follows from the whole set.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from edge import wire
from edge.failsafe import FailLocalState, silence

#: The commands about the buzzer; the others (``indicator``, ``stored`` …) do not touch it.
BUZZER_ACTIONS = frozenset({"alarm_on", "alarm_off", "silence"})


class AlarmMode(enum.StrEnum):
    """Where a hub alert stands on this node."""

    #: The hub wants the buzzer on for it.
    SOUNDING = "sounding"
    #: Someone silenced it (acknowledged on the hub, a silence covering its sensor, or the node's button).
    SILENCED = "silenced"


@dataclass(frozen=True)
class HubAlarm:
    """One hub alert the node was told about."""

    #: The sensor of this device it is about ("" for one that names none).
    sensor: str
    reason: str
    mode: AlarmMode


@dataclass(frozen=True)
class BuzzerState:
    #: Hub alerts by id: kept until the hub ends them (``alarm_off``), sounding or silenced.
    alarms: Mapping[int, HubAlarm] = field(default_factory=dict)
    #: The reason of an ``alarm_on`` that named no alert (an older hub); it holds until any silence.
    unattributed: str | None = None
    #: Fail-local: the node's own excursions and which of them hold the buzzer.
    local: FailLocalState = field(default_factory=FailLocalState)


def on_command(state: BuzzerState, command: wire.Command) -> BuzzerState:
    """Apply one ``alarm_on`` / ``silence`` / ``alarm_off`` from the hub; idempotent, per alert.

    ``silence`` for an alert also quiets its sensor's local excursion: the person who
    acknowledged it on the hub has the same fridge in mind. ``alarm_off`` only forgets
    the alert: an excursion the node still sees keeps its own latch. Without an alert
    (an older hub, which meant "stop the buzzer"), ``silence`` and ``alarm_off`` silence
    everything sounding now. Other actions leave the state as it is.
    """
    action, alert, sensor, reason = command.action, command.alert, command.sensor, command.reason
    if action not in BUZZER_ACTIONS:
        return state
    if alert is None:
        if action == "alarm_on":
            return replace(state, unattributed=reason or "alarm from hub")
        return silence_all(state)[0]
    alarms = dict(state.alarms)
    if action == "alarm_off":
        alarms.pop(alert, None)
        return replace(state, alarms=alarms)
    previous = alarms.get(alert)
    mode = AlarmMode.SOUNDING if action == "alarm_on" else AlarmMode.SILENCED
    alarms[alert] = HubAlarm(sensor or (previous.sensor if previous else ""),
                             reason or (previous.reason if previous else "alarm from hub"), mode)
    local = silence(state.local, [sensor]) if action == "silence" and sensor else state.local
    return replace(state, alarms=alarms, local=local)


def silence_all(state: BuzzerState) -> tuple[BuzzerState, tuple[int, ...], tuple[str, ...]]:
    """Silence everything that holds the buzzer now (the node's button); returns what it silenced.

    Each stays silenced until it ends (the hub's ``alarm_off``, the sensor back in
    range); something that starts later sounds again.
    """
    silenced_alerts = tuple(sorted(i for i, a in state.alarms.items() if a.mode is AlarmMode.SOUNDING))
    silenced_sensors = tuple(sorted(state.local.sounding))
    alarms = {i: replace(a, mode=AlarmMode.SILENCED) if i in silenced_alerts else a for i, a in state.alarms.items()}
    local = silence(state.local)
    return BuzzerState(alarms, None, local), silenced_alerts, silenced_sensors


def with_local(state: BuzzerState, local: FailLocalState) -> BuzzerState:
    return replace(state, local=local)


def holding_alerts(state: BuzzerState) -> tuple[int, ...]:
    return tuple(sorted(i for i, a in state.alarms.items() if a.mode is AlarmMode.SOUNDING))


def sounding(state: BuzzerState) -> bool:
    """The buzzer is on exactly while a hub alert, a latched local excursion or an unattributed alarm holds it."""
    return bool(holding_alerts(state) or state.local.sounding or state.unattributed is not None)


def reason(state: BuzzerState, now: float) -> str:
    """What holds the buzzer, for the log line when it starts."""
    parts = [state.alarms[i].reason for i in holding_alerts(state)]
    if state.local.sounding:
        parts.append(f"hub unreachable and {state.local.reason(now)}")
    if state.unattributed is not None:
        parts.append(state.unattributed)
    return "; ".join(parts)


#: Entries per list in the heartbeat (the wire's limit); a node has a handful.
_REPORTED = 256


def _sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(items))


def report(state: BuzzerState) -> wire.BuzzerReport:
    """The heartbeat's account of why the buzzer is on or off."""
    alarms: Mapping[int, HubAlarm] = state.alarms
    return wire.BuzzerReport(
        sounding=sounding(state), alerts=holding_alerts(state)[:_REPORTED],
        sensors=_sorted(state.local.sounding)[:_REPORTED],
        silenced_alerts=tuple(sorted(i for i, a in alarms.items() if a.mode is AlarmMode.SILENCED))[:_REPORTED],
        silenced_sensors=_sorted(state.local.silenced)[:_REPORTED], unattributed=state.unattributed is not None)
