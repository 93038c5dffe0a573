"""The PostgreSQL series store beyond the shared contract: months as partitions, retention, many sensors at once.

A real PostgreSQL 15 (the session's private cluster), a new database per test.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hub.broker import free_port
from hub.pg.schema import migrate
from hub.store.base import HOUR_S, SeriesUnreachable, StoredReading
from hub.store.pg_series import MIGRATIONS, STORE, PostgresSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

pytestmark = pytest.mark.postgres

SENSOR = "dev-a/fridge-1"
OTHER = "dev-b/freezer-1"
DAY_S = 86_400.0
#: 2026-03-31 22:00 UTC: two hours before April, so a few hours of readings span two months.
MARCH_END = dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def store(postgres_database: str) -> Iterator[PostgresSeriesStore]:
    opened = PostgresSeriesStore(postgres_database)
    yield opened
    opened.close()


def partitions(store: PostgresSeriesStore) -> list[str]:
    with store.pool.connection() as db:
        return sorted(str(row[0]) for row in db.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'readings'::regclass").fetchall())


def every_minute(sensor: str, start: float, hours: int, value: float = 4.0) -> list[StoredReading]:
    return [StoredReading(sensor, start + i * 60.0, value + (i % 5) * 0.25) for i in range(hours * 60)]


def test_a_month_is_a_partition_made_when_its_first_reading_arrives(store: PostgresSeriesStore) -> None:
    assert partitions(store) == []
    store.write(every_minute(SENSOR, MARCH_END, 4), [])
    assert partitions(store) == ["readings_202603", "readings_202604"]
    assert len(store.readings(SENSOR, MARCH_END, MARCH_END + 4 * HOUR_S)) == 240


def test_a_month_past_retention_is_folded_then_dropped(store: PostgresSeriesStore) -> None:
    readings = every_minute(SENSOR, MARCH_END, 4) + every_minute(OTHER, MARCH_END, 4, value=-18.0)
    store.write(readings, [])
    before = {sensor: store.hourly(sensor, MARCH_END, MARCH_END + 4 * HOUR_S) for sensor in (SENSOR, OTHER)}
    store.raw_retention_s = 30 * DAY_S
    april_first = MARCH_END + 2 * HOUR_S
    # A cut one hour into April: March goes whole (dropped), April is cut at the hour.
    store.downsample_and_prune(april_first + HOUR_S + 30 * DAY_S)
    assert partitions(store) == ["readings_202604"]
    assert store.readings(SENSOR, MARCH_END, april_first + HOUR_S) == []
    assert len(store.readings(SENSOR, MARCH_END, MARCH_END + 4 * HOUR_S)) == 60
    for sensor, hours in before.items():
        assert store.hourly(sensor, MARCH_END, MARCH_END + 4 * HOUR_S) == hours


def test_a_reading_of_a_dropped_month_is_kept_and_folded_into_its_hour(store: PostgresSeriesStore) -> None:
    """An edge back after months offline: its month's partition is gone; the reading is still stored."""
    store.write(every_minute(SENSOR, MARCH_END, 1), [])
    store.raw_retention_s = 30 * DAY_S
    store.downsample_and_prune(MARCH_END + 60 * DAY_S)
    assert partitions(store) == []
    late = StoredReading(SENSOR, MARCH_END + 30.0, 9.0)  # the same hour as the folded ones
    store.write([late], [])
    assert store.readings(SENSOR, MARCH_END, MARCH_END + HOUR_S) == [late]
    store.downsample_and_prune(MARCH_END + 60 * DAY_S)
    (hour,) = store.hourly(SENSOR, MARCH_END, MARCH_END + HOUR_S)
    assert (hour.count, hour.max) == (61, 9.0)
    assert store.readings(SENSOR, MARCH_END, MARCH_END + HOUR_S) == []


def test_two_readings_in_one_millisecond_of_one_batch_are_one_the_last(store: PostgresSeriesStore) -> None:
    """One statement may not change a row twice; SQLite's INSERT OR REPLACE keeps the last, and so does this."""
    store.write([StoredReading(SENSOR, MARCH_END + 1.0001, 3.0), StoredReading(SENSOR, MARCH_END + 1.0004, 5.0)], [])
    assert store.readings(SENSOR, MARCH_END, MARCH_END + 2) == [StoredReading(SENSOR, MARCH_END + 1.0, 5.0)]


