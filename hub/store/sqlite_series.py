"""Readings and events in SQLite (WAL): the embedded default for one school.

Readings use ``WITHOUT ROWID`` with primary key (sensor, ts): the layout measured
fastest for both bulk inserts and per-sensor range scans, and the key makes a
replayed reading overwrite itself instead of doubling.

Retention: ``downsample_and_prune`` (called hourly by the hub) folds readings older
than the raw retention into ``readings_hourly`` (min/max/mean/count per sensor and
hour) before deleting them, and drops aggregates older than their own retention.
Pruning cuts at whole hours, so an hour is either all raw or all aggregate.

Rollups: the weekly report asks for every sensor's hourly aggregates of a week, and
a ``GROUP BY hour`` over a week of raw rows (12 M for 200 probes at 10 s) took most
of the report's time. The same run first rolls every closed hour up into
``readings_rollup`` (min/max/sum/count), once, up to a watermark (``rolled_until``).
A reading written later into a rolled hour (an edge draining its backlog, a
re-stamp) marks that hour stale in the same transaction; a stale hour is read raw
until the next run computes it again. So an aggregate read from the rollups is
always the one the raw rows give, however late they came.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from hub.store.base import HOUR_S, HourlyAggregate, StoredEvent, StoredReading
from hub.store.hours import HourPart, combine_hours
from hub.store.sqlite import Migration, SqliteStore

_HOUR_MS = HOUR_S * 1000

#: The tables of the series store, as ``xiaoan store copy`` names them.
SeriesTable = Literal["readings", "events", "readings_hourly"]
#: Sums over a bucket of rows (see ``SqliteSeriesStore.fingerprints``).
Fingerprint = tuple[int | float, ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    sensor TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL,
    fault TEXT,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sensor, ts_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (device, boot_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts_ms);
CREATE INDEX IF NOT EXISTS events_by_sensor ON events (sensor, ts_ms);
CREATE TABLE IF NOT EXISTS readings_hourly (
    sensor TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    mean REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour_ms)
) WITHOUT ROWID;
"""

#: Aggregate one sensor's raw rows below a cutoff, merging with an aggregate already kept for that
#: hour (a reading replayed after its hour was pruned must not replace the hour with itself).
_FOLD = f"""
INSERT INTO readings_hourly (sensor, hour_ms, min, max, mean, count)
SELECT sensor, (ts_ms / {_HOUR_MS}) * {_HOUR_MS} AS hour, min(value), max(value), avg(value), count(value)
FROM readings WHERE sensor = ? AND ts_ms < ? AND value IS NOT NULL GROUP BY hour
ON CONFLICT (sensor, hour_ms) DO UPDATE SET
    min = min(readings_hourly.min, excluded.min),
    max = max(readings_hourly.max, excluded.max),
    mean = (readings_hourly.mean * readings_hourly.count + excluded.mean * excluded.count)
           / (readings_hourly.count + excluded.count),
    count = readings_hourly.count + excluded.count
"""

#: Distinct sensors by skipping along the primary key (a DISTINCT would scan every row).
_SENSORS = """
WITH RECURSIVE s(sensor) AS (
    SELECT (SELECT min(sensor) FROM {table})
    UNION ALL
    SELECT (SELECT min(sensor) FROM {table} WHERE sensor > s.sensor) FROM s WHERE s.sensor IS NOT NULL
) SELECT sensor FROM s WHERE sensor IS NOT NULL
"""

