"""A real InfluxDB for the tests: one private influxd per session, one fresh database per test.

Shared by the store contract tests and the dashboard tests (each conftest imports
these fixtures). Authentication is on, so the store's credentials path runs too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from hub.influx_server import InfluxServer
from hub.store.influx_http import InfluxHttp, quote_ident
from hub.store.influx_series import InfluxSeriesStore

ADMIN = ("xiaoan-admin", "test-password")
DAY_S = 86_400.0
_names = itertools.count()


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path_factory.mktemp("influxd"), admin=ADMIN) as server:
        yield server


def open_influx(server: InfluxServer, database: str, setup: bool = True, attempts: int = 4) -> InfluxSeriesStore:
    http = InfluxHttp(server.url, database, *ADMIN, attempts=attempts, backoff_s=0.05)
    store = InfluxSeriesStore(http, "raw", "hourly", site_of=lambda device: "test-site")
    if setup:
        store.setup(400 * DAY_S, 3650 * DAY_S)
    return store


@pytest.fixture
def influx_store(influx_server: InfluxServer) -> Iterator[InfluxSeriesStore]:
    """A store on a database of its own (dropped afterwards), set up as the hub sets it up."""
    store = open_influx(influx_server, f"test_{next(_names)}")
    yield store
    store.http.query(f"DROP DATABASE {quote_ident(store.http.database)}", write=True)
    store.close()
