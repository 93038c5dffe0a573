"""What only the InfluxDB store has: schema setup on 1.x, auth, retries and the never-drop rule."""

from __future__ import annotations

import time

import pytest

from hub.broker import free_port
from hub.influx_server import InfluxServer
from hub.store.base import StoredReading
from hub.store.influx_http import InfluxError, InfluxHttp
from hub.store.influx_schema import CQ_NAME
from hub.store.influx_series import InfluxSeriesStore
from tests.hub.store.influx_fixtures import DAY_S, open_influx


def test_setup_creates_policies_and_continuous_query_idempotently(influx_store: InfluxSeriesStore) -> None:
    influx_store.setup(30 * DAY_S, 5 * 365 * DAY_S)  # a second start with other retention: altered in place
    policies = {p["name"]: p for p in influx_store.http.rows("SHOW RETENTION POLICIES")}
    assert policies["raw"]["default"] is True
    assert policies["raw"]["duration"] == "720h0m0s"
    assert policies["hourly"]["duration"] == "43800h0m0s"
    queries = [q["name"] for q in influx_store.http.rows("SHOW CONTINUOUS QUERIES")]
    assert CQ_NAME in queries


def test_points_beyond_retention_are_not_an_error(influx_store: InfluxSeriesStore) -> None:
    """The server drops them and keeps the rest, as SQLite's next prune would."""
    now = time.time()
    influx_store.write([StoredReading("dev-a/t", 1000.0, 1.0), StoredReading("dev-a/t", now, 2.0)], [])
    assert [r.value for r in influx_store.readings("dev-a/t", 0, now + 1)] == [2.0]


def test_wrong_password_fails_at_once(influx_server: InfluxServer, influx_store: InfluxSeriesStore) -> None:
    http = InfluxHttp(influx_server.url, influx_store.http.database, "xiaoan-admin", "wrong", backoff_s=0.01)
    with pytest.raises(InfluxError, match="401") as caught:
        InfluxSeriesStore(http, "raw").write([StoredReading("dev-a/t", time.time(), 1.0)], [])
    assert not caught.value.transient


def test_unreachable_server_is_retried_then_raised() -> None:
    slept: list[float] = []
    http = InfluxHttp(f"http://127.0.0.1:{free_port()}", "xiaoan", attempts=4, backoff_s=0.1, sleep=slept.append)
    with pytest.raises(InfluxError, match="unreachable") as caught:
        InfluxSeriesStore(http, "raw").write([StoredReading("dev-a/t", time.time(), 1.0)], [])
    assert caught.value.transient
    assert slept == [0.1, 0.2, 0.4]


def test_missing_database_is_a_clear_error(influx_server: InfluxServer) -> None:
    store = open_influx(influx_server, "never_created", setup=False, attempts=1)
    with pytest.raises(InfluxError, match="database not found"):
        store.write([StoredReading("dev-a/t", time.time(), 1.0)], [])


def _hour_ago(hours: int) -> float:
    return (int(time.time()) // 3600 - hours) * 3600.0


def test_closed_hours_come_from_the_rollups(influx_store: InfluxSeriesStore) -> None:
    """An hour past the continuous query's last run is read from ``reading_hourly``, not aggregated raw."""
    t0 = _hour_ago(72)
    influx_store.write([StoredReading("dev-a/t", t0 + 60 * i, 4.0) for i in range(60)], [])
    influx_store.flush_late()  # what the continuous query did for that hour
    # A point the store never saw (written past it): raw now disagrees with the hour's rollup.
    influx_store.http.write([f"reading,device=dev-a,sensor=dev-a/t value=9.0 {int((t0 + 30) * 1e9)}"], "raw")
    [hour] = influx_store.hourly("dev-a/t", t0, t0 + 3600)
    assert (hour.max, hour.count) == (4.0, 60)
    # Part of an hour is not a closed hour: aggregated raw.
    [part] = influx_store.hourly("dev-a/t", t0 + 10, t0 + 3600)
    assert (part.max, part.count) == (9.0, 60)


def test_a_late_reading_reaches_its_closed_hour(influx_store: InfluxSeriesStore) -> None:
    """An edge's backlog after a long outage: written after the continuous query's last run over its hour."""
    t0 = _hour_ago(72)
    influx_store.write([StoredReading("dev-a/t", t0 + 60 * i, 4.0) for i in range(59)], [])
    assert [(h.max, h.count) for h in influx_store.hourly("dev-a/t", t0, t0 + 3600)] == [(4.0, 59)]
    influx_store.write([StoredReading("dev-a/t", t0 + 3540, 11.5)], [])
    assert [(h.max, h.count) for h in influx_store.hourly("dev-a/t", t0, t0 + 3600)] == [(11.5, 60)]


def test_late_hours_survive_a_hub_that_dies_before_the_backfill(influx_store: InfluxSeriesStore) -> None:
    """The markers are written with the late readings; the next process's maintenance round backfills them."""
    t0 = _hour_ago(72)
    influx_store.write([StoredReading("dev-a/t", t0 + 60 * i, 4.0) for i in range(59)], [])
    influx_store.flush_late()
    influx_store.write([StoredReading("dev-a/t", t0 + 3540, 11.5)], [])  # noted, not yet backfilled
    # The hub dies here; a new process opens the same database and knows nothing of it in memory.
    restarted = InfluxSeriesStore(influx_store.http, "raw", "hourly", site_of=lambda device: "test-site")
    assert [(h.max, h.count) for h in restarted.hourly("dev-a/t", t0, t0 + 3600)] == [(4.0, 59)]
    restarted.downsample_and_prune(time.time())
    assert [(h.max, h.count) for h in restarted.hourly("dev-a/t", t0, t0 + 3600)] == [(11.5, 60)]
    restarted.downsample_and_prune(time.time())  # done markers are not backfilled again
    assert restarted._persisted_late_hours() == set()


def test_many_sensors_answer_as_one_sensor_each(influx_store: InfluxSeriesStore) -> None:
    """The report's batched reads: closed hours (rollups), a closed hour without a rollup, the open day (raw)."""
    t0 = _hour_ago(30)
    sensors = [f"dev-{i}/t" for i in range(5)]
    influx_store.write([StoredReading(sensor, t0 + 300 * step + i, i + step % 4 * 0.5)
                        for i, sensor in enumerate(sensors) for step in range(12 * 30) if (i, step // 12) != (2, 1)],
                       [])
    influx_store.flush_late()
    influx_store.http.query('DROP SERIES FROM "reading_hourly" WHERE "sensor" = \'dev-3/t\'', write=True)
    influx_store.write([StoredReading("dev-4/t", t0 + 7, None, "crc")], [])  # a fault is no first value
    since, until = t0 + 100, t0 + 30 * 3600
    many = influx_store.hourly_many([*sensors, "dev-z/none"], since, until)
    assert many == {**{sensor: influx_store.hourly(sensor, since, until) for sensor in sensors}, "dev-z/none": []}
    assert [len(many[sensor]) for sensor in sensors] == [30, 30, 29, 30, 30]
    assert [h.count for h in many["dev-0/t"][:2]] == [11, 12]
    assert influx_store.first_values([*sensors, "dev-z/none"], t0 + 3600, t0 + 3900) == {
        sensor: (t0 + 3600 + i, float(i)) for i, sensor in enumerate(sensors) if i != 2}
