"""The tiles' 24 h sparklines: completed hours kept between page loads, only the hour in progress read again.

A tile's sparkline is the hourly means of its last 24 h. Read from raw readings every
time, 200 tiles at one reading per 10 s cost ≈ 500 ms of SQLite per page load (1.7 M
rows aggregated); the hour in progress is 1/24 of that. A completed hour rarely
changes — only when an edge device that was offline uploads what it buffered — so a
sensor's completed hours are read again from the store at most every ``ttl_s``; a
backfill shows on the sparkline within that time (and at once in reports and the API).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hub.store.base import HourlyAggregate, SeriesStore

HOUR_S = 3600
#: How long completed hours are trusted before they are read again (late uploads show after this).
DEFAULT_TTL_S = 600.0


@dataclass(frozen=True)
class _Entry:
    fetched_at: float
    #: Start of the hour in progress when fetched: every kept hour is before it.
    until: float
    hours: tuple[HourlyAggregate, ...]


class HourlyCache:
    """Hourly aggregates per sensor for the last day, shared by every page load of one app."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def hourly(self, series: SeriesStore, sensor: str, since: float, now: float) -> list[HourlyAggregate]:
        """The same hours as ``series.hourly(sensor, since, now)``, completed ones from the cache when fresh."""
        current = now // HOUR_S * HOUR_S
        with self._lock:
            entry = self._entries.get(sensor)
        if entry is None or now - entry.fetched_at > self.ttl_s or entry.until > current:
            found = series.hourly(sensor, since, now)
            kept = tuple(a for a in found if a.hour < current)
            fetched_at = now
        else:
            found = [*entry.hours, *series.hourly(sensor, entry.until, now)]
            kept = tuple(a for a in found if a.hour < current and a.hour + HOUR_S > since)
            fetched_at = entry.fetched_at
        with self._lock:
            self._entries[sensor] = _Entry(fetched_at, current, kept)
        return [a for a in found if a.hour + HOUR_S > since]
