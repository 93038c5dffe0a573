"""Upkeep of the series store: retention for stores that need the hub to run it, and dashboard samples.

Three duties the hub's scheduler runs (hub.scheduler), each on its own thread, not
in the ingest writer's loop: pruning a year of a big SQLite file must not delay a
fridge alarm, and an InfluxDB outage must not stall ingest through a sample write.
Everything here is best effort and retried on the next round — the record
(readings, alerts, devices) never depends on it. The alert engine is not needed
here: the limit bands come through a ``limits(sensor)`` callable, and alert
transitions arrive through ``on_alert``.

Dashboard samples (only for a store that is a ``SampleSink``, i.e. InfluxDB):

- ``health`` per device: ``online`` (1/0, as the hub sees it, Last Will included),
  ``last_seen_ms``, and from the latest heartbeat ``outbox_depth``, ``dropped``,
  ``uptime_s``, ``clock_synced``, ``cpu_temp``;
- ``limit`` per temperature sensor: the effective ``low`` / ``high``, for limit bands;
- ``alert`` per alert transition: ``state``, ``message``, ``value`` — annotations.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Any

from hub.rules.threshold import Limits
from hub.store.base import Maintained, Sample, SampleSink, SeriesStore
from hub.store.state import Alert, StateStore

_LOGGER = logging.getLogger(__name__)

#: Alert marks kept while the store is unreachable; beyond this the oldest go (they are copies).
MAX_PENDING_MARKS = 10_000
#: How often queued alert marks are written (they annotate dashboards: a few seconds late is fine).
MARKS_INTERVAL_S = 2.0


def health_samples(state: StateStore, now: float) -> list[Sample]:
    samples = []
    for device in state.devices():
        fields: dict[str, float | int | str | bool] = {"online": int(device["state"] == "online")}
        if device["last_seen"] is not None:
            fields["last_seen_ms"] = float(device["last_seen"]) * 1000.0
        health: dict[str, Any] = device["health"] or {}
        for key in ("outbox_depth", "dropped"):
            if health.get(key) is not None:
                fields[key] = int(health[key])
        for key in ("uptime_s", "cpu_temp"):
            if health.get(key) is not None:
                fields[key] = float(health[key])
        if health.get("clock_synced") is not None:
            fields["clock_synced"] = int(bool(health["clock_synced"]))
        samples.append(Sample("health", now, {"device": device["device"], "site": device["site"]}, fields))
    return samples


def limit_samples(state: StateStore, limits_of: Callable[[str], Limits | None], now: float) -> list[Sample]:
    sites = {d["device"]: d["site"] for d in state.devices()}
    samples = []
    for sensor in state.sensors():
        limits = limits_of(sensor["key"])
        if limits is None:
            continue
        fields = {k: float(v) for k, v in (("low", limits.low), ("high", limits.high)) if v is not None}
        tags = {"sensor": sensor["key"], "device": sensor["device"], "site": sites.get(sensor["device"], "")}
        samples.append(Sample("limit", now, tags, fields))
    return samples


def alert_sample(alert: Alert, site: str | None) -> Sample:
    device = alert.subject.split("/", 1)[0] if "/" in alert.subject else ""
    fields: dict[str, float | int | str | bool] = {"state": alert.state, "message": alert.message,
                                                    "id": int(alert.id or 0)}
    if alert.value is not None:
        fields["value"] = float(alert.value)
    tags = {"sensor": alert.subject, "device": device, "site": site or "", "kind": alert.kind,
            "rule": alert.rule, "severity": alert.severity}
    return Sample("alert", alert.updated_at, tags, fields)


class SeriesUpkeep:
    """Retention, dashboard samples and alert marks for one series store; the scheduler calls them.

    ``needs_retention`` / ``takes_samples``: whether the store needs the hub for that at all (an
    SQLite store prunes through the hub, InfluxDB takes samples); the hub registers
    only the duties that do something.
    """

    def __init__(self, series: SeriesStore, state: StateStore, limits: Callable[[str], Limits | None]) -> None:
        self.series = series
        self.state = state
        self._limits = limits
        self._marks: collections.deque[Sample] = collections.deque(maxlen=MAX_PENDING_MARKS)

    @property
    def needs_retention(self) -> bool:
        return isinstance(self.series, Maintained)

    @property
    def takes_samples(self) -> bool:
        return isinstance(self.series, SampleSink)

    def on_alert(self, alert: Alert) -> None:
        """Engine listener: queue the transition; the marks duty writes it (never the alert path)."""
        device = alert.subject.split("/", 1)[0]
        site = self.state.site_of(device)
        self._marks.append(alert_sample(alert, site))

    def maintain(self, now: float) -> None:
        if isinstance(self.series, Maintained):
            started = time.monotonic()
            self.series.downsample_and_prune(now)
            _LOGGER.info("series retention ran in %.1fs", time.monotonic() - started)

    def sample(self, now: float) -> None:
        if isinstance(self.series, SampleSink):
            self.series.write_samples(health_samples(self.state, now) + limit_samples(self.state, self._limits, now))

    def flush_marks(self, _now: float | None = None) -> None:
        if not isinstance(self.series, SampleSink) or not self._marks:
            return
        pending = list(self._marks)
        self.series.write_samples(pending)
        # Forget what was written, and only that: if the bounded queue overflowed during the
        # write, its oldest entries are already gone and the left end now holds unwritten marks.
        written = {id(mark) for mark in pending}
        while self._marks and id(self._marks[0]) in written:
            self._marks.popleft()
