"""``xiaoan store copy --verify``: does InfluxDB hold what the SQLite series store holds?

Counts are compared per sensor and per local day (the school's time zone, as
reports count days), so a difference points at the day to look at. What each
store can still be asked about decides what is compared:

- **Raw readings and events**, on the days both stores still keep raw: a local day
  that begins after ``now`` minus the raw retention (the shorter of the hub's
  setting and the InfluxDB raw policy's duration). Older days are partly pruned in
  SQLite (at whole hours, by its maintenance round) and expire from InfluxDB a whole
  shard at a time, so their raw counts differ without anything being wrong.
- **Valued readings through the hourly aggregates**, on older days still inside the
  hourly retention: SQLite's ``hourly`` (the aggregates it kept for pruned hours,
  combined with raw rows) against the sum of ``count_value`` in InfluxDB's
  ``reading_hourly``, an hour counted on the local day it starts in. Skipped when
  no hourly policy is configured (InfluxDB 3.x).

Only what SQLite holds is compared, and per sensor only up to its last row there:
after the switch the hub writes to InfluxDB alone, so InfluxDB rightly has more
after that. Every other difference counts, in either direction (InfluxDB holding
more on a day SQLite covers means two different points for one reading, or one
written there alone by the hub after the switch, e.g. an edge's late backlog; the
day to look at is printed either way).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from hub.store.influx_http import InfluxError, quote_ident, quote_str
from hub.store.influx_schema import EVENT, READING, READING_HOURLY
from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

_LOGGER = logging.getLogger(__name__)
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000
_NS_PER_MS = 1_000_000
#: Local days per InfluxDB query (each answers per sensor and day).
_DAYS_PER_QUERY = 62
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms|us|µs|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

DayCounts = dict[tuple[str, dt.date], int]


@dataclass(frozen=True)
class Difference:
    kind: str  # readings | events | hourly counts
    sensor: str
    day: dt.date
    sqlite: int
    influx: int

    def __str__(self) -> str:
        return (f"DIFFERENT {self.kind}: {self.sensor} {self.day.isoformat()}: sqlite {self.sqlite},"
                f" influxdb {self.influx}")


@dataclass
class Verification:
    differences: list[Difference] = field(default_factory=list)
    #: Per kind: sensor-days compared and rows counted in SQLite.
    compared: dict[str, tuple[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _midnight_ms(day: dt.date, tz: ZoneInfo) -> int:
    return round(dt.datetime.combine(day, dt.time(0), tz).timestamp() * 1000)


def _day_of(ms: int, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000.0, tz).date()


def _first_day_from(ms: float, tz: ZoneInfo) -> dt.date:
    """The first local day that begins at or after ``ms``."""
    day = _day_of(int(ms), tz)
    return day if _midnight_ms(day, tz) >= ms else day + dt.timedelta(days=1)


def _days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def _chunks(first: dt.date, end: dt.date, tz: ZoneInfo) -> Iterator[tuple[dt.date, dt.date, int | None]]:
    """[first, end) in runs of 24-hour days with the same UTC offset (one GROUP BY time(1d, offset) each);
    a day of another length (a DST change) alone, with no offset."""
    day = first
    while day < end:
        start = _midnight_ms(day, tz)
        if _midnight_ms(day + dt.timedelta(days=1), tz) - start != _DAY_MS:
            yield day, day + dt.timedelta(days=1), None
            day += dt.timedelta(days=1)
            continue
        stop = day + dt.timedelta(days=1)
        while (stop < end and (stop - day).days < _DAYS_PER_QUERY
               and _midnight_ms(stop + dt.timedelta(days=1), tz) - _midnight_ms(stop, tz) == _DAY_MS):
            stop += dt.timedelta(days=1)
        yield day, stop, (start % _DAY_MS) // 1000
        day = stop


class _Influx:
    def __init__(self, store: InfluxSeriesStore, tz: ZoneInfo) -> None:
        self.store, self.http, self.tz = store, store.http, tz

    def source(self, measurement: str, rp: str) -> str:
        return f"{quote_ident(self.http.database)}.{quote_ident(rp)}.{quote_ident(measurement)}"

    def per_day(self, select: str, source: str, first: dt.date, end: dt.date) -> DayCounts:
        """``select`` (one value named ``n``) per sensor and local day in [first, end)."""
        found: DayCounts = defaultdict(int)
        for start, stop, offset_s in _chunks(first, end, self.tz):
            where = (f"time >= {_midnight_ms(start, self.tz) * _NS_PER_MS}"
                     f" AND time < {_midnight_ms(stop, self.tz) * _NS_PER_MS}")
            group = f'GROUP BY time(1d, {offset_s}s), "sensor" fill(none)' if offset_s is not None \
                else 'GROUP BY "sensor"'
            for row in self.http.rows(f"SELECT {select} AS n FROM {source} WHERE {where} {group}"):
                day = _day_of(int(row["time"]), self.tz) if offset_s is not None else start
                found[(row["sensor"], day)] += int(row["n"] or 0)
        return found

    def one(self, select: str, source: str, sensor: str, since_ms: int, until_ms: int) -> int:
        rows = self.http.rows(f"SELECT {select} AS n FROM {source} WHERE \"sensor\" = {quote_str(sensor)}"
                              f" AND time >= {since_ms * _NS_PER_MS} AND time < {until_ms * _NS_PER_MS}")
        return sum(int(row["n"] or 0) for row in rows)

    def policy_s(self, rp: str) -> float | None:
        """A retention policy's duration (``inf`` for none), or ``None`` when the server does not say (2.x/3.x)."""
        try:
            rows = self.http.rows(f"SHOW RETENTION POLICIES ON {quote_ident(self.http.database)}")
        except InfluxError as error:
            _LOGGER.info("retention policies not readable, using the hub's settings: %s", error)
            return None
        for row in rows:
            if row.get("name") == rp:
                seconds = sum(float(n) * _UNIT_S[unit] for n, unit in _GO_DURATION.findall(str(row["duration"])))
                return seconds if seconds > 0 else float("inf")
        return None


