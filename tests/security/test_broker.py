"""Attacks on the broker and the ingest path, through a real Mosquitto and a running hub.

Every attack is counted (tried, accepted) into test-artifacts/security.json; an
accepted attack fails its test. Payload attacks must end as dead letters with a
reason — never stored, never a crash — and the hub must still work afterwards.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.link import HUB_HEARTBEAT_TOPIC, close_client, stop_loop
from hub.broker import MAX_PACKET_BYTES, Account, MosquittoBroker
from hub.runtime import Hub
from tests.conftest import SITE, wait_for
from tests.security.attacks import AttackLog
from tests.test_pipeline import raw_client

pytestmark = pytest.mark.broker

_log = AttackLog("broker_attacks")
attempted = _log.attempted


def teardown_module() -> None:
    _log.record()


class Listener:
    """A client subscribed to some filters, ready only after SUBACK, recording what reaches it."""

    def __init__(self, broker: MosquittoBroker, username: str, password: str, client_id: str,
                 filters: list[str]) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(username, password)
        self.client.on_connect = lambda c, *_: c.subscribe([(f, 1) for f in filters])
        self.client.on_subscribe = self._subscribed
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port_for(username))
        self.client.loop_start()
        assert self._ready.wait(10), "no SUBACK"

    def _subscribed(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        self.granted = [r.value for r in reasons]
        self._ready.set()

    def close(self) -> None:
        close_client(self.client)


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub(client_id="hub-attacks")


@pytest.fixture
def device_a(broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[mqtt.Client]:
    client, _ = raw_client(broker, "dev-a", accounts["dev-a"].password, "attacker-a")
    yield client
    close_client(client)


def telemetry(device: str, boot: str, seq: int, sensor: str = "x", value: Any = 3.0, ts: Any = 2.0) -> bytes:
    return json.dumps({"device": device, "boot_id": boot, "seq": seq, "readings": [
        {"sensor": sensor, "kind": "temperature", "value": value, "ts": ts}]}, allow_nan=True).encode()


def test_anonymous_clients_are_refused(broker: MosquittoBroker) -> None:
    client, codes = raw_client(broker, None, None, "anonymous")
    stop_loop(client)
    attempted("anonymous connect", codes[0] == 0)
    assert codes[0] != 0  # "not authorised"


@pytest.mark.parametrize("username", ["dev-a", "hub", "nobody"])
def test_wrong_password_is_refused(broker: MosquittoBroker, username: str) -> None:
    client, codes = raw_client(broker, username, "not-the-password", f"impostor-{username}")
    stop_loop(client)
    attempted("wrong password", codes[0] == 0)
    assert codes[0] != 0


def test_a_device_cannot_publish_as_another(hub: Hub, device_a: mqtt.Client) -> None:
    for channel in (wire.Channel.TELEMETRY, wire.Channel.STATUS, wire.Channel.HEALTH):
        device_a.publish(wire.topic(SITE, "dev-d", channel), telemetry("dev-d", "spoof", 1), qos=1
                         ).wait_for_publish(5)
    # Its own topic, naming another device in the payload: refused by the hub.
    device_a.publish(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), telemetry("dev-d", "spoof", 2), qos=1
                     ).wait_for_publish(5)
    # A message the hub does receive afterwards proves the spoofs had their chance to arrive.
    device_a.publish(wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), telemetry("dev-a", "own", 1), qos=1
                     ).wait_for_publish(5)
    wait_for(lambda: hub.series.readings("dev-a/x", 0, 10))
    stored = hub.series.readings("dev-d/x", 0, 10)
    for _ in range(4):
        attempted("publish as another device", bool(stored))
    assert stored == []
    assert not any(d["device"] == "dev-d" for d in hub.state.devices())
    assert any("does not match topic device" in d["reason"] for d in hub.state.dead_letters())


def test_a_device_reads_nothing_but_its_own_commands(broker: MosquittoBroker, accounts: dict[str, Account],
                                                     hub: Hub) -> None:
    # One session per account (the broker names a device's session after it): dev-a's snoop also
    # forges, dev-b's own session listens to its cmd and publishes its telemetry.
    snoop = Listener(broker, "dev-a", accounts["dev-a"].password, "snoop-a",
                     ["#", "xiaoan/#", "$SYS/#", wire.topic(SITE, "dev-b", wire.Channel.CMD),
                      wire.subscription(wire.Channel.TELEMETRY)])
    victim = Listener(broker, "dev-b", accounts["dev-b"].password, "victim-b",
                      [wire.topic(SITE, "dev-b", wire.Channel.CMD)])
    try:
        # dev-a commands dev-b's buzzer (refused), dev-b publishes, the hub commands dev-b (allowed).
        forged = wire.encode(wire.Command(action="alarm_off", ts=1.0, reason="forged"))
        snoop.client.publish(wire.topic(SITE, "dev-b", wire.Channel.CMD), forged, qos=1).wait_for_publish(5)
        victim.client.publish(wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY), telemetry("dev-b", "snoop", 1),
                              qos=1).wait_for_publish(5)
        assert hub.mqtt is not None
        hub.mqtt.send_command(SITE, "dev-b", wire.Command(action="alarm_on", ts=2.0, reason="real"))
        wait_for(lambda: any(b"real" in p for _, p in victim.received), timeout=10)
        wait_for(lambda: hub.series.readings("dev-b/x", 0, 10))
        forged_seen = [p for _, p in victim.received if b"forged" in p]
        # The hub's heartbeat (edge.link: fail-local buzzer) and its lanes (which lane a backlog takes) are
        # the topics every device may read.
        leaked = [(t, p) for t, p in snoop.received if t not in (HUB_HEARTBEAT_TOPIC, wire.HUB_LANES_TOPIC)]
        attempted("publish to another device's cmd", bool(forged_seen))
        for _ in range(5):
            attempted("subscribe beyond own cmd (#, xiaoan/#, $SYS/#, other cmd, all telemetry)", bool(leaked))
        assert forged_seen == []
        assert leaked == [], f"dev-a read {leaked[:3]}"
    finally:
        for listener in (snoop, victim):
            listener.close()


BAD_PAYLOADS: list[tuple[str, bytes, str]] = [
    # Over the hub's cap, under the broker's message_size_limit (which drops larger ones before the hub sees them).
    ("payload over the hub's cap", b"0" * (wire.MAX_PAYLOAD_BYTES + 1024), "exceeds"),
    ("deeply nested JSON", b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    ("nested object", json.dumps({"device": "dev-a", "boot_id": "n", "seq": 1,
                                  "readings": [{"sensor": "x", "kind": "t", "value": {"a": {"b": [1]}}, "ts": 1}]}
                                 ).encode(), "value"),
    ("NaN", telemetry("dev-a", "nan", 1, value=float("nan")), "value"),
    ("Infinity", telemetry("dev-a", "inf", 1, value=float("inf")), "value"),
    ("-Infinity", telemetry("dev-a", "ninf", 1, value=-float("inf")), "value"),
    ("timestamp before 1970", telemetry("dev-a", "past", 1, ts=-1.0), "ts"),
    ("timestamp in the year 33658", telemetry("dev-a", "future", 1, ts=1e12), "ts"),
    ("timestamp 1e300", telemetry("dev-a", "far-future", 1, ts=1e300), "ts"),
    ("seq past 2^63", telemetry("dev-a", "seq", 2**64), "seq"),
    ("right-to-left override in sensor name", telemetry("dev-a", "uni", 1, sensor="fridge\u202e1"), "sensor"),
    ("zero-width space in sensor name", telemetry("dev-a", "uni", 2, sensor="fridge\u200b1"), "sensor"),
    ("NUL in sensor name", telemetry("dev-a", "uni", 3, sensor="fridge\x001"), "sensor"),
    ("emoji sensor name", telemetry("dev-a", "uni", 4, sensor="冰箱😀"), "sensor"),
    ("SQL in sensor name", telemetry("dev-a", "sql", 1, sensor="x'); DROP TABLE readings;--"), "sensor"),
    ("script in sensor name", telemetry("dev-a", "xss", 1, sensor="<script>alert(1)</script>"), "sensor"),
    ("invalid UTF-8", b'{"device": "dev-a", "boot_id": "\xff\xfe", "seq": 1, "readings": []}', "JSON"),
]


def test_hostile_payloads_are_dead_lettered_never_stored(hub: Hub, device_a: mqtt.Client) -> None:
    topic = wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY)

    def dead_lettered() -> int:
        """Kept and dropped: the hub keeps the newest few dead letters per device and counts the rest."""
        return hub.state.dead_letter_count() + sum(hub.state.dead_letters_dropped().values())

    assert len(BAD_PAYLOADS) <= hub.settings.dead_letters_per_device  # so this batch's letters are all kept
    before = dead_lettered()
    for _, payload, _ in BAD_PAYLOADS:
        device_a.publish(topic, payload, qos=1).wait_for_publish(10)
    wait_for(lambda: dead_lettered() >= before + len(BAD_PAYLOADS), timeout=30)
    letters = hub.state.dead_letters(limit=len(BAD_PAYLOADS))
    reasons = [d["reason"] for d in letters]
    for name, _, expected in BAD_PAYLOADS:
        found = any(expected in reason for reason in reasons)
        attempted(f"payload: {name}", not found)
        assert found, f"{name}: no dead letter mentioning {expected!r} in {reasons}"
    assert hub.pipeline.counters.snapshot()["store_failures"] == 0
    assert hub.series.readings("dev-a/x", 0, 1e13) == []
    # and the hub still works afterwards
    device_a.publish(topic, telemetry("dev-a", "after", 1, sensor="ok-probe", ts=6000.0), qos=1).wait_for_publish(5)
    wait_for(lambda: hub.series.readings("dev-a/ok-probe", 5999, 6001))


def test_odd_unicode_in_topic_names_is_dead_lettered(broker: MosquittoBroker, accounts: dict[str, Account],
                                                      hub: Hub) -> None:
    # Only an account allowed to write anywhere under the root can reach such topics at all.
    admin, _ = raw_client(broker, "hub", accounts["hub"].password, "odd-topics")
    try:
        odd = ["dev\u202ea", "冰箱", "dev a", "dev-a\u200b", "😀"]
        before = hub.state.dead_letter_count()
        for device in odd:
            admin.publish(f"xiaoan/v1/{SITE}/{device}/telemetry", telemetry("dev-a", "odd", 1), qos=1
                          ).wait_for_publish(5)
        wait_for(lambda: hub.state.dead_letter_count() >= before + len(odd), timeout=20)
        reasons = [d["reason"] for d in hub.state.dead_letters(limit=len(odd))]
        for device in odd:
            attempted("odd Unicode in device name (topic)", not any(repr(device) in r for r in reasons))
        assert all("invalid device" in r for r in reasons)
    finally:
        close_client(admin)


def test_a_packet_over_the_broker_limit_is_refused(broker: MosquittoBroker, accounts: dict[str, Account],
                                                   hub: Hub) -> None:
    client, _ = raw_client(broker, "dev-a", accounts["dev-a"].password, "oversize")
    gone = threading.Event()
    client.on_disconnect = lambda *_: gone.set()
    topic = wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY)

    def reached_hub() -> int:
        # Counted by topic: the hub's session ("hub-attacks", shared by this module) may still deliver
        # the previous test's retained-sweep marker meanwhile, which the received counter would include.
        return sum(1 for letter in hub.state.dead_letters(limit=10_000) if letter["topic"] == topic)

    before, stored_before = reached_hub(), hub.pipeline.counters.snapshot()["stored_messages"]
    client.publish(topic, b"0" * (MAX_PACKET_BYTES + 1), qos=1)
    refused = gone.wait(15)  # the broker closes the connection of a client that sends more
    stop_loop(client)
    attempted(f"packet over {MAX_PACKET_BYTES} bytes", not refused)
    assert refused
    assert reached_hub() == before
    assert hub.pipeline.counters.snapshot()["stored_messages"] == stored_before
