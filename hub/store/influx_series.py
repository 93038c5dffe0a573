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
- Dashboard samples (``health``, ``limit``, ``alert``): see ``hub/store/feed.py``.

Line protocol is built with ``influxdb-client``'s own escaping and field formatting
(what ``Point.to_line_protocol`` calls) and sent through the v1 endpoints
(``influx_http``), which 1.x, 2.x and 3.x all serve. A ``Point`` per reading cost
about 7 µs, most of it escaping the same tags again; ``LineEncoder`` asks the
package once per series and once per distinct field set (0.4 µs a reading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from influxdb_client.client.write import point as influx_point

from hub.store.base import HOUR_S, HourlyAggregate, Sample, StoredEvent, StoredReading
from hub.store.influx_http import InfluxHttp, quote_ident, quote_str
from hub.store.influx_schema import EVENT, READING, READING_HOURLY, backfill, setup

_MS = 1_000_000  # nanoseconds
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
                 site_of: Callable[[str], str | None] | None = None, batch_points: int = BATCH_POINTS) -> None:
        """``site_of`` maps a device to its site for the ``site`` tag (readings carry only the device)."""
        self.http = http
        self.rp = retention_policy
        self.hourly_rp = hourly_retention_policy
        self._site_of = site_of or (lambda _device: None)
        self._batch_points = batch_points
        self._encoder = LineEncoder()

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
        for r in readings:
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
        self._write_lines(lines, self.rp)

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
        by_hour: dict[int, HourlyAggregate] = {}
        if self.hourly_rp:
            first = int(since) // HOUR_S * HOUR_S
            for row in self.http.rows(
                    f'SELECT "min_value", "max_value", "mean_value", "count_value"'
                    f" FROM {self._from(READING_HOURLY, self.hourly_rp)} WHERE \"sensor\" = {quote_str(sensor)}"
                    f" AND {self._range(first, until)}"):
                by_hour[row["time"]] = _aggregate(sensor, row, "min_value", "max_value", "mean_value",
                                                  "count_value")
        # Raw readings, where still kept, are exact (the aggregate may predate a late reading).
        for row in self._raw_hourly(sensor, since, until):
            by_hour[row["time"]] = _aggregate(sensor, row, "min", "max", "mean", "count")
        return [by_hour[hour] for hour in sorted(by_hour)]

    def _raw_hourly(self, sensor: str, since: float, until: float) -> Iterator[dict[str, Any]]:
        yield from self.http.rows(
            f'SELECT min("value"), max("value"), mean("value"), count("value") FROM {self._from(READING)}'
            f' WHERE "sensor" = {quote_str(sensor)} AND {self._range(since, until)} GROUP BY time(1h) fill(none)')

    def close(self) -> None:
        self.http.close()


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _aggregate(sensor: str, row: dict[str, Any], lo: str, hi: str, mean: str, count: str) -> HourlyAggregate:
    return HourlyAggregate(sensor, row["time"] / 1000.0, float(row[lo]), float(row[hi]), float(row[mean]),
                           int(row[count]))
