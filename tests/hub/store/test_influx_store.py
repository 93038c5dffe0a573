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
