"""Readings and events in PostgreSQL: a school hub's series store where the school or its district runs one.

Chosen with ``XIAOAN_STORE=postgresql`` and ``XIAOAN_POSTGRES_DSN`` (docs/postgresql.md).
The same ``SeriesStore`` as SQLite and InfluxDB: a reading is keyed by (sensor,
millisecond), so a replayed reading overwrites itself; an event by (device, boot,
seq), so a replayed event is stored once. The hub's state (alarms, devices, accounts,
checks) stays in its SQLite files next to it, so the hub starts, serves its pages and
runs its timers when the database server is away. Readings and events wait at the
broker and on the Pi until it is back (the hub confirms no batch it could not write,
and judges a batch only once it is stored), and the hub raises its critical
``store_cannot_write`` alarm meanwhile: a write that cannot reach the server raises
``SeriesUnreachable``.

Layout:

- ``readings`` is partitioned by the month (UTC) of its millisecond column; a
  month's partition is made by the write that brings its first reading. Past the
  raw retention, readings are folded into ``readings_hourly`` and deleted an hour
  at a time (the way the SQLite store cuts, so an hour is either all raw or all
  aggregate and ``hourly`` gives the same answer before and after), and a month
  wholly past it is dropped: its space goes back to the disk at once, with no
  table bloat left for VACUUM.
- A BRIN index on the time (a few pages per month) finds the rows below the cut
  without an index as large as the primary key.
- The primary key carries the value (``INCLUDE``): a sensor's rows lie one per page
  among the other sensors', and an hour's aggregate is read from the index alone
  once the hourly maintenance has vacuumed what was written.
- ``events`` are few (doors, gates, power): one table, pruned with ``DELETE``.

Hourly aggregates are computed from the raw rows when asked (with the kept
aggregates of pruned hours added): the index on (sensor, ts) makes a sensor's week
a range scan, and there are no rollups to keep right when late readings arrive.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import psycopg
from psycopg import sql

from hub.pg.months import MonthPartitions, month_of, month_span
from hub.pg.pool import Connection, Connections
from hub.pg.schema import Migration, check_steps, migrate
from hub.store.base import HOUR_S, HourlyAggregate, SeriesUnreachable, StoredEvent, StoredReading
from hub.store.hours import HourPart, combine_hours

_LOGGER = logging.getLogger(__name__)

STORE = "series"
_HOUR_MS = HOUR_S * 1000
#: The advisory lock writes hold shared and the pruner alone ("xiaoan-s" as bytes): no month is dropped
#: between a write making its partition and committing its readings.
PARTITION_LOCK = 0x7869_616F_616E_2D73
PARTITIONS = MonthPartitions("readings")

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "readings by month, events and hourly aggregates", """
CREATE TABLE readings (
    sensor TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    value DOUBLE PRECISION,
    fault TEXT,
    synced BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (sensor, ts_ms) INCLUDE (value)
) PARTITION BY RANGE (ts_ms);
CREATE INDEX readings_by_time ON readings USING brin (ts_ms);
CREATE TABLE events (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    synced BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (device, boot_id, seq)
);
CREATE INDEX events_by_time ON events (ts_ms);
CREATE INDEX events_by_sensor ON events (sensor, ts_ms);
CREATE TABLE readings_hourly (
    sensor TEXT NOT NULL,
    hour_ms BIGINT NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    mean DOUBLE PRECISION NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (sensor, hour_ms)
);
-- 'pruned_below': the raw cut of the last prune (ms); rows below it were folded into readings_hourly.
CREATE TABLE series_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
"""),
)
check_steps(STORE, MIGRATIONS)

#: Merge folded hours into the kept aggregates: a reading replayed after its hour was pruned must not
#: replace the hour with itself (the SQLite store's ``_FOLD`` does the same).
_MERGE_HOURLY = """
ON CONFLICT (sensor, hour_ms) DO UPDATE SET
    min = least(readings_hourly.min, excluded.min),
    max = greatest(readings_hourly.max, excluded.max),
    mean = (readings_hourly.mean * readings_hourly.count + excluded.mean * excluded.count)
           / (readings_hourly.count + excluded.count),
    count = readings_hourly.count + excluded.count
