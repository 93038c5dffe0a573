"""InfluxDB down for a while, twice — once with a hub restart in the middle — while an edge keeps publishing.

The hub acknowledges nothing it could not store: the batch waits in the hub (and
the broker) until InfluxDB is back. Real everything: Mosquitto, the hub's MQTT
session, a private influxd stopped and started on the same port and data directory.
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
from hub.broker import Account, MosquittoBroker
from hub.influx_server import InfluxServer
from hub.runtime import Hub
from tests.conftest import wait_for
from tests.faults.harness import final_report, hub_settings, node_config, record_figures, report, start_hub
from tests.faults.oracle import read_edge
from tests.hub.store.influx_fixtures import ADMIN

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DEVICE = "dev-d"


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influxd", admin=ADMIN)
    server.start()
    yield server
    server.stop()


def failures(hub: Hub) -> int:
    return int(hub.pipeline.counters.snapshot()["store_failures"])


def test_influx_outage_loses_nothing(tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
                                     influx: InfluxServer) -> None:
    own_broker.start()
    settings = hub_settings(tmp_path / "hub", own_broker, accounts, "hub-influx-outage", store="influxdb",
                            influx_url=influx.url, influx_username=ADMIN[0], influx_password=ADMIN[1])
    edge = EdgeSettings.model_validate(node_config(tmp_path / "edge", own_broker, accounts[DEVICE], interval_s=0.1))
    agent = Agent(edge, SystemClock("assume"))
    outages: list[float] = []
    hub = start_hub(settings)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: hub.pipeline.counters.snapshot()["stored_messages"] >= 20, timeout=30)

        # Down while messages keep coming: they wait in the hub, unacknowledged.
        influx.stop()
        down = time.monotonic()
        wait_for(lambda: failures(hub) >= 2, timeout=30)
        influx.start()
        outages.append(time.monotonic() - down)
        stored = hub.pipeline.counters.snapshot()["stored_messages"]
        wait_for(lambda: hub.pipeline.counters.snapshot()["stored_messages"] >= stored + 20, timeout=60)

        # Down, and the hub restarts before it comes back: the broker still holds what was not acknowledged.
        influx.stop()
        down = time.monotonic()
        wait_for(lambda: failures(hub) >= 2, timeout=30)
        hub.stop()
        influx.start()
        hub = start_hub(settings)
        outages.append(time.monotonic() - down)
        wait_for(lambda: hub.pipeline.counters.snapshot()["stored_messages"] >= 20, timeout=60)
    finally:
        agent.stop()
        thread.join(15)
    try:
        ledger = read_edge(DEVICE, edge.state_dir / "outbox.sqlite3")
        final = final_report(lambda: report([ledger], hub), hub)
    finally:
        hub.stop()
    record_figures("influx_down", {"fault": "InfluxDB down (twice, a hub restart during the second)",
                                   "rounds": 2, "longest_outage_s": round(max(outages), 1), **final.figures()})
    final.assert_clean()
    assert final.total("stored") > 60