def test_pruning_while_a_hub_writes_loses_no_reading(store: PostgresSeriesStore, postgres_database: str) -> None:
    """Late readings land below the cut while it moves: each ends either raw or in its hour's count, once."""
    writer = PostgresSeriesStore(postgres_database)
    store.raw_retention_s = 30 * DAY_S
    written = 0
    done = threading.Event()
    failed: list[BaseException] = []

    def write() -> None:
        nonlocal written
        try:
            for batch in range(60):
                start = MARCH_END + batch * 120.0
                writer.write([StoredReading(SENSOR, start + i, 4.0) for i in range(100)], [])
                written += 100
        except BaseException as error:
            failed.append(error)
            raise
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    now = MARCH_END + 30 * DAY_S
    while not done.is_set():
        store.downsample_and_prune(now)
        now += HOUR_S / 4
    thread.join()
    writer.close()
    assert failed == []
    raw = len(store.readings(SENSOR, MARCH_END - HOUR_S, MARCH_END + 10 * HOUR_S, limit=100_000))
    with store.pool.connection() as db:
        row = db.execute("SELECT coalesce(sum(count), 0) FROM readings_hourly").fetchone()
    assert row is not None
    assert raw + int(str(row[0])) == written == 6000


def test_an_hour_read_while_it_is_folded_is_counted_once(store: PostgresSeriesStore,
                                                          postgres_database: str) -> None:
    """Raw rows and kept aggregates are read in one snapshot: a fold between two reads counted an hour twice."""
    store.write(every_minute(SENSOR, MARCH_END, 4), [])
    pruner = PostgresSeriesStore(postgres_database, raw_retention_s=30 * DAY_S)
    counts: set[int] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            counts.update(hour.count for hour in store.hourly(SENSOR, MARCH_END, MARCH_END + 4 * HOUR_S))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for hours in range(1, 5):
            pruner.downsample_and_prune(MARCH_END + hours * HOUR_S + 30 * DAY_S)
    finally:
        done.set()
        reader.join()
        pruner.close()
    assert counts == {60}
    assert [hour.count for hour in store.hourly(SENSOR, MARCH_END, MARCH_END + 4 * HOUR_S)] == [60] * 4


def test_many_sensors_answer_as_the_sqlite_store_does(store: PostgresSeriesStore, tmp_path: Path) -> None:
    sqlite = SqliteSeriesStore(tmp_path / "readings.sqlite3")
    try:
        readings = every_minute(SENSOR, MARCH_END, 5) + every_minute(OTHER, MARCH_END + 1800, 3, value=-18.0)
        readings.append(StoredReading(SENSOR, MARCH_END - 10, None, "crc"))
        for target in (store, sqlite):
            target.write(readings, [])
        sensors = [SENSOR, OTHER, "dev-z/none"]
        span = (MARCH_END - 600, MARCH_END + 4.5 * HOUR_S)
        assert store.hourly_many(sensors, *span) == sqlite.hourly_many(sensors, *span)
        assert store.first_values(sensors, *span) == sqlite.first_values(sensors, *span)
        assert store.values(SENSOR, *span, limit=50) == sqlite.values(SENSOR, *span, limit=50)
    finally:
        sqlite.close()


def test_schema_steps_run_once_and_a_newer_database_is_refused(store: PostgresSeriesStore,
                                                               postgres_database: str) -> None:
    assert store.schema_version == len(MIGRATIONS)
    again = PostgresSeriesStore(postgres_database)
    assert again.schema_version == len(MIGRATIONS)
    again.close()
    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute("UPDATE schema_version SET version = version + 1 WHERE store = %s", (STORE,))
        with pytest.raises(RuntimeError, match="newer xiaoan"):
            migrate(db, STORE, MIGRATIONS)


def test_a_server_not_reachable_at_start_does_not_stop_the_hub_its_writes_fail() -> None:
    """The hub starts; a write fails as "unreachable" (the store alarm's reason): nothing is confirmed to the edge."""
    unreachable = PostgresSeriesStore(f"host=127.0.0.1 port={free_port('127.0.0.1')} user=xiaoan dbname=none")
    try:
        assert unreachable.schema_version is None
        with pytest.raises(SeriesUnreachable) as refused:
            unreachable.write([StoredReading(SENSOR, MARCH_END, 4.0)], [])
        assert isinstance(refused.value.__cause__, psycopg.OperationalError)
    finally:
        unreachable.close()
