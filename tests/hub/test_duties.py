"""The hub's duties on its scheduler, against a real broker: isolation from ingest, ticking without MQTT, health.

The claims: a duty that sleeps does not delay the acknowledgement (the ``stored``
confirmation the hub sends right after its PUBACKs) nor an alarm that needs the
alert engine's timers; a hub built without MQTT still ticks once started;
``/api/health`` shows each part and answers 503 while the store fails every batch
(a real InfluxDB, stopped), 200 again once it is back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.link import close_client
from hub.app import create_app
from hub.broker import Account, MosquittoBroker
from hub.health import ALERT_TIMERS
from hub.influx_server import InfluxServer
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.scheduler import Duty
from hub.settings import HubConfig, HubSettings
from tests.conftest import SITE, wait_for
from tests.hub.auth_helpers import authorize
from tests.hub.store.influx_fixtures import ADMIN

pytestmark = pytest.mark.broker

SENSORS = [{"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge", "name": "冷藏冰箱"}]


class Device:
    """A bare MQTT client acting as one edge device: publishes status and telemetry, reads its ``cmd`` topic."""

    def __init__(self, broker: MosquittoBroker, account: Account, client_id: str) -> None:
        self.name = account.username
        self.commands: list[wire.Command] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(account.username, account.password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe(
            wire.topic(SITE, self.name, wire.Channel.CMD), qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), "device did not subscribe to its cmd topic"
        self.boot = f"boot-{client_id}"

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command = wire.decode(wire.Channel.CMD, bytes(message.payload))
        with self._lock:
            self.commands.append(command)

    def confirmed(self) -> set[int]:
        with self._lock:
            return {seq for command in self.commands if command.action == "stored"
                    for group in command.stored if group.boot_id == self.boot
                    for first, last in group.seqs for seq in range(first, last + 1)}

    def actions(self) -> list[str]:
        with self._lock:
            return [command.action for command in self.commands]

    def status(self) -> None:
        payload = {"state": "online", "boot_id": self.boot, "ts": time.time(), "version": "9", "sensors": SENSORS}
        self.client.publish(wire.topic(SITE, self.name, wire.Channel.STATUS), json.dumps(payload),
                            qos=1).wait_for_publish(5)

    def reading(self, seq: int, value: float) -> None:
        payload = {"device": self.name, "boot_id": self.boot, "seq": seq, "readings": [
            {"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": time.time()}]}
        self.client.publish(wire.topic(SITE, self.name, wire.Channel.TELEMETRY), json.dumps(payload),
                            qos=1).wait_for_publish(5)

    def close(self) -> None:
        close_client(self.client)


@pytest.fixture
def device(broker: MosquittoBroker, accounts: dict[str, Account], request: pytest.FixtureRequest) -> Iterator[Device]:
    edge = Device(broker, accounts["dev-c"], f"duties-{request.node.name[:40]}")
    yield edge
    edge.close()


def firing(hub: Hub, subject: str) -> bool:
    return any(a.subject == subject and a.state == "firing" for a in hub.state.alerts())


def test_a_sleeping_duty_delays_neither_acknowledgements_nor_alarms(make_hub: Callable[..., Hub],
                                                                     device: Device) -> None:
    # A delay: the alarm needs the alert engine's timer duty to move it from pending to firing.
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    inside, release, returned = threading.Event(), threading.Event(), threading.Event()

    def sleepy(_now: float) -> None:
        inside.set()
        release.wait(5.0)  # sleeps 5 s unless the test is done before
        returned.set()

    hub.scheduler.add(Duty("sleepy", 0.2, sleepy))
    assert inside.wait(10)
    try:
        device.status()
        device.reading(1, 12.0)
        # Each within a bound well below the 5 s the duty sleeps (the duty is still asleep when both are true).
        wait_for(lambda: 1 in device.confirmed(), timeout=4.0)
        wait_for(lambda: firing(hub, "dev-c/fridge-1"), timeout=4.0)
        wait_for(lambda: "alarm_on" in device.actions(), timeout=4.0)  # the kitchen's buzzer too
        assert not returned.is_set(), "the checks should have finished while the duty slept"
        sleeping = hub.scheduler.get("sleepy")
        assert sleeping is not None and sleeping.running_for_s is not None
    finally:
        release.set()
    wait_for(lambda: (s := hub.scheduler.get("sleepy")) is not None and s.runs >= 1)


def test_a_hub_without_mqtt_ticks_once_started(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.3), connect=False)
    assert hub.mqtt is None
    status = {"state": "online", "boot_id": "b", "ts": time.time(), "version": "9", "sensors": SENSORS}
    telemetry = {"device": "dev-a", "boot_id": "b", "seq": 1, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": 12.0, "unit": "°C", "ts": time.time()}]}
    hub.pipeline.process([
        Inbound(wire.topic(SITE, "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, time.time()),
        Inbound(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), json.dumps(telemetry).encode(), 2, 1,
                time.time())])
    # Nobody calls tick here: the scheduler's timer duty turns the pending alarm into a firing one.
    wait_for(lambda: firing(hub, "dev-a/fridge-1"))
    timers = hub.scheduler.get(ALERT_TIMERS)
    assert timers is not None and timers.runs >= 1
    assert "hub-heartbeat" not in hub.scheduler.names  # no broker, no heartbeat


def test_health_shows_each_part_and_metrics_time_each_duty(make_hub: Callable[..., Hub], device: Device) -> None:
    hub = make_hub()
    device.status()
    device.reading(1, 4.0)
    wait_for(lambda: 1 in device.confirmed())
    wait_for(lambda: (t := hub.scheduler.get(ALERT_TIMERS)) is not None and t.runs >= 1)
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        response = client.get("/api/health")  # no credentials needed
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mqtt_connected"] is True and body["pipeline"]["stored_readings"] >= 1
        assert body["broker"] == {"ok": True, "connected": True}
        assert body["store"]["ok"] and body["store"]["failing_batches"] == 0
        assert 0 <= body["store"]["last_commit_age_s"] < 60
        assert body["alarms"]["ok"] and body["alarms"]["timers_age_s"] is not None
        assert set(body["alarms"]) == {"ok", "timers_age_s", "detail"}  # every hub runs its rules: no worker flag
        assert body["scheduler"]["running"]
        names = {duty["name"] for duty in body["scheduler"]["duties"]}
        assert {ALERT_TIMERS, "gate", "samples", "reports", "prune-seen", "live-page", "broker-watch",
                "hub-heartbeat", "series-retention"} <= names
        assert body["notifications"] == {"ok": True, "configured": False, "channels": 0, "failing_channels": 0}
        assert "dev-c" not in response.text and "fridge" not in response.text  # names no sensor or device

        authorize(client, hub)
        metrics = client.get("/metrics").text
        for family in ("xiaoan_duty_last_run_timestamp_seconds", "xiaoan_duty_duration_seconds",
                       "xiaoan_duty_runs_total", "xiaoan_duty_failures_total", "xiaoan_duty_overruns_total"):
            assert f"# TYPE {family} " in metrics
            assert f'{family}{{duty="{ALERT_TIMERS}"}} ' in metrics
        runs = next(line for line in metrics.splitlines()
                    if line.startswith(f'xiaoan_duty_runs_total{{duty="{ALERT_TIMERS}"}}'))
        assert int(runs.split()[-1]) >= 1


@pytest.mark.slow
def test_health_is_503_while_the_store_fails_every_batch(tmp_path: Path, broker: MosquittoBroker,
                                                         accounts: dict[str, Account], device: Device) -> None:
    influx = InfluxServer(tmp_path / "influxd", admin=ADMIN)
    influx.start()
    settings = HubSettings(home=tmp_path / "hub", mqtt_host=broker.host, mqtt_port=broker.hub_port,
                           mqtt_username="hub", mqtt_password=accounts["hub"].password,
                           mqtt_client_id="hub-health-503", tick_s=0.2, store="influxdb", influx_url=influx.url,
                           influx_username=ADMIN[0], influx_password=ADMIN[1], influx_timeout_s=5)
    hub = Hub(settings)
    try:
        hub.start()
        assert hub.mqtt is not None and hub.mqtt.connected.wait(15)
        with TestClient(create_app(settings, hub=hub)) as client:
            device.status()
            device.reading(1, 4.0)
            wait_for(lambda: 1 in device.confirmed(), timeout=30)
            assert client.get("/api/health").status_code == 200

            influx.stop()
            device.reading(2, 4.1)
            wait_for(lambda: hub.pipeline.counters.snapshot()["failing_batches"] >= 2, timeout=60)
            response = client.get("/api/health")
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["status"] == "failing" and not body["store"]["ok"]
            assert body["store"]["failing_batches"] >= 2 and body["alarms"]["ok"]
            assert any("store" in problem for problem in body["problems"])
            assert 2 not in device.confirmed()  # nothing stored, nothing acknowledged

            influx.start()
            wait_for(lambda: 2 in device.confirmed(), timeout=60)
            response = client.get("/api/health")
            assert response.status_code == 200, response.text
            assert response.json()["store"] == {**response.json()["store"], "ok": True, "failing_batches": 0}
    finally:
        hub.stop()
        influx.stop()
