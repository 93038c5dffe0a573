"""``xiaoan store copy`` into PostgreSQL: a school's SQLite history, the same answers after, and again safely."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store.base import HOUR_S, StoredEvent, StoredReading
from hub.store.pg_copy import copy_into_postgres, verify_postgres_copy
from hub.store.pg_series import PostgresSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

pytestmark = pytest.mark.postgres

SENSORS = ("dev-a/fridge-1", "dev-a/freezer-1", "dev-b/冰箱 2")
DAY_S = 86_400.0


@pytest.fixture
def target(postgres_database: str) -> Iterator[PostgresSeriesStore]:
    store = PostgresSeriesStore(postgres_database)
    yield store
    store.close()


def school_history(path: Path, now: float) -> SqliteSeriesStore:
    """Ten days of three sensors every 10 min, door events, and the first five days' hours already folded."""
    source = SqliteSeriesStore(path, raw_retention_s=5 * DAY_S)
    start = (int(now) // HOUR_S - 240) * HOUR_S
    source.write([StoredReading(sensor, start + i * 600.0, 2.0 + (i * 7 + n) % 11 * 0.5)
                  for n, sensor in enumerate(SENSORS) for i in range(1440)],
                 [StoredEvent("dev-a", "boot-1", seq, start + seq * 3600.0, "dev-a/door-1", "door",
                              "open" if seq % 2 else "closed") for seq in range(1, 200)])
    source.downsample_and_prune(now)
    source.raw_retention_s = None
    return source


def assert_same_answers(source: SqliteSeriesStore, target: PostgresSeriesStore, now: float) -> None:
    since = now - 12 * DAY_S
    for sensor in SENSORS:
        assert target.readings(sensor, since, now, limit=100_000) == source.readings(sensor, since, now, limit=100_000)
        assert target.hourly(sensor, since, now) == source.hourly(sensor, since, now)
    assert target.events(since, now) == source.events(since, now)


def test_a_copy_gives_the_same_answers_and_a_second_one_changes_only_what_arrived(
        tmp_path: Path, target: PostgresSeriesStore) -> None:
    now = time.time()
    source = school_history(tmp_path / "readings.sqlite3", now)
    try:
        copied = copy_into_postgres(source, target, batch=700, report=lambda _: None)
        assert (copied.readings, copied.events) == (3 * 720, 80)  # five days raw; events pruned with them
        assert copied.hourly == 3 * 120
        assert_same_answers(source, target, now)
        assert verify_postgres_copy(source, target).differences == []

        # An edge's backlog arrives in SQLite after the copy, in the past; the copy is run again.
        late = StoredReading(SENSORS[0], now - 2 * DAY_S + 1.5, 9.5)
        source.write([late], [])
        assert verify_postgres_copy(source, target).differences == [
            f"readings of {SENSORS[0]}: 721 in SQLite, 720 in PostgreSQL"]
        copy_into_postgres(source, target, batch=700, report=lambda _: None)
        assert_same_answers(source, target, now)
        assert target.counts("readings") == {SENSORS[0]: 721, SENSORS[1]: 720, SENSORS[2]: 720}
        assert verify_postgres_copy(source, target).differences == []
    finally:
        source.close()


def test_verify_names_a_kept_hour_that_lacks_readings(tmp_path: Path, target: PostgresSeriesStore) -> None:
    now = time.time()
    source = school_history(tmp_path / "readings.sqlite3", now)
    try:
        copy_into_postgres(source, target, report=lambda _: None)
        with target.pool.connection() as db:
            db.execute("UPDATE readings_hourly SET count = count - 1 WHERE hour_ms = (SELECT min(hour_ms)"
                       " FROM readings_hourly) AND sensor = %s", (SENSORS[1],))
        (difference,) = verify_postgres_copy(source, target).differences
        assert difference.startswith(f"hourly aggregate of {SENSORS[1]}")
    finally:
        source.close()


def test_a_copy_after_postgresql_pruned_counts_no_reading_twice(tmp_path: Path, target: PostgresSeriesStore) -> None:
    """Run again weeks after the switch: SQLite still has raw rows PostgreSQL has folded since."""
    now = time.time()
    source = school_history(tmp_path / "readings.sqlite3", now)
    try:
        copy_into_postgres(source, target, report=lambda _: None)
        target.raw_retention_s = 3 * DAY_S
        target.downsample_and_prune(now)  # two more days folded in PostgreSQL only
        before = {sensor: target.hourly(sensor, now - 12 * DAY_S, now) for sensor in SENSORS}
        again = copy_into_postgres(source, target, report=lambda _: None)
        assert again.below_cut > 0
        for sensor in SENSORS:
            assert target.hourly(sensor, now - 12 * DAY_S, now) == before[sensor]
            assert [a.count for a in before[sensor]] == [a.count for a in source.hourly(sensor, now - 12 * DAY_S, now)]
        target.downsample_and_prune(now)
        assert {sensor: target.hourly(sensor, now - 12 * DAY_S, now) for sensor in SENSORS} == before
        assert verify_postgres_copy(source, target).differences == []
    finally:
        source.close()


def test_cli_copies_into_the_store_xiaoan_store_names(tmp_path: Path, postgres_database: str,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main  # noqa: PLC0415

    home = tmp_path / "home"
    now = time.time()
    school_history(home / "hub" / "readings.sqlite3", now).close()
    for key, value in {"XIAOAN_HOME": str(home), "XIAOAN_STORE": "postgresql",
                       "XIAOAN_POSTGRES_DSN": postgres_database}.items():
        monkeypatch.setenv(key, value)
    assert main(["store", "copy"]) == 0
    assert "copied 2160 readings, 80 events, 360 hourly aggregates to PostgreSQL" in capsys.readouterr().out
    assert main(["store", "copy", "--verify"]) == 0
    assert "PostgreSQL holds what SQLite holds" in capsys.readouterr().out
