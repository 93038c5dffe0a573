"""SQLite rollups: an hour read from the rollups is always the hour the raw rows give, however late they came.

The oracle is the plain aggregate of every reading ever written (replays overwrite by
(sensor, time)), computed in Python; the store must agree for any window, whole or
partial hours, before and after rollup runs, with backlogs landing in rolled hours,
and across pruning.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from hub.store.base import HOUR_S, StoredReading
from hub.store.sqlite_series import SqliteSeriesStore

DAY = 86_400.0
T0 = 1_780_000_000 // HOUR_S * HOUR_S
SENSORS = ("kitchen/fridge-1", "kitchen/freezer-1", "samples/cabinet")


class Oracle:
    """Every reading written, by (sensor, ms) as the store keys them."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, int], float | None] = {}

    def write(self, readings: list[StoredReading]) -> None:
        for reading in readings:
            self.values[(reading.sensor, round(reading.ts * 1000))] = reading.value

    def hourly(self, sensor: str, since: float, until: float) -> list[tuple[float, float, float, float, int]]:
        hours: dict[int, list[float]] = defaultdict(list)
        for (name, ms), value in self.values.items():
            if name == sensor and value is not None and round(since * 1000) <= ms < round(until * 1000):
                hours[ms // 3_600_000 * 3_600_000].append(value)
        return [(hour / 1000, min(v), max(v), sum(v) / len(v), len(v)) for hour, v in sorted(hours.items())]


def shape(store: SqliteSeriesStore, sensor: str, since: float, until: float) -> list[tuple[float, ...]]:
    return [(h.hour, h.min, h.max, h.mean, h.count) for h in store.hourly(sensor, since, until)]


def agrees(store: SqliteSeriesStore, oracle: Oracle, rng: random.Random, windows: int = 40,
           aligned: bool = False) -> None:
    """The store and the oracle agree on random windows (``aligned``: on whole hours, as a pruned hour is
    kept whole and a window that cuts it gets all of it)."""
    for _ in range(windows):
        since = T0 + rng.uniform(-2 * HOUR_S, 40 * HOUR_S)
        if aligned:
            since = since // HOUR_S * HOUR_S
        until = since + rng.choice([HOUR_S, 7 * HOUR_S, 30 * HOUR_S, rng.uniform(0, 50 * HOUR_S)])
        if aligned:
            until = until // HOUR_S * HOUR_S
        for sensor in SENSORS:
            got, expected = shape(store, sensor, since, until), oracle.hourly(sensor, since, until)
            assert [g[0] for g in got] == [e[0] for e in expected], (sensor, since, until)
            for g, e in zip(got, expected, strict=True):
                assert g[1:3] == e[1:3] and g[4] == e[4] and g[3] == pytest.approx(e[3], rel=1e-12)


def batch(rng: random.Random, start: float, end: float, n: int) -> list[StoredReading]:
    readings = []
    for _ in range(n):
        value = None if rng.random() < 0.05 else round(rng.uniform(-20, 12), 2)
        readings.append(StoredReading(rng.choice(SENSORS), round(rng.uniform(start, end), 3), value,
                                      "probe_missing" if value is None else None))
    return readings


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollups_agree_with_the_raw_readings_through_late_writes_and_runs(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    store, oracle = SqliteSeriesStore(tmp_path / "r.sqlite3"), Oracle()
    now = float(T0)
    for step in range(12):
        now += 3 * HOUR_S + rng.uniform(0, HOUR_S)
        live = batch(rng, now - HOUR_S, now, 300)
        # A backlog drained late into hours already rolled up, some of it replayed (same time, same key).
        late = batch(rng, T0, now - 2 * HOUR_S, 80) + rng.sample(live, 10)
        for readings in (live, late):
            store.write(readings, [])
            oracle.write(readings)
        agrees(store, oracle, rng, windows=8)
        if step % 3 != 2:  # some steps end with no run: stale hours are then read raw
            store.roll_up(now)
            agrees(store, oracle, rng, windows=8)
    store.close()


def test_rolled_hours_are_read_from_the_rollups_and_a_late_reading_makes_its_hour_stale(tmp_path: Path) -> None:
    store = SqliteSeriesStore(tmp_path / "r.sqlite3")
    sensor = SENSORS[0]
    store.write([StoredReading(sensor, T0 + 60, 3.0), StoredReading(sensor, T0 + HOUR_S + 60, 5.0)], [])
    store.roll_up(T0 + 2 * HOUR_S + 5)
    with store.transaction() as db:
        # Proof that a rolled hour is served from the rollup: change the raw row under it.
        db.execute("UPDATE readings SET value = 100 WHERE sensor = ? AND ts_ms = ?", (sensor, (T0 + 60) * 1000))
    assert shape(store, sensor, T0, T0 + 2 * HOUR_S)[0][1:] == (3.0, 3.0, 3.0, 1)
    # A reading written into that hour now makes it stale: read raw until the next run recomputes it.
    store.write([StoredReading(sensor, T0 + 120, 4.0)], [])
    assert shape(store, sensor, T0, T0 + HOUR_S)[0][1:] == (4.0, 100.0, 52.0, 2)
    store.roll_up(T0 + 2 * HOUR_S + 10)
    with store.transaction() as db:
        assert db.execute("SELECT count(*) FROM rollup_stale").fetchone()[0] == 0
    assert shape(store, sensor, T0, T0 + HOUR_S)[0][1:] == (4.0, 100.0, 52.0, 2)
    store.close()


def test_the_watermark_survives_a_restart_and_pruning_takes_the_rollups_along(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store, oracle = SqliteSeriesStore(path, raw_retention_s=2 * DAY, hourly_retention_s=30 * DAY), Oracle()
    rng = random.Random(7)
    readings = batch(rng, T0, T0 + 3 * DAY, 2000)
    store.write(readings, [])
    oracle.write(readings)
    store.roll_up(T0 + 3 * DAY)
    store.close()
    store = SqliteSeriesStore(path, raw_retention_s=2 * DAY, hourly_retention_s=30 * DAY)
    late = batch(rng, T0 + 2 * DAY, T0 + 3 * DAY, 50)  # rolled hours, after the restart: still marked stale
    store.write(late, [])
    oracle.write(late)
    for sensor in SENSORS:
        got = shape(store, sensor, T0 + 2 * DAY, T0 + 3 * DAY)
        assert [g[4] for g in got] == [e[4] for e in oracle.hourly(sensor, T0 + 2 * DAY, T0 + 3 * DAY)]
    store.downsample_and_prune(T0 + 4 * DAY)  # the first two days fold into readings_hourly
    with store.transaction() as db:
        assert db.execute("SELECT count(*) FROM readings_rollup WHERE hour_ms < ?",
                          ((T0 + 2 * DAY) * 1000,)).fetchone()[0] == 0
    agrees(store, oracle, rng, aligned=True)
    store.close()


class StopsOnTheThirdDay(SqliteSeriesStore):
    """A hub stopped (here: an error) while its first run rolls up the history, on the third day."""

    def _roll(self, sensor: str, since: int, until: int) -> None:
        if since >= (T0 + 2 * DAY) * 1000:
            raise KeyboardInterrupt
        super()._roll(sensor, since, until)


def test_the_first_run_rolls_a_day_at_a_time_and_an_interrupted_one_goes_on_from_the_last_day(
        tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store: SqliteSeriesStore = StopsOnTheThirdDay(path)
    oracle = Oracle()
    rng = random.Random(11)
    readings = batch(rng, T0, T0 + 4 * DAY, 3000)
    store.write(readings, [])
    oracle.write(readings)
    with pytest.raises(KeyboardInterrupt):
        store.roll_up(T0 + 4 * DAY)
    with store.transaction() as db:
        # Two whole days rolled and recorded, from the oldest reading on (not from 1970).
        assert db.execute("SELECT value FROM rollup_meta WHERE key = 'rolled_until'").fetchone()[0] == \
            (T0 + 2 * DAY) * 1000
    agrees(store, oracle, rng)
    store.close()
    store = SqliteSeriesStore(path)
    store.roll_up(T0 + 4 * DAY)
    with store.transaction() as db:
        assert db.execute("SELECT value FROM rollup_meta WHERE key = 'rolled_until'").fetchone()[0] == \
            (T0 + 4 * DAY) * 1000
    agrees(store, oracle, rng)
    store.close()
