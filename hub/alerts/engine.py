"""Turn rule transitions into alert records, persisting every timer so a restart forgets nothing.

The rule state of each (rule, sensor) — when the excursion began, whether it fired —
is written to the state store on every change, and reloaded at start: a hub that
restarts ten minutes into a fifteen-minute delay fires five minutes later, not
fifteen. A condition already true at start fires too, because the first reading
after start is evaluated like any other.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerts.limits import limits_for
from hub.rules.threshold import Limits, ThresholdState, Transition, on_time, on_value
from hub.settings import HubConfig
from hub.store.base import StoredReading
from hub.store.state import Alert, StateStore

_LOGGER = logging.getLogger(__name__)

THRESHOLD_RULE = "temperature_limits"

#: Called after an alert changed state (to notify, or to sound an edge buzzer).
AlertListener = Callable[[Alert], None]


def format_threshold_message(name: str, value: float, limit: float | None, since: float, tz: ZoneInfo) -> str:
    """The Chinese alarm text staff read on a phone: what, how far out, since when."""
    direction = "超出上限" if limit is not None and value > limit else "低于下限"
    since_local = datetime.fromtimestamp(since, tz).strftime("%m-%d %H:%M")
    limit_text = f"{direction} {limit:g} °C" if limit is not None else "超出范围"
    return f"{name} 温度 {value:.1f} °C，{limit_text}，自 {since_local} 起"


class AlertEngine:
    def __init__(self, store: StateStore, config: HubConfig, tz: ZoneInfo,
                 listeners: Sequence[AlertListener] = ()) -> None:
        self._store = store
        self._config = config
        self._tz = tz
        self._listeners = list(listeners)
        self._lock = threading.Lock()
        self._limits: dict[str, Limits] = {}
        self._names: dict[str, str] = {}
        self._states: dict[str, ThresholdState] = {}
        self._alert_ids: dict[str, int] = {}
        for (rule, subject), saved in store.rule_states().items():
            if rule == THRESHOLD_RULE:
                alert_id = saved.pop("alert_id", None)
                self._states[subject] = ThresholdState(**saved)
                if alert_id is not None:
                    self._alert_ids[subject] = alert_id
        self.refresh_sensors()

    def add_listener(self, listener: AlertListener) -> None:
        self._listeners.append(listener)

    def refresh_sensors(self) -> None:
        """Re-read the sensor registry (after a device announced its sensors)."""
        limits: dict[str, Limits] = {}
        names: dict[str, str] = {}
        for sensor in self._store.sensors():
            found = limits_for(sensor, self._config)
            if found is not None:
                limits[sensor["key"]] = found
            override = self._config.sensors.get(sensor["key"])
            configured = override.name if override is not None else None
            names[sensor["key"]] = configured or sensor["name"] or sensor["key"]
        with self._lock:
            self._limits, self._names = limits, names

    def limits(self, key: str) -> Limits | None:
        with self._lock:
            return self._limits.get(key)

    def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Evaluate a committed batch, in reading-time order per sensor."""
        changed: list[Alert] = []
        with self._lock:
            for reading in sorted(readings, key=lambda r: r.ts):
                limits = self._limits.get(reading.sensor)
                if limits is None or reading.value is None:
                    continue
                state = self._states.get(reading.sensor, ThresholdState())
                new_state, transition = on_value(limits, state, reading.value, reading.ts)
                self._apply(reading.sensor, limits, state, new_state, transition, reading.ts, changed)
        self._notify(changed)

    def tick(self, now: float) -> None:
        """Fire excursions whose delay ran out since the last reading."""
        changed: list[Alert] = []
        with self._lock:
            for key, state in list(self._states.items()):
                limits = self._limits.get(key)
                if limits is None:
                    continue
                new_state, transition = on_time(limits, state, now)
                self._apply(key, limits, state, new_state, transition, now, changed)
        self._notify(changed)

    def _apply(self, key: str, limits: Limits, old: ThresholdState, new: ThresholdState,
               transition: Transition | None, at: float, changed: list[Alert]) -> None:
        if new == old:
            return
        self._states[key] = new
        alert = self._record(key, limits, new, transition, at) if transition is not None else None
        if alert is not None:
            changed.append(alert)
        elif new.firing and (alert_id := self._alert_ids.get(key)) is not None:
            self._update_peak(alert_id, new)
        saved: dict[str, Any] = dataclasses.asdict(new)
        if key in self._alert_ids:
            saved["alert_id"] = self._alert_ids[key]
        self._store.save_rule_state(THRESHOLD_RULE, key, saved if new.out_since is not None else None)

    def _record(self, key: str, limits: Limits, state: ThresholdState, transition: Transition,
                at: float) -> Alert | None:
        value = state.last_value if state.last_value is not None else state.peak
        existing = self._find_alert(key)
        if transition is Transition.PENDING:
            assert value is not None and state.out_since is not None
            alert = Alert(rule=THRESHOLD_RULE, subject=key, kind="temperature", severity=limits.severity,
                          state="pending", message=self._message(key, limits, value, state.out_since),
                          started_at=state.out_since, updated_at=at, value=value, peak=state.peak,
                          threshold=limits.breached(value))
        elif transition is Transition.FIRE:
            assert value is not None and state.out_since is not None
            alert = existing or Alert(rule=THRESHOLD_RULE, subject=key, kind="temperature",
                                      severity=limits.severity, state="pending", message="",
                                      started_at=state.out_since, updated_at=at)
            alert.state, alert.fired_at, alert.updated_at = "firing", at, at
            alert.value, alert.peak = value, state.peak
            alert.threshold = limits.breached(state.peak if state.peak is not None else value)
            alert.message = self._message(key, limits, state.peak if state.peak is not None else value,
                                          state.out_since)
        elif existing is not None:
            alert = existing
            alert.state = "resolved" if transition is Transition.CLEAR else "cancelled"
            alert.resolved_at = alert.updated_at = at
            alert.value = state.last_value
        else:
            return None
        self._store.save_alert(alert)
        assert alert.id is not None
        if alert.state in ("pending", "firing"):
            self._alert_ids[key] = alert.id
        else:
            self._alert_ids.pop(key, None)
        _LOGGER.info("alert %s %s: %s", alert.id, alert.state, alert.message)
        return alert

    def _find_alert(self, key: str) -> Alert | None:
        alert_id = self._alert_ids.get(key)
        if alert_id is None:
            return None
        return self._store.alert(alert_id)

    def _update_peak(self, alert_id: int, state: ThresholdState) -> None:
        alert = self._store.alert(alert_id)
        if alert is not None and alert.peak != state.peak:
            alert.peak, alert.value = state.peak, state.last_value
            self._store.save_alert(alert)

    def _message(self, key: str, limits: Limits, value: float, since: float) -> str:
        return format_threshold_message(self._names.get(key, key), value, limits.breached(value), since, self._tz)

    def _notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            for listener in self._listeners:
                try:
                    listener(alert)
                except Exception:
                    _LOGGER.exception("alert listener failed for alert %s", alert.id)
