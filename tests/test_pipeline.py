"""End to end through a real Mosquitto: edge agent → broker → hub → store → alert."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.agent import Agent
from edge.clock import SystemClock
from edge.link import close_client
from edge.sources import Measurement, SourceBase
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig
from tests.conftest import SITE, edge_settings, wait_for

pytestmark = pytest.mark.broker


class DialThermometer(SourceBase):
    """A probe whose temperature the test sets; the agent, outbox and link are all real."""

    def __init__(self, sensor: str = "fridge-1") -> None:
        self.sensor = sensor
        self.value = 4.0
        self.interval_s = 0.1

    def describe(self) -> list[wire.SensorInfo]:
        return [wire.SensorInfo(sensor=self.sensor, kind="temperature", unit="°C", profile="fridge")]

    def read(self) -> list[Measurement]:
        return [Measurement(self.sensor, "temperature", self.value, "°C")]


@pytest.fixture
def run_agent(tmp_path: Path, broker: MosquittoBroker) -> Iterator[Callable[..., Agent]]:
    agents: list[tuple[Agent, threading.Thread]] = []

    def start(account: Account, sources: list[SourceBase], config_sources: list[dict[str, object]] | None = None,
              **extra: object) -> Agent:
        settings = edge_settings(tmp_path, broker, account, config_sources or [{"kind": "simulated_door"}], **extra)
        agent = Agent(settings, SystemClock("assume"), sources=list(sources))
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        agents.append((agent, thread))
        return agent

    yield start
    for agent, thread in agents:
        agent.stop()
        thread.join(timeout=10)


def raw_client(broker: MosquittoBroker, username: str | None, password: str | None,
               client_id: str) -> tuple[mqtt.Client, list[int]]:
    """A bare paho client, for things no xiaoan edge would do."""
    codes: list[int] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    client.connect(broker.host, broker.port if username is None else broker.port_for(username))
    client.loop_start()
    wait_for(lambda: codes, timeout=5)
    return client, codes


def test_simulated_edge_to_hub_raises_and_clears_an_alert(
        make_hub: Callable[..., Hub], run_agent: Callable[..., Agent], accounts: dict[str, Account]) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    probe = DialThermometer()
    agent = run_agent(accounts["dev-a"], [probe])
    wait_for(lambda: hub.series.readings("dev-a/fridge-1", 0, 1e10))
    assert hub.state.devices()[0]["state"] == "online"

    probe.value = 9.5
    wait_for(lambda: [a for a in hub.state.alerts() if a.state == "firing"])
    (alert,) = hub.state.alerts()
    assert alert.subject == "dev-a/fridge-1" and alert.threshold == 8.0
    wait_for(lambda: agent.alarm.active)  # the hub sounded the kitchen's buzzer through `cmd`

    probe.value = 5.0
    wait_for(lambda: hub.state.alerts()[0].state == "resolved")
    wait_for(lambda: not agent.alarm.active)
    values = [r.value for r in hub.series.readings("dev-a/fridge-1", 0, 1e10)]
    assert 9.5 in values and values[-1] == 5.0


def test_agent_goes_offline_cleanly(make_hub: Callable[..., Hub], run_agent: Callable[..., Agent],
                                    accounts: dict[str, Account]) -> None:
    hub = make_hub()
    agent = run_agent(accounts["dev-c"], [DialThermometer("cold-room")])
    wait_for(lambda: any(d["device"] == "dev-c" and d["state"] == "online" for d in hub.state.devices()))
    agent.stop()
    wait_for(lambda: any(d["device"] == "dev-c" and d["state"] == "offline" for d in hub.state.devices()))


def test_the_same_message_twice_is_stored_once(make_hub: Callable[..., Hub], broker: MosquittoBroker,
                                              accounts: dict[str, Account]) -> None:
    hub = make_hub()
    client, _ = raw_client(broker, "dev-b", accounts["dev-b"].password, "dup-sender")
    payload = json.dumps({"device": "dev-b", "boot_id": "dup", "seq": 1, "readings": [
        {"sensor": "probe", "kind": "temperature", "value": 3.0, "ts": 5000.0}]})
    for _ in range(2):
        client.publish(wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY), payload, qos=1).wait_for_publish(5)
    wait_for(lambda: hub.pipeline.counters.snapshot()["duplicates"] >= 1)
    assert len(hub.series.readings("dev-b/probe", 0, 1e10)) == 1
    close_client(client)


def test_the_hub_confirms_what_it_stored_duplicates_and_dead_letters_included(
        make_hub: Callable[..., Hub], broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    make_hub()
    client, _ = raw_client(broker, "dev-b", accounts["dev-b"].password, "confirm-reader")
    subscribed = threading.Event()
    confirmed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command = wire.decode(wire.Channel.CMD, bytes(message.payload))
        assert command.action == "stored"
        with lock:
            confirmed.extend((group.boot_id, seq) for group in command.stored
                             for first, last in group.seqs for seq in range(first, last + 1))

    def confirmations() -> list[tuple[str, int]]:
        with lock:
            return list(confirmed)

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.subscribe(wire.topic(SITE, "dev-b", wire.Channel.CMD), qos=1)
    assert subscribed.wait(10)
    topic = wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY)

    def telemetry(seq: int, value: object = 3.0) -> str:
        return json.dumps({"device": "dev-b", "boot_id": "conf", "seq": seq, "readings": [
            {"sensor": "probe", "kind": "temperature", "value": value, "ts": 6000.0 + seq}]})

    for seq in (1, 2, 3):
        client.publish(topic, telemetry(seq), qos=1).wait_for_publish(5)
    wait_for(lambda: {("conf", 1), ("conf", 2), ("conf", 3)} <= set(confirmations()))
    before = len(confirmations())
    client.publish(topic, telemetry(2), qos=1).wait_for_publish(5)  # a resend: stored already
    client.publish(topic, telemetry(4, value="12.5"), qos=1).wait_for_publish(5)  # dead-lettered, kept there
    wait_for(lambda: {("conf", 2), ("conf", 4)} <= set(confirmations()[before:]))
    close_client(client)


def test_the_agent_keeps_what_the_broker_acknowledged_until_the_hub_confirms_it(
        make_hub: Callable[..., Hub], run_agent: Callable[..., Agent], accounts: dict[str, Account]) -> None:
    # No hub yet: the broker acknowledges every message and passes it to nobody.
    agent = run_agent(accounts["dev-d"], [DialThermometer("walk-in")], outbox={"confirm_timeout_s": 1})
    wait_for(agent.link.connected.is_set)
    wait_for(lambda: agent.outbox.depth() >= 10)  # 1 s of readings, acknowledged by the broker and kept
    first = wire.MessageId("dev-d", agent.boot_id, 1)
    # A hub with no session from before: what was sent reached nobody. Once the hub is heard and has
    # not confirmed those rows, the agent sends them again; the outbox empties down to the newest rows.
    hub = make_hub()
    wait_for(lambda: not hub.state.unseen([first]), timeout=30)
    wait_for(lambda: agent.outbox.depth() <= 3, timeout=30)


def test_bad_messages_through_the_broker_are_dead_lettered(make_hub: Callable[..., Hub], broker: MosquittoBroker,
                                                          accounts: dict[str, Account]) -> None:
    hub = make_hub()
    device, _ = raw_client(broker, "dev-b", accounts["dev-b"].password, "bad-sender")
    # Only an account allowed to write anywhere under the root can reach an unknown topic.
    admin, _ = raw_client(broker, "hub", accounts["hub"].password, "bad-sender-admin")
    telemetry = wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY)
    cases = [
        (device, telemetry, b"{definitely not json"),
        (device, telemetry, json.dumps({"device": "dev-b", "boot_id": "x", "seq": "7", "readings": []}).encode()),
        (device, telemetry, json.dumps({"device": "dev-b", "boot_id": "x"}).encode()),
        (admin, f"xiaoan/v1/{SITE}/dev-b/firmware", b"{}"),
        # over the wire contract's limit, under the broker's message_size_limit (hub.broker.MAX_MESSAGE_BYTES)
        (device, telemetry, b"0" * (wire.MAX_PAYLOAD_BYTES + 1024)),
    ]
    for client, topic, payload in cases:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    wait_for(lambda: hub.state.dead_letter_count() >= len(cases))
    reasons = " | ".join(d["reason"] for d in hub.state.dead_letters())
    for expected in ("malformed JSON", "seq", "readings", "unknown channel", "exceeds"):
        assert expected in reasons
    # and the hub still works afterwards
    good = json.dumps({"device": "dev-b", "boot_id": "x", "seq": 1, "readings": [
        {"sensor": "probe", "kind": "temperature", "value": 3.0, "ts": 6000.0}]})
    device.publish(telemetry, good, qos=1).wait_for_publish(5)
    wait_for(lambda: hub.series.readings("dev-b/probe", 5999, 6001))
    for client in (device, admin):
        close_client(client)


def test_a_device_flooding_malformed_payloads_is_capped_and_others_still_flow(
        make_hub: Callable[..., Hub], broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    """200 malformed 60 KiB payloads from one device through the broker: bounded storage, an alarm, others stored."""
    hub = make_hub()
    flooder, _ = raw_client(broker, "dev-d", accounts["dev-d"].password, "flood-d")
    other, _ = raw_client(broker, "dev-b", accounts["dev-b"].password, "flood-b")
    junk = b"{" + b"x" * (60 * 1024)
    flood = wire.topic(SITE, "dev-d", wire.Channel.TELEMETRY)
    good = wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY)
    for seq in range(1, 201):
        flooder.publish(flood, junk, qos=1)
        if seq % 20 == 0:
            other.publish(good, json.dumps({"device": "dev-b", "boot_id": "flood", "seq": seq // 20, "readings": [
                {"sensor": "probe", "kind": "temperature", "value": 3.0, "ts": 9000.0 + seq}]}), qos=1)
    cap = hub.settings.dead_letters_per_device
    wait_for(lambda: hub.state.dead_letters_dropped().get("dev-d", 0) + hub.state.dead_letter_count("dev-d") >= 200,
             timeout=30)
    wait_for(lambda: len(hub.series.readings("dev-b/probe", 9000, 9300)) == 10, timeout=30)
    assert hub.state.dead_letter_count("dev-d") <= cap
    assert any(a.rule == "dead_letters" and a.subject == "dev-d" for a in hub.state.alerts())
    for client in (flooder, other):
        close_client(client)
