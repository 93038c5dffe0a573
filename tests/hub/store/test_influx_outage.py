"""InfluxDB down for a while: the hub acknowledges nothing it could not store, and loses nothing.

Real everything: Mosquitto, the hub's MQTT session, a private influxd that the
test stops and starts again on the same port and data directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge import wire
from hub.broker import Account, MosquittoBroker
from hub.influx_server import InfluxServer
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import SITE, broker_settings, wait_for
from tests.hub.store.influx_fixtures import ADMIN

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DEVICE = "dev-d"
SENSOR = f"{DEVICE}/fridge-9"


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    server = InfluxServer(tmp_path / "influxd", admin=ADMIN)
    server.start()
    yield server
    server.stop()


def publisher(broker: MosquittoBroker, account: Account) -> mqtt.Client:
    from edge.link import make_client  # noqa: PLC0415 — as the edge builds its client

    settings = broker_settings(broker, account)
    client = make_client(f"{DEVICE}-outage-test", settings, account.password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, seqs: range, t0: float) -> None:
    for seq in seqs:
        payload = {"device": DEVICE, "boot_id": "outage", "seq": seq, "readings": [
            {"sensor": "fridge-9", "kind": "temperature", "value": 3.0 + seq / 100, "unit": "°C", "ts": t0 + seq}]}
        client.publish(wire.topic(SITE, DEVICE, wire.Channel.TELEMETRY), json.dumps(payload), qos=1).wait_for_publish(5)


def test_influx_outage_loses_nothing(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account],
                                     influx: InfluxServer) -> None:
    settings = HubSettings(home=tmp_path / "hub", mqtt_host=broker.host, mqtt_port=broker.port,
                           mqtt_username="hub", mqtt_password=accounts["hub"].password,
                           mqtt_client_id="hub-influx-outage", tick_s=0.2, store="influxdb",
                           influx_url=influx.url, influx_username=ADMIN[0], influx_password=ADMIN[1])
    t0 = time.time() - 3600
    device = publisher(broker, accounts[DEVICE])
    hub = Hub(settings)
    hub.start()
    try:
        assert hub.mqtt is not None and hub.mqtt.connected.wait(10)

        def stored() -> int:
            return len(hub.series.readings(SENSOR, t0 - 1, t0 + 1000))

        publish(device, range(0, 20), t0)
        wait_for(lambda: stored() == 20)

        # Down while messages keep coming: they wait in the hub, unacknowledged.
        influx.stop()
        publish(device, range(20, 40), t0)
        wait_for(lambda: hub.pipeline.counters.snapshot()["store_failures"] >= 2, timeout=30)
        assert hub.pipeline.counters.snapshot()["stored_messages"] == 20
        influx.start()
        wait_for(lambda: stored() == 40, timeout=60)

        # Down, and the hub restarts before it comes back: the broker still holds what was not acknowledged.
        influx.stop()
        publish(device, range(40, 60), t0)
        wait_for(lambda: hub.pipeline.counters.snapshot()["store_failures"] >= 4, timeout=30)
    finally:
        hub.stop()
    influx.start()
    hub = Hub(settings)
    hub.start()
    try:
        wait_for(lambda: len(hub.series.readings(SENSOR, t0 - 1, t0 + 1000)) == 60, timeout=60)
        values = [r.value for r in hub.series.readings(SENSOR, t0 - 1, t0 + 1000)]
        assert values == [3.0 + seq / 100 for seq in range(60)]
    finally:
        hub.stop()
        device.loop_stop()
        device.disconnect()