"""

#: Fold one whole partition (the table is locked): its valued rows per sensor and hour.
_FOLD_PARTITION = f"""
INSERT INTO readings_hourly (sensor, hour_ms, min, max, mean, count)
SELECT sensor, ts_ms / {_HOUR_MS} * {_HOUR_MS} AS hour, min(value), max(value), avg(value), count(value)
FROM {{partition}} WHERE value IS NOT NULL GROUP BY sensor, hour
""" + _MERGE_HOURLY

#: Delete the raw rows below the cut and fold exactly the rows deleted: a reading committed meanwhile
#: is either among them or left for the next run, never deleted unfolded.
_FOLD_BELOW = f"""
WITH gone AS (DELETE FROM readings WHERE ts_ms < %s RETURNING sensor, ts_ms, value)
INSERT INTO readings_hourly (sensor, hour_ms, min, max, mean, count)
SELECT sensor, ts_ms / {_HOUR_MS} * {_HOUR_MS} AS hour, min(value), max(value), avg(value), count(value)
FROM gone WHERE value IS NOT NULL GROUP BY sensor, hour
""" + _MERGE_HOURLY

_RAW_HOURS = f"""
SELECT sensor, ts_ms / {_HOUR_MS} * {_HOUR_MS} AS hour, min(value), max(value), sum(value), count(value)
FROM readings WHERE sensor = ANY(%s) AND ts_ms >= %s AND ts_ms < %s AND value IS NOT NULL GROUP BY sensor, hour
"""

_KEPT_HOURS = """
SELECT sensor, hour_ms, min, max, mean * count, count FROM readings_hourly
WHERE sensor = ANY(%s) AND hour_ms >= %s AND hour_ms < %s
"""

_UNION_HOURS = f"{_RAW_HOURS} UNION ALL {_KEPT_HOURS}"

_SET_PRUNED_BELOW = """
INSERT INTO series_meta (key, value) VALUES ('pruned_below', %s)
ON CONFLICT (key) DO UPDATE SET value = greatest(series_meta.value, excluded.value)
"""

_EVENT_COLUMNS = "device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced"
#: SQLSTATEs of a server going away (administrator, crash, or immediate shutdown; not yet accepting).
_GONE = frozenset({"57P01", "57P02", "57P03"})
#: Libpq settings of every connection: a server gone silent (a cut cable, not a clean stop) is noticed
#: within about 30 s instead of the kernel's 15 min of retransmissions; a commit is on disk when it returns.
_CONNECTION_OPTIONS: dict[str, str | int] = {
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
    "tcp_user_timeout": 30_000, "options": "-c synchronous_commit=on"}


def _month_ms(month: dt.date) -> tuple[int, int]:
    start, end = month_span(month)
    return round(start * 1000), round(end * 1000)


def _ms(ts: float) -> int:
    return round(ts * 1000)


class PostgresSeriesStore:
    """``SeriesStore`` (with ``Maintained``, ``ManySensors`` and ``TimedValues``) on a PostgreSQL database."""

    def __init__(self, dsn: str, raw_retention_s: float | None = None, hourly_retention_s: float | None = None,
                 pool_size: int = 4) -> None:
        """Brings the tables to this release's schema; ``None`` retention keeps data forever.

        A server that cannot be reached yet does not stop the hub: its timers and most of its pages
        need only its SQLite state. The schema is brought up at the first use that reaches the
        server; until then every write fails, so the hub confirms nothing and raises its store
        alarm. A database written by a newer release is refused here, at start.
        """
        self.pool = Connections(dsn, size=pool_size, options=_CONNECTION_OPTIONS)
        self.raw_retention_s = raw_retention_s
        self.hourly_retention_s = hourly_retention_s
        #: Months whose partition this process has seen made (another process may drop one: see ``write``).
        self._months: set[dt.date] = set()
        self._schema_lock = threading.Lock()
        self.schema_version: int | None = None
        try:
            self._ensure_schema()
        except psycopg.OperationalError as error:
            _LOGGER.warning("series: the PostgreSQL tables cannot be set up yet (%s); readings wait until they can",
                            error)

    def close(self) -> None:
        self.pool.close()

    def _ensure_schema(self) -> None:
        with self._schema_lock:
            if self.schema_version is None:
                with self.pool.connection() as db:
                    self.schema_version = migrate(db, STORE, MIGRATIONS)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A pooled connection to tables at this release's schema; a server that does not answer is
        ``SeriesUnreachable`` (the store alarm on a write, a 503 on a page), a full disk is itself."""
        try:
            self._ensure_schema()
            with self.pool.connection() as db:
                yield db
        except psycopg.OperationalError as error:
            # Only a server that is not there: a deadlock, a cancelled query or a full disk (the hub's
            # "disk full" alarm reads its text, hub.store_outage) is that error, not "unreachable".
            if error.sqlstate is None or error.sqlstate.startswith("08") or error.sqlstate in _GONE:
                raise SeriesUnreachable(f"PostgreSQL cannot be reached: {error}") from error
            raise

    # -- writing ----------------------------------------------------------------------------------

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        """One transaction; committed (synchronous commit) when it returns, so the batch may be confirmed."""
        # The last of two readings in one millisecond wins, as a replay would: one statement
        # may not update the same row twice.
        latest = {(r.sensor, _ms(r.ts)): r for r in readings}
        months = {month_of(ms / 1000.0) for _, ms in latest}
        try:
            self._insert(latest, events, months)
        except psycopg.errors.CheckViolation:
            # "No partition of relation found for row": a month this process thought it had was dropped
            # (its readings had expired; these arrived late). It is made again; the next prune folds it.
            self._months.clear()
            self._insert(latest, events, months)

    def _insert(self, readings: dict[tuple[str, int], StoredReading], events: Sequence[StoredEvent],
                months: set[dt.date]) -> None:
        """The batch, and the partitions of its months this process has not seen made, in one transaction.

        The partition lock, shared: the pruner takes it alone before it drops a month, so a month is
        never dropped between being made here and receiving this batch's readings.
        """
        with self._connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock_shared(%s)", (PARTITION_LOCK,))
            for month in sorted(months - self._months):
                PARTITIONS.make(db, month, *_month_ms(month))
            if readings:
                rows = list(readings.values())
                db.execute(
                    "INSERT INTO readings (sensor, ts_ms, value, fault, synced)"
                    " SELECT * FROM unnest(%s::text[], %s::int8[], %s::float8[], %s::text[], %s::bool[])"
                    " ON CONFLICT (sensor, ts_ms) DO UPDATE SET value = excluded.value, fault = excluded.fault,"
                    " synced = excluded.synced",
                    ([r.sensor for r in rows], [ms for _, ms in readings], [_value(r.value) for r in rows],
                     [r.fault for r in rows], [r.clock_synced for r in rows]))
            if events:
                db.execute(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT * FROM unnest(%s::text[], %s::text[],"
                    " %s::int8[], %s::int8[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bool[])"
                    " ON CONFLICT DO NOTHING",
                    ([e.device for e in events], [e.boot_id for e in events], [e.seq for e in events],
                     [_ms(e.ts) for e in events], [e.sensor for e in events], [e.kind for e in events],
                     [e.state for e in events], [e.detail for e in events], [e.clock_synced for e in events]))
        self._months |= months

    # -- reading ----------------------------------------------------------------------------------

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]:
        with self._connection() as db:
            rows: list[Any] = db.execute(
                "SELECT ts_ms, value, fault, synced FROM readings WHERE sensor = %s AND ts_ms >= %s AND ts_ms < %s"
                " ORDER BY ts_ms LIMIT %s", (sensor, _ms(since), _ms(until), limit)).fetchall()
        return [StoredReading(sensor, ts / 1000.0, value, fault, synced) for ts, value, fault, synced in rows]

    def values(self, sensor: str, since: float, until: float, limit: int) -> list[tuple[float, float | None]]:
        with self._connection() as db:
            rows: list[Any] = db.execute(
                "SELECT ts_ms, value FROM readings WHERE sensor = %s AND ts_ms >= %s AND ts_ms < %s"
                " ORDER BY ts_ms LIMIT %s", (sensor, _ms(since), _ms(until), limit)).fetchall()
        return [(ts / 1000.0, value) for ts, value in rows]

    def events(self, since: float, until: float, sensor: str | None = None, limit: int = 10_000,
               newest_first: bool = False) -> list[StoredEvent]:
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE ts_ms >= %s AND ts_ms < %s"
        args: list[object] = [_ms(since), _ms(until)]
        if sensor is not None:
            query += " AND sensor = %s"
            args.append(sensor)
        order = "DESC" if newest_first else "ASC"
        query += f" ORDER BY ts_ms {order}, seq {order} LIMIT %s"
        args.append(limit)
        with self._connection() as db:
            rows: list[Any] = db.execute(query, args).fetchall()
        return [StoredEvent(d, b, s, ts / 1000.0, sn, k, st, det, sy) for d, b, s, ts, sn, k, st, det, sy in rows]

    def hourly(self, sensor: str, since: float, until: float) -> list[HourlyAggregate]:
        """Each hour's aggregate of the valued readings in ``[since, until)``: raw rows and kept aggregates."""
        return self.hourly_many([sensor], since, until)[sensor]

    def hourly_many(self, sensors: Sequence[str], since: float, until: float) -> dict[str, list[HourlyAggregate]]:
        """``hourly`` of every sensor in two queries (raw rows, kept aggregates of pruned hours).

        The two never hold the same rows (pruning moves a reading from one to the other in one
        transaction, and both are read in one statement); kept aggregates are whole hours, so they
        count from the hour ``since`` falls in.
        """
        since_ms, until_ms = _ms(since), _ms(until)
        wanted = list(dict.fromkeys(sensors))
        parts: dict[str, list[HourPart]] = {sensor: [] for sensor in wanted}
        with self._connection() as db:
            # One statement, so one snapshot: a prune committing between two queries would move
            # readings from the raw rows into the kept aggregates under them, counted twice.
            found: list[Any] = db.execute(_UNION_HOURS, (wanted, since_ms, until_ms, wanted,
                                                         since_ms // _HOUR_MS * _HOUR_MS, until_ms)).fetchall()
        for sensor, hour, lo, hi, total, count in found:
            parts[sensor].append((hour, lo, hi, total, count))
        return {sensor: combine_hours(sensor, sensor_parts) for sensor, sensor_parts in parts.items()}

    def first_values(self, sensors: Sequence[str], since: float, until: float) -> dict[str, tuple[float, float]]:
        """Each sensor's first valued reading in ``[since, until)`` (a log-sheet cell): one index seek each."""
        with self._connection() as db:
            rows: list[Any] = db.execute(
                "SELECT s.sensor, r.ts_ms, r.value FROM unnest(%s::text[]) AS s (sensor) CROSS JOIN LATERAL"
                " (SELECT ts_ms, value FROM readings WHERE sensor = s.sensor AND ts_ms >= %s AND ts_ms < %s"
                " AND value IS NOT NULL ORDER BY ts_ms LIMIT 1) AS r",
                (list(dict.fromkeys(sensors)), _ms(since), _ms(until))).fetchall()
        return {sensor: (ts / 1000.0, value) for sensor, ts, value in rows}

    # -- copying in (``xiaoan store copy``, hub.store.pg_copy) -------------------------------------

    def write_hourly(self, aggregates: Sequence[HourlyAggregate]) -> None:
        """Store the aggregates another store kept for hours whose raw readings it pruned.

        An hour this store already keeps is left as it is: it may hold readings merged in since,
        and a copy run twice must not count them again.
        """
        if not aggregates:
            return
        with self._connection() as db:
            db.execute(
                "INSERT INTO readings_hourly (sensor, hour_ms, min, max, mean, count)"
                " SELECT * FROM unnest(%s::text[], %s::int8[], %s::float8[], %s::float8[], %s::float8[], %s::int8[])"
                " ON CONFLICT (sensor, hour_ms) DO NOTHING",
                ([a.sensor for a in aggregates], [_ms(a.hour) for a in aggregates], [a.min for a in aggregates],
                 [a.max for a in aggregates], [a.mean for a in aggregates], [a.count for a in aggregates]))

    def counts(self, table: Literal["readings", "events"], since_ms: int = -(2**62)) -> dict[str, int]:
        """How many readings or events each sensor has from ``since_ms`` on (``xiaoan store copy --verify``)."""
        query = {"readings": "SELECT sensor, count(*) FROM readings WHERE ts_ms >= %s GROUP BY sensor",
                 "events": "SELECT sensor, count(*) FROM events WHERE ts_ms >= %s GROUP BY sensor"}[table]
        with self._connection() as db:
            rows: list[Any] = db.execute(query, (since_ms,)).fetchall()
        return dict(rows)

    def pruned_below(self) -> int | None:
        """The raw cut of the last prune (ms): readings and events below it are folded or gone; None: never pruned."""
        with self._connection() as db:
            row: Any = db.execute("SELECT value FROM series_meta WHERE key = 'pruned_below'").fetchone()
        return None if row is None else int(row[0])

    def kept_hours(self) -> list[HourlyAggregate]:
        """Every kept aggregate, in (sensor, hour) order."""
        with self._connection() as db:
            rows: list[Any] = db.execute("SELECT sensor, hour_ms, min, max, mean, count FROM readings_hourly"
                                         " ORDER BY sensor, hour_ms").fetchall()
        return [HourlyAggregate(s, h / 1000.0, lo, hi, m, n) for s, h, lo, hi, m, n in rows]

    # -- retention --------------------------------------------------------------------------------

    def downsample_and_prune(self, now: float) -> None:
        """Fold raw readings past the raw retention into hourly aggregates and remove them; prune old aggregates.

        Whole months below the cut first, one transaction each, with the writes held off (the
        partition lock) so none lands in a month between its fold and its drop; then the rest
        below the cut (the hours of the month it falls in) by a delete that folds what it deletes.
        Run every hour, the delete takes an hour's readings at a time, so a month is empty by
        the time it is wholly past and its drop gives the disk back at once; a whole month is
        folded in one go only after the hub was off, or when the retention was shortened.
        """
        if self.raw_retention_s is not None:
            cutoff = int((now - self.raw_retention_s) * 1000) // _HOUR_MS * _HOUR_MS
            for month in self._partitions():
                if _month_ms(month)[1] <= cutoff:
                    self._fold_and_drop(month)
            with self._connection() as db, db.transaction():
                db.execute(_FOLD_BELOW, (cutoff,))
                db.execute("DELETE FROM events WHERE ts_ms < %s", (cutoff,))
                db.execute(_SET_PRUNED_BELOW, (cutoff,))
        if self.hourly_retention_s is not None:
            cutoff = int((now - self.hourly_retention_s) * 1000)
            with self._connection() as db:
                db.execute("DELETE FROM readings_hourly WHERE hour_ms < %s", (cutoff,))
        with self._connection() as db:
            # The visibility map current, so an hour's readings are read from the index alone (the value is
            # in it): rows of one sensor lie one per page among the others', and the report reads many hours.
            db.execute("VACUUM (ANALYZE) readings")

    def _partitions(self) -> list[dt.date]:
        with self._connection() as db:
            return PARTITIONS.months(db)

    def _fold_and_drop(self, month: dt.date) -> None:
        name = sql.Identifier(PARTITIONS.name(month))
        with self._connection() as db, db.transaction():
            # Alone: every write holds this lock shared for its whole transaction, so none lands in the
            # month between its fold and its drop, and none holds the table the drop waits for. Pages
            # go on reading meanwhile; the drop waits only for the reads in flight.
            db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            if _exists(db, PARTITIONS.name(month)):
                db.execute(sql.SQL(_FOLD_PARTITION).format(partition=name))
                db.execute(sql.SQL("DROP TABLE {}").format(name))
                db.execute(_SET_PRUNED_BELOW, (_month_ms(month)[1],))
                _LOGGER.info("series: readings of %s folded into hourly aggregates, month dropped", f"{month:%Y-%m}")
        self._months.discard(month)


def _exists(db: Connection, table: str) -> bool:
    return db.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone() == (True,)


def _value(value: float | None) -> float | None:
    """A reading's value as a float: a whole number arrives from JSON as an int, and one array has one type."""
    return None if value is None else float(value)
