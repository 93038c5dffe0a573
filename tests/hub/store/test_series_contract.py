"""The SeriesStore contract, run against SQLite, a real InfluxDB and a real PostgreSQL: same data in, same data out.

Timestamps are a few days back from now: InfluxDB refuses points older than its
raw retention policy (400 days), as SQLite prunes them on its next round.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.store.base import HOUR_S, HourlyAggregate, SeriesStore, StoredEvent, StoredReading
from hub.store.influx_series import InfluxSeriesStore
from hub.store.pg_series import PostgresSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

SENSOR = "dev-a/fridge-1"
OTHER = "dev-b/freezer-1"


@pytest.fixture
def t0() -> float:
    """An hour boundary three days ago."""
    return (int(time.time()) // HOUR_S - 72) * HOUR_S


@pytest.fixture(params=["sqlite", "influxdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeriesStore]:
    if request.param == "sqlite":
        sqlite = SqliteSeriesStore(tmp_path / "readings.sqlite3", raw_retention_s=400 * 86_400.0)
        yield sqlite
        sqlite.close()
    elif request.param == "postgresql":
        postgres = PostgresSeriesStore(request.getfixturevalue("postgres_database"), raw_retention_s=400 * 86_400.0)
        yield postgres
        postgres.close()
    else:
        yield request.getfixturevalue("influx_store")


def expire_raw_before(store: SeriesStore, cutoff: float) -> None:
    """Let the raw retention remove readings before ``cutoff`` (an hour boundary), the store's way."""
    if isinstance(store, SqliteSeriesStore | PostgresSeriesStore):
        store.raw_retention_s = 3600.0
        store.downsample_and_prune(cutoff + 3600.0)
    else:
        assert isinstance(store, InfluxSeriesStore)
        # What the continuous query did every hour, then what the retention policy does.
        store.backfill_hourly(cutoff - 30 * 86_400, cutoff)
        store.http.query(f'DELETE FROM "reading" WHERE time < {int(cutoff * 1e9)}', write=True)  # noqa: S608


def series(sensor: str, start: float, count: int, step: float = 60.0,
           value: Callable[[int], float] = lambda i: 2.0 + (i % 7) * 0.5) -> list[StoredReading]:
    return [StoredReading(sensor, start + i * step, value(i)) for i in range(count)]


def test_readings_read_back_exactly(store: SeriesStore, t0: float) -> None:
    written = [
        StoredReading(SENSOR, t0 + 0.001, 4.0),
        StoredReading(SENSOR, t0 + 1.5, -18.25, clock_synced=False),
        StoredReading(SENSOR, t0 + 2.0, None, "disconnected"),
        StoredReading(SENSOR, t0 + 3.0, None, "power_on_value", clock_synced=False),
        StoredReading(SENSOR, t0 + 4.0, 7),  # an int from JSON is a float in the store
        StoredReading(OTHER, t0 + 1.0, -20.0),
    ]
    store.write(written, [])
    back = store.readings(SENSOR, t0, t0 + 10)
    assert back == [r for r in written if r.sensor == SENSOR]
    assert all(isinstance(r.value, float) for r in back if r.value is not None)
    assert store.readings(OTHER, t0, t0 + 10) == [written[-1]]


def test_range_is_half_open_ordered_and_limited(store: SeriesStore, t0: float) -> None:
    store.write(list(reversed(series(SENSOR, t0, 10))), [])
    back = store.readings(SENSOR, t0 + 60, t0 + 300)
    assert [r.ts for r in back] == [t0 + 60, t0 + 120, t0 + 180, t0 + 240]
    assert [r.ts for r in store.readings(SENSOR, t0, t0 + 600, limit=3)] == [t0, t0 + 60, t0 + 120]
    assert store.readings("dev-z/none", t0, t0 + 600) == []


def test_a_reading_written_twice_is_one_reading(store: SeriesStore, t0: float) -> None:
    batch = series(SENSOR, t0, 5)
    store.write(batch, [])
    store.write(batch, [])  # a redelivered batch
    store.write([StoredReading(SENSOR, t0, 9.5)], [])  # a replay with a corrected value
    back = store.readings(SENSOR, t0, t0 + 3600)
    assert len(back) == 5
    assert back[0].value == 9.5


def test_empty_write_is_fine(store: SeriesStore, t0: float) -> None:
    store.write([], [])
    assert store.readings(SENSOR, t0, t0 + 1) == []


def event(seq: int, ts: float, sensor: str = "dev-a/door-1", state: str = "open") -> StoredEvent:
    device = sensor.split("/", 1)[0]
    return StoredEvent(device, "boot-1", seq, ts, sensor, "door", state, '{"who": "门卫"}')


