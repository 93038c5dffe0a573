"""PostgreSQL down for a while, twice — the second time the hub restarts while it is still down — as an edge publishes.

The school's readings in PostgreSQL (``XIAOAN_STORE=postgresql``): the hub confirms
nothing it could not store, so the batch waits in the hub and at the broker until the
database is back, and raises its ``store_cannot_write`` alarm meanwhile (no reading
reaches the rules while it cannot be stored). A hub started while the database is away starts all the same (its
alarms need only its SQLite state) and stores once it can. Real everything:
Mosquitto, the hub's MQTT session, a private PostgreSQL 15 (fsync on) halted and
started on the same port and data directory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.clock import SystemClock
from edge.config import EdgeSettings
from hub.alerts.kinds import AlertState, RuleKind
from hub.broker import Account, MosquittoBroker
from hub.pg.server import PostgresServer
from hub.runtime import Hub
from hub.store.pg_series import PostgresSeriesStore
from hub.store.state import Alert
from tests.conftest import wait_for
from tests.faults.harness import final_report, hub_settings, node_config, record_figures, report, start_hub
from tests.faults.oracle import read_edge

pytestmark = [pytest.mark.slow, pytest.mark.broker, pytest.mark.postgres]

DEVICE = "dev-d"


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def failures(hub: Hub) -> int:
    return int(hub.pipeline.counters.snapshot()["store_failures"])


def stored(hub: Hub) -> int:
    return int(hub.pipeline.counters.snapshot()["stored_messages"])


def store_alarms(hub: Hub) -> list[Alert]:
    return [alert for alert in hub.state.alerts() if alert.rule == RuleKind.STORE_CANNOT_WRITE]


def test_postgres_outage_loses_nothing(tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
                                       database: PostgresServer) -> None:
    own_broker.start()
    settings = hub_settings(tmp_path / "hub", own_broker, accounts, "hub-postgres-outage", store="postgresql",
                            postgres_dsn=database.create_database("school"))
    edge = EdgeSettings.model_validate(node_config(tmp_path / "edge", own_broker, accounts[DEVICE], interval_s=0.1))
    agent = Agent(edge, SystemClock("assume"))
    outages: list[float] = []
    hub = start_hub(settings)
    assert isinstance(hub.series, PostgresSeriesStore)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: stored(hub) >= 30, timeout=30)

        # Down while messages keep coming: they wait in the hub, unconfirmed.
        database.halt()
        down = time.monotonic()
        wait_for(lambda: failures(hub) >= 3, timeout=30)
        outage = hub.pipeline.outage.current()
        assert outage is not None and outage.reason == "database unreachable"  # the store alarm's business
        database.start()
        outages.append(time.monotonic() - down)
        before = stored(hub)
        wait_for(lambda: stored(hub) >= before + 30, timeout=60)

        # Down, and the hub restarts while it still is: it starts, and stores once the database is back.
        failed = failures(hub)
        database.halt()
        down = time.monotonic()
        wait_for(lambda: failures(hub) >= failed + 3, timeout=30)
        hub.stop()
        hub = start_hub(settings)
        wait_for(lambda: failures(hub) >= 1, timeout=30)
        database.start()
        outages.append(time.monotonic() - down)
        wait_for(lambda: stored(hub) >= 30, timeout=60)
        # Each outage is recorded as a store_cannot_write alert once a batch is stored again: the first
        # hub's, the one the second hub found at its start. The outage the first hub stopped in was
        # notified from memory and ended with that hub.
        wait_for(lambda: len(store_alarms(hub)) >= 2, timeout=30)
        assert {alert.state for alert in store_alarms(hub)} == {AlertState.RESOLVED}
    finally:
        agent.stop()
        thread.join(15)
    try:
        ledger = read_edge(DEVICE, edge.state_dir / "outbox.sqlite3")
        final = final_report(lambda: report([ledger], hub), hub)
    finally:
        hub.stop()
    record_figures("postgres_down", {"fault": "PostgreSQL down (twice, a hub restart during the second)",
                                     "rounds": 2, "longest_outage_s": round(max(outages), 1), **final.figures()})
    final.assert_clean()
    assert final.total("stored") > 60