_ROLLUPS = """
CREATE TABLE readings_rollup (
    sensor TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    total REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour_ms)
) WITHOUT ROWID;
CREATE TABLE rollup_stale (
    sensor TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    PRIMARY KEY (sensor, hour_ms)
) WITHOUT ROWID;
CREATE TABLE rollup_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: One sensor's raw rows of ``[:since, :until)`` rolled up per hour, replacing what was there.
_ROLL = f"""
INSERT OR REPLACE INTO readings_rollup (sensor, hour_ms, min, max, total, count)
SELECT sensor, (ts_ms / {_HOUR_MS}) * {_HOUR_MS} AS hour, min(value), max(value), sum(value), count(value)
FROM readings WHERE sensor = :sensor AND ts_ms >= :since AND ts_ms < :until AND value IS NOT NULL GROUP BY hour
"""

_RAW_HOURS = f"""
SELECT (ts_ms / {_HOUR_MS}) * {_HOUR_MS} AS hour, min(value), max(value), sum(value), count(value)
FROM readings WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ? AND value IS NOT NULL GROUP BY hour
"""

#: How much of one sensor's history a rollup transaction takes (ms): a day, 8,640 readings at 10 s.
_ROLL_CHUNK_MS = 24 * _HOUR_MS

class SqliteSeriesStore(SqliteStore):
    STORE = "series"
    MIGRATIONS = (Migration(1, "readings, events and hourly aggregates (0.1.0)", _SCHEMA),
                  Migration(2, "hourly rollups of closed hours, kept up to date", _ROLLUPS))

    def __init__(self, path: Path, raw_retention_s: float | None = None,
                 hourly_retention_s: float | None = None) -> None:
        """``None`` retention keeps data forever (``downsample_and_prune`` then does nothing for it)."""
        super().__init__(path)
        self.raw_retention_s = raw_retention_s
        self.hourly_retention_s = hourly_retention_s

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        with self.transaction(durable=True) as db:  # confirmed to the device after the state commit
            db.executemany(
                "INSERT OR REPLACE INTO readings (sensor, ts_ms, value, fault, synced) VALUES (?, ?, ?, ?, ?)",
                [(r.sensor, round(r.ts * 1000), r.value, r.fault, int(r.clock_synced)) for r in readings],
            )
            db.executemany(
                "INSERT OR IGNORE INTO events (device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.device, e.boot_id, e.seq, round(e.ts * 1000), e.sensor, e.kind, e.state, e.detail,
                  int(e.clock_synced)) for e in events],
            )
            # Read here, holding the file's write lock: a run moving the mark on another connection
            # (the retention duty's thread) has either committed its new mark already or waits for this commit.
            below = _meta(db, "stale_below")
            stale = {(r.sensor, round(r.ts * 1000) // _HOUR_MS * _HOUR_MS) for r in readings
                     if round(r.ts * 1000) < below}
            if stale:
                db.executemany("INSERT OR IGNORE INTO rollup_stale (sensor, hour_ms) VALUES (?, ?)", sorted(stale))

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts_ms, value, fault, synced FROM readings WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ?"
                " ORDER BY ts_ms LIMIT ?",
                (sensor, round(since * 1000), round(until * 1000), limit),
            ).fetchall()
        return [StoredReading(sensor, ts / 1000.0, value, fault, bool(synced)) for ts, value, fault, synced in rows]

    def values(self, sensor: str, since: float, until: float, limit: int) -> list[tuple[float, float | None]]:
        with self._lock:
            return self._db.execute(
                "SELECT ts_ms / 1000.0, value FROM readings WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ?"
                " ORDER BY ts_ms LIMIT ?", (sensor, round(since * 1000), round(until * 1000), limit)).fetchall()

    def events(self, since: float, until: float, sensor: str | None = None, limit: int = 10_000,
               newest_first: bool = False) -> list[StoredEvent]:
        query = ("SELECT device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced FROM events"
                 " WHERE ts_ms >= ? AND ts_ms < ?")
        args: list[object] = [round(since * 1000), round(until * 1000)]
        if sensor is not None:
            query += " AND sensor = ?"
            args.append(sensor)
        query += f" ORDER BY ts_ms {'DESC' if newest_first else 'ASC'} LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [StoredEvent(d, b, s, ts / 1000.0, sn, k, st, det, bool(sy)) for d, b, s, ts, sn, k, st, det, sy in rows]

    def hourly(self, sensor: str, since: float, until: float) -> list[HourlyAggregate]:
        """Each hour's aggregate: rolled-up hours from the rollups, the rest (and stale hours) from raw rows.

        Whole hours inside ``[since, until)`` below the watermark are served by the rollups;
        a partial first or last hour, the hours since the watermark and stale hours are
        computed from the raw rows; hours already pruned come from ``readings_hourly``.
        The three never hold the same rows, so an hour's parts are combined.
        """
        since_ms, until_ms = round(since * 1000), round(until * 1000)
        first_hour = since_ms // _HOUR_MS * _HOUR_MS
        parts: list[HourPart] = []
        with self._lock:
            served_lo = -(-since_ms // _HOUR_MS) * _HOUR_MS
            served_hi = max(served_lo, min(_meta(self._db, "rolled_until"), until_ms // _HOUR_MS * _HOUR_MS))
            stale = [hour for (hour,) in self._db.execute(
                "SELECT hour_ms FROM rollup_stale WHERE sensor = ? AND hour_ms >= ? AND hour_ms < ?",
                (sensor, served_lo, served_hi))]
            if served_hi > served_lo:
                parts += self._db.execute(
                    "SELECT hour_ms, min, max, total, count FROM readings_rollup WHERE sensor = ? AND hour_ms >= ?"
                    " AND hour_ms < ?", (sensor, served_lo, served_hi)).fetchall()
                stale_set = set(stale)
                parts = [part for part in parts if part[0] not in stale_set]
            raw_spans = [(since_ms, min(served_lo, until_ms)), (max(served_hi, since_ms), until_ms)]
            raw_spans += [(hour, hour + _HOUR_MS) for hour in stale]
            for lo, hi in raw_spans:
                if hi > lo:
                    parts += self._db.execute(_RAW_HOURS, (sensor, lo, hi)).fetchall()
            parts += self._db.execute(
                "SELECT hour_ms, min, max, mean * count, count FROM readings_hourly WHERE sensor = ?"
                " AND hour_ms >= ? AND hour_ms < ?", (sensor, first_hour, until_ms)).fetchall()
        return combine_hours(sensor, parts)

    def hourly_many(self, sensors: Sequence[str], since: float, until: float) -> dict[str, list[HourlyAggregate]]:
        """``hourly`` of each sensor: closed hours come from the rollups, so one sensor after the other is quick."""
        return {sensor: self.hourly(sensor, since, until) for sensor in sensors}

    def first_values(self, sensors: Sequence[str], since: float, until: float) -> dict[str, tuple[float, float]]:
        """Each sensor's first valued reading in ``[since, until)`` (a log-sheet cell): one index seek each."""
        found: dict[str, tuple[float, float]] = {}
        with self._lock:
            for sensor in sensors:
                row = self._db.execute(
                    "SELECT ts_ms, value FROM readings WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ?"
                    " AND value IS NOT NULL ORDER BY ts_ms LIMIT 1",
                    (sensor, round(since * 1000), round(until * 1000))).fetchone()
                if row is not None:
                    found[sensor] = (row[0] / 1000.0, row[1])
        return found

    # -- rollups --------------------------------------------------------------------------------

    def roll_up(self, now: float) -> None:
        """Roll every hour closed by ``now`` up once, and recompute the stale ones.

        A day of one sensor per transaction, and the watermark (``rolled_until``) moved after
        each day: the first run after an upgrade rolls a year of history up without holding
        ingest for more than one sensor-day at a time, and a hub stopped half-way starts again
        from the last whole day. ``stale_below`` moves first, so a write during the run into
        the hours being rolled marks its hour stale: none slips between a rollup and the
        watermark's move.
        """
        target = int(now * 1000) // _HOUR_MS * _HOUR_MS
        with self.transaction() as db:
            start = _meta(db, "rolled_until")
            _set_meta(db, "stale_below", max(_meta(db, "stale_below"), target))
        sensors = self._sensors("readings")
        if start == 0:  # never rolled: begin at the oldest reading, not at 1970
            firsts = [span[0] for span in (self.span("readings", sensor) for sensor in sensors) if span]
            start = min(firsts, default=target) // _HOUR_MS * _HOUR_MS
        since = start
        while since < target:
            until = min(target, since + _ROLL_CHUNK_MS)
            for sensor in sensors:
                self._roll(sensor, since, until)
            with self.transaction() as db:
                _set_meta(db, "rolled_until", until)
            since = until
        with self._lock:
            stale = self._db.execute("SELECT sensor, hour_ms FROM rollup_stale WHERE hour_ms < ?",
                                     (max(start, target),)).fetchall()
        for sensor, hour in stale:
            with self.transaction() as db:
                db.execute("DELETE FROM rollup_stale WHERE sensor = ? AND hour_ms = ?", (sensor, hour))
                db.execute("DELETE FROM readings_rollup WHERE sensor = ? AND hour_ms = ?", (sensor, hour))
                db.execute(_ROLL, {"sensor": sensor, "since": hour, "until": hour + _HOUR_MS})

    def _roll(self, sensor: str, since: int, until: int) -> None:
        with self.transaction() as db:
            db.execute(_ROLL, {"sensor": sensor, "since": since, "until": until})

    def downsample_and_prune(self, now: float) -> None:
        """Roll closed hours up; fold raw readings past retention into hourly aggregates, then delete them.

        One sensor per transaction, so ingest waits for at most one sensor's share.
        """
        self.roll_up(now)
        if self.raw_retention_s is not None:
            cutoff = int((now - self.raw_retention_s) * 1000) // _HOUR_MS * _HOUR_MS
            for sensor in self._sensors("readings"):
                self._fold(sensor, cutoff)
            with self._lock:
                self._db.execute("DELETE FROM events WHERE ts_ms < ?", (cutoff,))
        if self.hourly_retention_s is not None:
            cutoff = int((now - self.hourly_retention_s) * 1000)
            for sensor in self._sensors("readings_hourly"):
                with self._lock:
                    self._db.execute("DELETE FROM readings_hourly WHERE sensor = ? AND hour_ms < ?",
                                     (sensor, cutoff))

    def _sensors(self, table: str) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute(_SENSORS.format(table=table))]

    def _fold(self, sensor: str, cutoff_ms: int) -> None:
        """Fold and delete a sensor's raw rows before the cutoff (their rollups go with them)."""
        with self.transaction() as db:
            db.execute(_FOLD, (sensor, cutoff_ms))
            db.execute("DELETE FROM readings WHERE sensor = ? AND ts_ms < ?", (sensor, cutoff_ms))
            db.execute("DELETE FROM readings_rollup WHERE sensor = ? AND hour_ms < ?", (sensor, cutoff_ms))
            db.execute("DELETE FROM rollup_stale WHERE sensor = ? AND hour_ms < ?", (sensor, cutoff_ms))

    # -- export, for `xiaoan store copy` ---------------------------------------------------------

    def readings_after(self, after: tuple[str, int] | None, limit: int) -> list[StoredReading]:
        """The next ``limit`` readings in (sensor, ts) order after the key ``(sensor, ts_ms)``."""
        sensor, ts_ms = after or ("", -(2**62))
        with self._lock:
            rows = self._db.execute(
                "SELECT sensor, ts_ms, value, fault, synced FROM readings WHERE (sensor, ts_ms) > (?, ?)"
                " ORDER BY sensor, ts_ms LIMIT ?", (sensor, ts_ms, limit)).fetchall()
        return [StoredReading(s, ts / 1000.0, v, f, bool(sy)) for s, ts, v, f, sy in rows]

    def events_after(self, after: tuple[str, str, int] | None, limit: int) -> list[StoredEvent]:
        """The next ``limit`` events in (device, boot_id, seq) order after that key."""
        device, boot_id, seq = after or ("", "", -(2**62))
        with self._lock:
            rows = self._db.execute(
                "SELECT device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced FROM events"
                " WHERE (device, boot_id, seq) > (?, ?, ?) ORDER BY device, boot_id, seq LIMIT ?",
                (device, boot_id, seq, limit)).fetchall()
        return [StoredEvent(d, b, s, ts / 1000.0, sn, k, st, det, bool(sy)) for d, b, s, ts, sn, k, st, det, sy in rows]

    def hourly_after(self, after: tuple[str, int] | None, limit: int) -> list[HourlyAggregate]:
        """The kept aggregates (hours whose raw readings were pruned) in (sensor, hour) order."""
        sensor, hour_ms = after or ("", -(2**62))
        with self._lock:
            rows = self._db.execute(
                "SELECT sensor, hour_ms, min, max, mean, count FROM readings_hourly"
                " WHERE (sensor, hour_ms) > (?, ?) ORDER BY sensor, hour_ms LIMIT ?",
                (sensor, hour_ms, limit)).fetchall()
        return [HourlyAggregate(s, h / 1000.0, lo, hi, m, n) for s, h, lo, hi, m, n in rows]

    def sensors_in(self, table: SeriesTable) -> list[str]:
        """The sensors with rows in ``table`` (an index skip per sensor, not a scan)."""
        return self._sensors(table)

    def fingerprints(self, table: SeriesTable, sensor: str, width_ms: int) -> dict[int, Fingerprint]:
        """One sensor's rows in ``table`` per time bucket ``floor(ts_ms / width_ms)``, each summed up.

        For ``xiaoan store copy``: a bucket whose fingerprint differs from the one recorded when it
        was copied has changed since (rows added, whatever their time; aggregates merged; readings
        re-stamped, replaced or pruned). One range query per bucket that has rows (a seek finds the
        next): rows stream in key order, several times faster than a GROUP BY on the bucket, and the
        same rows always give the same sums, floating-point ones included.
        """
        ts = "hour_ms" if table == "readings_hourly" else "ts_ms"
        sums = {"readings": "total(value)", "events": "sum(seq)", "readings_hourly": "sum(count), total(mean)"}[table]
        query = (f"SELECT count(*), sum({ts} - :lo), {sums} FROM {table}"
                 f" WHERE sensor = :sensor AND {ts} >= :lo AND {ts} < :lo + :w")
        found: dict[int, Fingerprint] = {}
        cursor = -(2**62)
        while True:
            with self._lock:
                first = self._db.execute(f"SELECT min({ts}) FROM {table} WHERE sensor = ? AND {ts} >= ?",
                                         (sensor, cursor)).fetchone()[0]
                if first is None:
                    return found
                bucket = first // width_ms
                found[bucket] = tuple(self._db.execute(
                    query, {"sensor": sensor, "lo": bucket * width_ms, "w": width_ms}).fetchone())
            cursor = (bucket + 1) * width_ms

    def span(self, table: Literal["readings", "events"], sensor: str) -> tuple[int, int] | None:
        """The first and last ``ts_ms`` of one sensor's readings or events, if it has any."""
        with self._lock:
            first, last = self._db.execute(f"SELECT min(ts_ms), max(ts_ms) FROM {table} WHERE sensor = ?",
                                           (sensor,)).fetchone()
        return None if first is None else (first, last)

    def count_between(self, table: Literal["readings", "events"], sensor: str, since_ms: int, until_ms: int) -> int:
        """How many readings or events of one sensor lie in [since_ms, until_ms)."""
        with self._lock:
            found: int = self._db.execute(
                f"SELECT count(*) FROM {table} WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ?",
                (sensor, since_ms, until_ms)).fetchone()[0]
        return found


def _meta(db: sqlite3.Connection, key: str) -> int:
    row = db.execute("SELECT value FROM rollup_meta WHERE key = ?", (key,)).fetchone()
    return 0 if row is None else int(row[0])


def _set_meta(db: sqlite3.Connection, key: str, value: int) -> None:
    db.execute("INSERT INTO rollup_meta (key, value) VALUES (?, ?)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