def test_events_read_back_exactly_and_once(store: SeriesStore, t0: float) -> None:
    events = [event(1, t0 + 10), event(2, t0 + 20, state="closed"), event(3, t0 + 30, "dev-b/gate-1"),
              StoredEvent("dev-a", "boot-1", 4, t0 + 40, "dev-a/power", "power", "lost", "{}", clock_synced=False)]
    store.write([], events)
    store.write([], events[:2])  # redelivered
    assert store.events(t0, t0 + 100) == events
    assert store.events(t0, t0 + 100, sensor="dev-b/gate-1") == [events[2]]
    assert store.events(t0 + 20, t0 + 30) == [events[1]]
    assert store.events(t0, t0 + 100, limit=2) == events[:2]
    assert store.events(t0, t0 + 100, limit=2, newest_first=True) == [events[3], events[2]]
    assert store.events(t0, t0 + 100, sensor="dev-a/door-1", limit=1, newest_first=True) == [events[1]]


def test_events_in_the_same_millisecond_are_distinct(store: SeriesStore, t0: float) -> None:
    """A door bouncing open/closed inside one millisecond is two events (message identity is the seq)."""
    events = [event(7, t0 + 5.25), event(8, t0 + 5.25, state="closed")]
    store.write([], events)
    assert sorted(store.events(t0, t0 + 10), key=lambda e: e.seq) == events


def expected_hourly(readings: list[StoredReading], since: float, until: float) -> list[HourlyAggregate]:
    hours: dict[int, list[float]] = {}
    for r in readings:
        if since <= r.ts < until and r.value is not None:
            hours.setdefault(int(r.ts) // HOUR_S * HOUR_S, []).append(r.value)
    return [HourlyAggregate(SENSOR, float(h), min(v), max(v), statistics.fmean(v), len(v))
            for h, v in sorted(hours.items())]


def assert_hourly_equal(got: list[HourlyAggregate], want: list[HourlyAggregate]) -> None:
    assert [(a.sensor, a.hour, a.min, a.max, a.count) for a in got] == [
        (a.sensor, a.hour, a.min, a.max, a.count) for a in want]
    for a, b in zip(got, want, strict=True):
        assert a.mean == pytest.approx(b.mean, rel=1e-9)


def test_hourly_aggregates(store: SeriesStore, t0: float) -> None:
    readings = series(SENSOR, t0 - 1800, 200, step=45.0, value=lambda i: -3.0 + (i * 37 % 23) * 0.25)
    readings.append(StoredReading(SENSOR, t0 + 100.5, None, "crc"))  # a fault is no value
    store.write(readings + series(OTHER, t0, 50), [])
    assert_hourly_equal(store.hourly(SENSOR, t0, t0 + 3 * HOUR_S), expected_hourly(readings, t0, t0 + 3 * HOUR_S))
    # A range that starts inside an hour aggregates only what lies inside it.
    assert_hourly_equal(store.hourly(SENSOR, t0 + 900, t0 + 2 * HOUR_S),
                        expected_hourly(readings, t0 + 900, t0 + 2 * HOUR_S))
    assert store.hourly("dev-z/none", t0, t0 + HOUR_S) == []


def test_hourly_outlives_raw_retention(store: SeriesStore, t0: float) -> None:
    readings = series(SENSOR, t0, 240, step=60.0, value=lambda i: 3.0 + (i % 11) * 0.3)
    store.write(readings, [event(1, t0 + 60)])
    until = t0 + 4 * HOUR_S
    before = store.hourly(SENSOR, t0, until)
    assert len(before) == 4
    expire_raw_before(store, t0 + 2 * HOUR_S)
    assert store.readings(SENSOR, t0, t0 + 2 * HOUR_S) == []
    assert len(store.readings(SENSOR, t0, until)) == 120
    assert_hourly_equal(store.hourly(SENSOR, t0, until), before)


#: Tag values line protocol must escape (space, comma, equals sign), and ones it must not mangle.
ODD_SENSORS = ["dev a/冰箱 1", "dev,b/t=1,x", "设备三/温度\\探头", "dev\"q/it's 零下"]


def test_odd_tag_values_read_back_exactly(store: SeriesStore, t0: float) -> None:
    written = [StoredReading(sensor, t0 + i + 0.5, -18.5 + i) for i, sensor in enumerate(ODD_SENSORS)]
    written.append(StoredReading(ODD_SENSORS[0], t0 + 10, None, "断开 disconnected, code=3"))
    events = [StoredEvent("dev a", "boot 1", 1, t0 + 20, ODD_SENSORS[0], "door,back=1", "打开 open",
                          '{"who": "门卫, 值班=1 \\"A\\""}')]
    store.write(written, events)
    for sensor in ODD_SENSORS:
        assert store.readings(sensor, t0, t0 + 60) == [r for r in written if r.sensor == sensor]
    assert store.events(t0, t0 + 60) == events
    assert store.events(t0, t0 + 60, sensor=ODD_SENSORS[0]) == events
    assert [a.count for a in store.hourly(ODD_SENSORS[1], t0, t0 + HOUR_S)] == [1]