def _retention(setting_s: float | None, policy_s: float | None) -> float:
    return min(float("inf") if setting_s is None else setting_s, float("inf") if policy_s is None else policy_s)


def verify_copy(source: SqliteSeriesStore, target: InfluxSeriesStore, tz: ZoneInfo, raw_retention_s: float | None,
                hourly_retention_s: float | None, now: float | None = None) -> Verification:
    """Compare the stores per sensor and local day (see the module docstring)."""
    now_ms = (time.time() if now is None else now) * 1000
    influx = _Influx(target, tz)
    result = Verification()
    raw_s = _retention(raw_retention_s, influx.policy_s(target.rp))
    raw_from = None if raw_s == float("inf") else _first_day_from(now_ms - raw_s * 1000, tz)
    if raw_from is not None:
        result.notes.append(f"raw readings and events compared from {raw_from.isoformat()} (raw retention"
                            f" {raw_s / 86_400:g} days)")
    _compare_raw(source, influx, "readings", 'count("synced")', influx.source(READING, target.rp), raw_from,
                 result)
    _compare_raw(source, influx, "events", 'count("seq")', influx.source(EVENT, target.rp), raw_from, result)
    if raw_from is None:
        return result
    if not target.hourly_rp:
        result.notes.append(f"days before {raw_from.isoformat()} not compared: no hourly retention policy")
        return result
    hourly_s = _retention(hourly_retention_s, influx.policy_s(target.hourly_rp))
    hourly_from = None if hourly_s == float("inf") else _first_day_from(now_ms - hourly_s * 1000, tz)
    _compare_hourly(source, influx, influx.source(READING_HOURLY, target.hourly_rp), hourly_from, raw_from, result)
    return result


def _compare_raw(source: SqliteSeriesStore, influx: _Influx, table: Literal["readings", "events"], select: str,
                 measurement: str, raw_from: dt.date | None, result: Verification) -> None:
    """Every day of each sensor's span in SQLite (within the raw window), its last day up to its last row."""
    sqlite: DayCounts = {}
    last_days: dict[str, tuple[dt.date, int]] = {}
    for sensor in source.sensors_in(table):
        span = source.span(table, sensor)
        if span is None:
            continue
        first = _day_of(span[0], influx.tz)
        if raw_from is not None:
            first = max(first, raw_from)
        last = _day_of(span[1], influx.tz)
        if first > last:
            continue
        last_days[sensor] = (last, span[1] + 1)
        for day in _days(first, last):
            until = span[1] + 1 if day == last else _midnight_ms(day + dt.timedelta(days=1), influx.tz)
            sqlite[(sensor, day)] = source.count_between(table, sensor, _midnight_ms(day, influx.tz), until)
    found: DayCounts = {}
    if sqlite:
        first_day = min(day for _, day in sqlite)
        found = influx.per_day(select, measurement, first_day, max(day for _, day in sqlite) + dt.timedelta(days=1))
        for sensor, (last, until_ms) in last_days.items():
            found[(sensor, last)] = influx.one(select, measurement, sensor, _midnight_ms(last, influx.tz), until_ms)
    _differences(table, sqlite, found, set(sqlite), result)


def _compare_hourly(source: SqliteSeriesStore, influx: _Influx, measurement: str, hourly_from: dt.date | None,
                    raw_from: dt.date, result: Verification) -> None:
    until_ms = _midnight_ms(raw_from, influx.tz)
    sqlite: DayCounts = defaultdict(int)
    for sensor in sorted(set(source.sensors_in("readings_hourly")) | set(source.sensors_in("readings"))):
        first_ms = -(2**53) if hourly_from is None else _midnight_ms(hourly_from, influx.tz)
        for aggregate in source.hourly(sensor, first_ms / 1000.0, until_ms / 1000.0):
            sqlite[(sensor, _day_of(round(aggregate.hour * 1000), influx.tz))] += aggregate.count
    if not sqlite:
        result.compared["hourly counts"] = (0, 0)
        return
    first_day = min(day for _, day in sqlite)
    found = influx.per_day('sum("count_value")', measurement, first_day, raw_from)
    result.notes.append(f"days from {first_day.isoformat()} to {(raw_from - dt.timedelta(days=1)).isoformat()}"
                        " compared by their hourly counts of valued readings")
    sensors = {sensor for sensor, _ in sqlite}
    _differences("hourly counts", sqlite, found, set(sqlite) | {key for key in found if key[0] in sensors}, result)


def _differences(kind: str, sqlite: DayCounts, influx: DayCounts, keys: set[tuple[str, dt.date]],
                 result: Verification) -> None:
    for sensor, day in sorted(keys):
        mine, theirs = sqlite.get((sensor, day), 0), influx.get((sensor, day), 0)
        if mine != theirs:
            result.differences.append(Difference(kind, sensor, day, mine, theirs))
    result.compared[kind] = (len(keys), sum(sqlite.values()))
