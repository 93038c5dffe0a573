"""Readings and events in InfluxDB, for districts and schools that already run InfluxDB and Grafana.

Layout (what the Grafana dashboards query):

- ``reading``: tags ``sensor`` (the hub's sensor key), ``device``, ``site``;
  fields ``value`` (float, absent for a fault), ``fault`` (string, only for a fault),
  ``synced`` (bool). A point is keyed by its tags and timestamp, so a reading
  written twice is one point — the same idempotence the SQLite key gives.
- ``event``: tags ``sensor``, ``device``, ``kind``, ``site``; fields ``state``,
  ``seq``, ``boot_id``, ``detail`` (JSON), ``synced``. Two events of one sensor may
  share a millisecond, so the event's ``seq`` is folded into the sub-millisecond
  nanoseconds of its timestamp: the message identity (device, boot_id, seq) maps to
  one point, a replay overwrites it, and two different events never collide.
  Reads truncate to milliseconds, as the SQLite store keeps them.
- ``reading_hourly`` (long retention policy): ``min_value``, ``max_value``,
  ``mean_value``, ``count_value`` per sensor and hour, from the continuous query.
  ``hourly`` answers *closed* hours from it (the query's last run over an hour is a
  day after it; ``CLOSED_AFTER_S``) and only the rest from raw readings: aggregating a
  week of 200 sensors at 10 s raw takes influxd about 9 CPU-s, the rollups 0.2 s.
  Readings written too late for the query's last run (an edge's backlog after a long
  outage) are folded into their hours by the store itself (``backfill`` of those
  hours, at most once a minute while writing, and before any ``hourly`` read), so a
  closed hour stays exact. A closed hour without a rollup (influxd was down when the
  query should have run) is read raw.
- Dashboard samples (``health``, ``limit``, ``alert``): see ``hub/store/upkeep.py``.

Line protocol is built with ``influxdb-client``'s own escaping and field formatting
(what ``Point.to_line_protocol`` calls) and sent through the v1 endpoints
(``influx_http``), which 1.x, 2.x and 3.x all serve. A ``Point`` per reading cost
about 7 µs, most of it escaping the same tags again; ``LineEncoder`` asks the
package once per series and once per distinct field set (0.4 µs a reading).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from influxdb_client.client.write import point as influx_point

from hub.store.base import HOUR_S, HourlyAggregate, Sample, StoredEvent, StoredReading
from hub.store.influx_http import InfluxError, InfluxHttp, quote_ident, quote_str
from hub.store.influx_schema import EVENT, LATE_HOUR, READING, READING_HOURLY, RESAMPLE_FOR_S, backfill, setup

_LOGGER = logging.getLogger(__name__)
_MS = 1_000_000  # nanoseconds
#: An hour's rollup is final this long after the hour began: the continuous query's last run over it
#: is ``RESAMPLE_FOR`` later, plus an hour's slack for a run that starts late.
CLOSED_AFTER_S = RESAMPLE_FOR_S + HOUR_S
#: A reading this close to its hour's last continuous-query run (or past it) is backfilled by the store.
LATE_AFTER_S = RESAMPLE_FOR_S - HOUR_S
#: Backfills of late hours while writing run at most this often (reads flush at once).
LATE_FLUSH_S = 60.0
#: Sensors per query in the many-sensor reads (keeps a GET's URL a few kB).
SENSORS_PER_QUERY = 100
#: Points per HTTP request: InfluxDB's own recommendation is 5,000–10,000.
BATCH_POINTS = 5000


FieldValue = float | int | str | bool
Tags = tuple[tuple[str, str | None], ...]
Fields = tuple[tuple[str, FieldValue | None], ...]

#: Cached series keys and field sets before a cache starts over (a few MB at most).
CACHE_ENTRIES = 20_000


class LineEncoder:
    """Line protocol by influxdb-client's rules, asking the package only for what it has not seen.

    The series key (measurement and sorted, escaped tags) is the same for every reading
    of a sensor, and a sensor's field sets repeat (a fridge reports a few dozen distinct
    values a day): both are formatted by the package once and kept. Only the timestamp
    (an integer, written as the package writes integer nanoseconds) is new each time.
    """

    def __init__(self, max_entries: int = CACHE_ENTRIES) -> None:
        self._keys: dict[tuple[str, Tags], str] = {}
        self._fields: dict[tuple[tuple[str, type, FieldValue | None], ...], str] = {}
        self._max = max_entries

    def key(self, measurement: str, tags: Tags) -> str:
        """``measurement,tag=value,… `` (trailing space included); empty and ``None`` tags are left out."""
        cached = self._keys.get((measurement, tags))
        if cached is None:
            if len(self._keys) >= self._max:
                self._keys.clear()
            escaped: str = influx_point._escape_key(measurement, influx_point._ESCAPE_MEASUREMENT)
            appended: str = influx_point._append_tags(dict(tags))  # type: ignore[no-untyped-call]  # untyped package
            cached = self._keys[(measurement, tags)] = escaped + appended
        return cached

    def fields(self, fields: Fields, cache: bool = True) -> str:
        """``name=value,…``; ``None`` fields are left out. ``cache=False`` for one-off values (event details)."""
        if not cache:
            text: str = influx_point._append_fields(dict(fields), {})  # type: ignore[no-untyped-call]
            return text
        # The type is part of the key: 4.0 == 4 == True in a dict, but they are three field types.
        lookup = tuple((name, type(value), value) for name, value in fields)
        cached = self._fields.get(lookup)
        if cached is None:
            if len(self._fields) >= self._max:
                self._fields.clear()
            cached = self._fields[lookup] = influx_point._append_fields(  # type: ignore[no-untyped-call]
                dict(fields), {})
        return cached

    def line(self, measurement: str, tags: Tags, fields: Fields, ts_ns: int, cache_fields: bool = True) -> str:
        """One point; empty when every field is ``None`` (as ``Point.to_line_protocol`` gives)."""
        body = self.fields(fields, cache_fields)
        return f"{self.key(measurement, tags)}{body} {ts_ns}" if body else ""


def _ns(ts: float) -> int:
    """Whole milliseconds, in nanoseconds: the resolution both stores keep."""
    return round(ts * 1000) * _MS


class InfluxSeriesStore:
    def __init__(self, http: InfluxHttp, retention_policy: str, hourly_retention_policy: str | None = None,
                 site_of: Callable[[str], str | None] | None = None, batch_points: int = BATCH_POINTS,
                 clock: Callable[[], float] = time.time) -> None:
        """``site_of`` maps a device to its site for the ``site`` tag (readings carry only the device)."""
        self.http = http
        self.rp = retention_policy
        self.hourly_rp = hourly_retention_policy
        self._site_of = site_of or (lambda _device: None)
        self._batch_points = batch_points
        self._encoder = LineEncoder()
        #: What the store takes for now (which hours are closed); a benchmark sets the time it simulates.
        self.clock = clock
        self._late_hours: set[int] = set()  # hours whose rollup missed readings written since
        self._late_lock = threading.Lock()
        self._late_flushed = clock()

    def setup(self, raw_retention_s: float | None, hourly_retention_s: float | None) -> None:
        """Create the database, retention policies and continuous query (InfluxDB 1.x, admin rights)."""
        setup(self.http, self.rp, self.hourly_rp, raw_retention_s, hourly_retention_s)

    def _from(self, measurement: str, rp: str | None = None) -> str:
        return f"{quote_ident(self.http.database)}.{quote_ident(rp or self.rp)}.{quote_ident(measurement)}"

    # -- writing ---------------------------------------------------------------------------------

    def _tags(self, device: str, **tags: str) -> Tags:
        return (*tags.items(), ("device", device), ("site", self._site_of(device)))

    def _reading_tags(self, sensor: str) -> Tags:
        """A sensor's tags, its site looked up once per sensor and batch (not once per reading)."""
        return self._tags(sensor.split("/", 1)[0], sensor=sensor)

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        encode = self._encoder.line
        tags_of: dict[str, Tags] = {}
        lines = []
        oldest = float("inf")
        for r in readings:
            oldest = min(oldest, r.ts)
            tags = tags_of.get(r.sensor)
            if tags is None:
                tags = tags_of[r.sensor] = self._reading_tags(r.sensor)
            # always a float: "4" would make an integer field, and the next "4.5" a type conflict
            fields: Fields = (("value", None if r.value is None else float(r.value)), ("fault", r.fault),
                              ("synced", r.clock_synced))
            lines.append(encode(READING, tags, fields, round(r.ts * 1000) * _MS))
        for e in events:
            fields = (("state", e.state), ("seq", int(e.seq)), ("boot_id", e.boot_id), ("detail", e.detail),
                      ("synced", e.clock_synced))
            lines.append(encode(EVENT, self._tags(e.device, sensor=e.sensor, kind=e.kind), fields,
                                _ns(e.ts) + e.seq % _MS, cache_fields=False))
        late: set[int] = set()
        if self.hourly_rp and oldest < self.clock() - LATE_AFTER_S:
            limit = self.clock() - LATE_AFTER_S
            late = {int(r.ts) // HOUR_S * HOUR_S for r in readings if r.ts < limit}
            # Durable with the readings (same write, before the hub acknowledges them): a hub that
            # dies before the backfill finds these markers at its next maintenance round.
            lines.extend(self._late_marker(hour, pending=True) for hour in late)
        self._write_lines(lines, self.rp)
        if late:
            self._note_late(late)

    # -- readings too late for the continuous query -----------------------------------------------

    def _late_marker(self, hour: int, pending: bool) -> str:
        # One series; the point's time is the hour, so marking it done overwrites the same point.
        return self._encoder.line(LATE_HOUR, (), (("hour", hour), ("pending", pending)), _ns(hour),
                                  cache_fields=False)

    def _persisted_late_hours(self) -> set[int]:
        rows = self.http.rows(f'SELECT "hour", "pending" FROM {self._from(LATE_HOUR)}')
        return {int(row["hour"]) for row in rows if row["pending"]}

    def _note_late(self, hours: Iterable[int]) -> None:
        """Remember the hours of readings the continuous query may no longer see; backfill them now and then."""
        with self._late_lock:
            self._late_hours.update(hours)
            due = self.clock() - self._late_flushed >= LATE_FLUSH_S
        if due:
            try:
                self.flush_late()
            except InfluxError as error:  # the readings are stored; the hours stay noted for the next try
                _LOGGER.warning("backfilling late hours failed, will retry: %s", error)

    def flush_late(self, persisted: bool = False) -> None:
        """Recompute the rollups of hours that received late readings (contiguous hours in one statement).

        ``persisted`` also takes the hours marked in the database, by this process or one that
        died before it got to them (the maintenance round does; reads take only this process's).
        """
        found = self._persisted_late_hours() if persisted and self.hourly_rp else set()
        with self._late_lock:
            hours, self._late_hours = sorted(self._late_hours | found), set()
            self._late_flushed = self.clock()
        spans: list[list[int]] = []
        for hour in hours:
            if spans and spans[-1][1] == hour:
                spans[-1][1] = hour + HOUR_S
            else:
                spans.append([hour, hour + HOUR_S])
        for done, (start, end) in enumerate(spans):
            try:
                self.backfill_hourly(start, end)
            except InfluxError:
                with self._late_lock:
                    self._late_hours.update(h for s, e in spans[done:] for h in range(s, e, HOUR_S))
                raise
        if hours:
            self._write_lines([self._late_marker(hour, pending=False) for hour in hours], self.rp)

    def downsample_and_prune(self, now: float) -> None:
        """The hub's maintenance round: late hours noted by this process reach their rollups (pruning is
        the server's retention policy)."""
        self.flush_late(persisted=True)

    def write_samples(self, samples: Sequence[Sample]) -> None:
        self._write_lines([self._encoder.line(s.measurement, tuple(s.tags.items()), tuple(s.fields.items()),
                                              _ns(s.ts), cache_fields=False) for s in samples], self.rp)

    def write_hourly(self, aggregates: Sequence[HourlyAggregate]) -> None:
        """Store aggregates kept elsewhere (the SQLite store's pruned hours, by ``xiaoan store copy``)."""
        if not self.hourly_rp:
            return
        lines = []
        for a in aggregates:
            fields: Fields = (("min_value", float(a.min)), ("max_value", float(a.max)),
                              ("mean_value", float(a.mean)), ("count_value", int(a.count)))
            lines.append(self._encoder.line(READING_HOURLY, self._reading_tags(a.sensor), fields, _ns(a.hour),
                                            cache_fields=False))
        self._write_lines(lines, self.hourly_rp)

    def backfill_hourly(self, since: float, until: float) -> None:
        """Recompute hourly aggregates of a range from raw readings (after a copy or a long outage)."""
        if self.hourly_rp:
            first = int(since) // HOUR_S * HOUR_S
            backfill(self.http, self.rp, self.hourly_rp, _ns(first), _ns(until))

    def _write_lines(self, lines: list[str], rp: str) -> None:
        lines = [text for text in lines if text]  # a point without fields is no point
        for start in range(0, len(lines), self._batch_points):
            self.http.write(lines[start:start + self._batch_points], rp)

    # -- reading back ----------------------------------------------------------------------------

    def _range(self, since: float, until: float) -> str:
        return f"time >= {_ns(since)} AND time < {_ns(until)}"

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]:
        rows = self.http.rows(
            f'SELECT "value", "fault", "synced" FROM {self._from(READING)} WHERE "sensor" = {quote_str(sensor)}'
            f" AND {self._range(since, until)} ORDER BY time ASC LIMIT {int(limit)}")
        # JSON renders 4.0 as 4: values are floats again here, as the SQLite store returns them.
        return [StoredReading(sensor, row["time"] / 1000.0, _float(row["value"]), row["fault"],
                              bool(row["synced"]) if row["synced"] is not None else True) for row in rows]

    def events(self, since: float, until: float, sensor: str | None = None, limit: int = 10_000,
               newest_first: bool = False) -> list[StoredEvent]:
        where = self._range(since, until)
        if sensor is not None:
            where += f' AND "sensor" = {quote_str(sensor)}'
        rows = self.http.rows(
            f'SELECT "device", "boot_id", "seq", "sensor", "kind", "state", "detail", "synced"'
            f" FROM {self._from(EVENT)} WHERE {where} ORDER BY time {'DESC' if newest_first else 'ASC'}"
            f" LIMIT {int(limit)}")
        return [StoredEvent(row["device"], row["boot_id"], int(row["seq"]), row["time"] / 1000.0, row["sensor"],
                            row["kind"], row["state"], row["detail"] or "{}",
                            bool(row["synced"]) if row["synced"] is not None else True) for row in rows]

    def hourly(self, sensor: str, since: float, until: float) -> list[HourlyAggregate]:
        return self.hourly_many([sensor], since, until)[sensor]

    def hourly_many(self, sensors: Sequence[str], since: float, until: float) -> dict[str, list[HourlyAggregate]]:
        """``hourly`` of many sensors in a few queries: closed hours from the rollups, the rest raw."""
        found: dict[str, dict[int, HourlyAggregate]] = {sensor: {} for sensor in sensors}
        first = int(since // HOUR_S) * HOUR_S
        first_full = first if since == first else first + HOUR_S
        last_full = int(until // HOUR_S) * HOUR_S
        if not self.hourly_rp:
            self._raw_into(found, list(sensors), since, until)
            return _sorted(found)
        self.flush_late()
        closed_end = max(first_full, min(last_full, (int(self.clock() - CLOSED_AFTER_S) // HOUR_S + 1) * HOUR_S))
        # The first hour's rollup too: where its raw readings have expired it is the best there is.
        for row in self._many(
                sensors, 'SELECT "min_value", "max_value", "mean_value", "count_value"'
                f" FROM {self._from(READING_HOURLY, self.hourly_rp)}"
                f' WHERE {{sensors}} AND {self._range(first, closed_end)} GROUP BY "sensor"'):
            if row["sensor"] in found:
                found[row["sensor"]][row["time"]] = _aggregate(row["sensor"], row, "min_value", "max_value",
                                                               "mean_value", "count_value")
        # Raw readings, where still kept, are exact: the part of an hour at either end, the hours whose
        # rollup may still change, and closed hours that have no rollup.
        if first_full > since:
            self._raw_into(found, list(sensors), since, min(first_full, until))
        if closed_end < until:
            self._raw_into(found, list(sensors), max(closed_end, since), until)
        for sensor, hours in found.items():
            missing = [h for h in range(first_full, closed_end, HOUR_S) if h * 1000 not in hours]
            if missing:
                self._raw_into(found, [sensor], missing[0], missing[-1] + HOUR_S)
        return _sorted(found)

    def _raw_into(self, found: dict[str, dict[int, HourlyAggregate]], sensors: list[str], since: float,
                  until: float) -> None:
        for row in self._many(
                sensors, f'SELECT min("value"), max("value"), mean("value"), count("value") FROM {self._from(READING)}'
                f' WHERE {{sensors}} AND {self._range(since, until)} GROUP BY "sensor", time(1h) fill(none)'):
            if row["sensor"] in found:
                found[row["sensor"]][row["time"]] = _aggregate(row["sensor"], row, "min", "max", "mean", "count")

    def first_values(self, sensors: Sequence[str], since: float, until: float) -> dict[str, tuple[float, float]]:
        """Each sensor's first valued reading in [since, until) (time, value), in one query per 100 sensors."""
        return {row["sensor"]: (row["time"] / 1000.0, float(row["first"])) for row in self._many(
            sensors, f'SELECT first("value") FROM {self._from(READING)} WHERE {{sensors}}'
            f' AND {self._range(since, until)} GROUP BY "sensor"') if row["first"] is not None}

    def _many(self, sensors: Sequence[str], statement: str) -> list[dict[str, Any]]:
        """``statement`` (with ``{sensors}`` for the tag condition) over the sensors, 100 per query."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(sensors), SENSORS_PER_QUERY):
            part = sensors[start:start + SENSORS_PER_QUERY]
            condition = "(" + " OR ".join(f'"sensor" = {quote_str(sensor)}' for sensor in part) + ")"
            rows.extend(self.http.rows(statement.replace("{sensors}", condition)))
        return rows

    def close(self) -> None:
        self.http.close()


def _sorted(found: dict[str, dict[int, HourlyAggregate]]) -> dict[str, list[HourlyAggregate]]:
    return {sensor: [hours[hour] for hour in sorted(hours)] for sensor, hours in found.items()}


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _aggregate(sensor: str, row: dict[str, Any], lo: str, hi: str, mean: str, count: str) -> HourlyAggregate:
    return HourlyAggregate(sensor, row["time"] / 1000.0, float(row[lo]), float(row[hi]), float(row[mean]),
                           int(row[count]))
