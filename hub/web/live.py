"""What the open pages are told live: alert changes, latest readings (throttled), doors and gates, samples,
interim actions, limit edits and silences.

The feed subscribes to the hub's own hooks — the alert engine's listeners, the
ingest pipeline's reading and event listeners, the sample monitor's changes — so no
page polls the database. Readings are coalesced: a page gets at most one value per
sensor per ``reading_interval_s``, the newest, however fast probes report.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from hub.rules.threshold import Limits
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert
from hub.web.broadcast import Broadcaster
from hub.web.states import reading_state

_LOGGER = logging.getLogger(__name__)


class LiveFeed:
    def __init__(self, broadcaster: Broadcaster, limits: Callable[[str], Limits | None], *,
                 door_kinds: Sequence[str] = ("gate", "door"), reading_interval_s: float = 1.0) -> None:
        self.broadcaster = broadcaster
        self._limits = limits
        self._door_kinds = frozenset(door_kinds)
        self._interval = reading_interval_s
        self._pending: dict[str, StoredReading] = {}
        self._lock = threading.Lock()
        self._next_flush = float("-inf")

    def on_alert(self, alert: Alert) -> None:
        self.broadcaster.publish("alert", {
            "id": alert.id, "state": alert.state, "kind": alert.kind, "severity": alert.severity,
            "subject": alert.subject, "message": alert.message, "value": alert.value})

    def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Keep the newest reading per sensor until the next flush."""
        with self._lock:
            for reading in readings:
                current = self._pending.get(reading.sensor)
                if current is None or reading.ts >= current.ts:
                    self._pending[reading.sensor] = reading

    def tick(self, now: float) -> None:
        """Send the coalesced readings, at most once per interval (called by the ingest ticker)."""
        with self._lock:
            if now < self._next_flush or not self._pending:
                return
            pending, self._pending = self._pending, {}
            self._next_flush = now + self._interval
        for key, reading in sorted(pending.items()):
            try:
                state = reading_state(reading.value, reading.fault, self._limits(key))
            except Exception:  # the page must never stop ingest
                _LOGGER.exception("live reading state for %s failed", key)
                continue
            self.broadcaster.publish("reading", {"sensor": key, "value": reading.value, "fault": reading.fault,
                                                 "ts": reading.ts, "state": state})

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Doors and gates opening and closing (samples come through ``on_samples_changed``)."""
        for event in events:
            if event.kind in self._door_kinds:
                self.broadcaster.publish("door", {"sensor": event.sensor, "state": event.state, "ts": event.ts})

    def on_samples_changed(self, record_id: int | None) -> None:
        self.broadcaster.publish("samples", {"record": record_id})

    def on_alert_action(self, alert_id: int) -> None:
        """Someone recorded an interim action: the alarm's card lists it (the alarm's state is unchanged)."""
        self.broadcaster.publish("action", {"id": alert_id})

    def on_limits_changed(self, sensor: str) -> None:
        """A unit's limits changed (or a change awaits approval): its tile shows the band in force."""
        self.broadcaster.publish("limits", {"sensor": sensor})

    def on_silences_changed(self) -> None:
        """A silence was created or ended: the lists of silences, and the alarms marked silenced."""
        self.broadcaster.publish("silences", {})
