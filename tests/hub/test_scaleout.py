"""Two real hub workers on one shared subscription of the test broker (docs/scale-out.md).

The oracle is the shared state database: every ``(device, boot_id, seq)`` is claimed
once (one ``seen`` row, one reading row, and the rules worker handed each reading to
the rules exactly once), through an edge replay and a worker SIGKILLed mid-stream.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from bench.harness import HubWorker
from edge import wire
from edge.link import make_client
from hub.alerts.engine import THRESHOLD_RULE
from hub.alerts.kinds import AlertState
from hub.broker import Account, MosquittoBroker
from hub.store.state import StateStore
from tests.conftest import SITE, broker_settings, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

DEVICE = "dev-c"
FRIDGE = (wire.SensorInfo(sensor="t0", kind="temperature", unit="°C", profile="fridge"),)


def worker(broker: MosquittoBroker, accounts: dict[str, Account], home: Path, client_id: str,
           group: str) -> HubWorker:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("XIAOAN_")}
    environ.update({
        "XIAOAN_HOME": str(home), "XIAOAN_MQTT_HOST": broker.host, "XIAOAN_MQTT_PORT": str(broker.hub_port),
        "XIAOAN_MQTT_USERNAME": "hub", "XIAOAN_MQTT_PASSWORD": accounts["hub"].password,
        "XIAOAN_MQTT_CLIENT_ID": client_id, "XIAOAN_SHARED_GROUP": group, "XIAOAN_SITE": SITE,
        "XIAOAN_TICK_S": "0.2",
    })
    return HubWorker(None, home, client_id, extra_env=environ)


@pytest.fixture
def device(broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[mqtt.Client]:
    client = make_client(f"{DEVICE}-{time.monotonic_ns()}", broker_settings(broker, accounts[DEVICE]),
                         accounts[DEVICE].password)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert connected.wait(10)
    yield client
    client.disconnect()
    client.loop_stop()


def publish(client: mqtt.Client, channel: wire.Channel, message: wire.Status | wire.Telemetry,
            retain: bool = False) -> mqtt.MQTTMessageInfo:
    return client.publish(wire.topic(SITE, DEVICE, channel), wire.encode(message), qos=1, retain=retain)


def announce(client: mqtt.Client, boot_id: str) -> None:
    status = wire.Status(state="online", boot_id=boot_id, version="test", ts=time.time(), sensors=FRIDGE)
    publish(client, wire.Channel.STATUS, status, retain=True).wait_for_publish(10)


def telemetry(boot_id: str, seq: int, ts: float, value: float) -> wire.Telemetry:
    reading = wire.Reading(sensor="t0", kind="temperature", value=value, unit="°C", ts=ts)
    return wire.Telemetry(device=DEVICE, boot_id=boot_id, seq=seq, readings=(reading,))


def count(db: Path, query: str, *args: object) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        (value,) = conn.execute(query, args).fetchone()
    return int(value)


def handled(*workers: HubWorker) -> int:
    return sum(int(w.snapshot()[0].get("stored_messages", 0)) + int(w.snapshot()[0].get("duplicates", 0))
               for w in workers)


@contextlib.contextmanager
def running(*workers: HubWorker) -> Iterator[None]:
    try:
        yield
    finally:
        for item in workers:
            item.stop()


def test_each_message_stored_once_through_a_replay_and_a_killed_worker(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], device: mqtt.Client) -> None:
    home = tmp_path / "hub"
    group = f"g{time.monotonic_ns()}"
    boot = f"kill-{time.monotonic_ns()}"
    first = worker(broker, accounts, home, "scale-a", group).start()
    second = worker(broker, accounts, home, "scale-b", group).start()
    rules, other = (first, second) if first.runs_rules else (second, first)
    restarted = worker(broker, accounts, home, other.client_id, group)  # same session, same state
    with running(first, second, restarted):
        assert rules.runs_rules and not other.runs_rules, "exactly one worker runs the rules"
        announce(device, boot)
        total, replayed = 3000, 300
        base = time.time() - 3600
        infos = []
        for seq in range(total):
            infos.append(publish(device, wire.Channel.TELEMETRY, telemetry(boot, seq, base + seq * 0.5, 4.0)))
            if seq < replayed:  # an edge outbox replaying after a lost PUBACK: the same message again
                infos.append(publish(device, wire.Channel.TELEMETRY, telemetry(boot, seq, base + seq * 0.5, 4.0)))
            if seq == total // 3:
                wait_for(lambda: handled(first, second) > total // 10, timeout=30)
                other.kill()  # SIGKILL: mid-batch, acknowledged or not
        for info in infos:
            info.wait_for_publish(30)
        restarted.start()
        assert not restarted.runs_rules
        state_db = home / "hub" / "hub.sqlite3"
        wait_for(lambda: count(state_db, "SELECT count(*) FROM seen WHERE boot_id = ?", boot) == total, timeout=60)
        wait_for(lambda: int(rules.snapshot()[0].get("ruled_readings", 0)) >= total, timeout=60)
        wait_for(lambda: count(state_db, "SELECT count(*) FROM rule_feed") == 0, timeout=30)
        # The other worker (killed, then restarted) stored a share: the rules worker did not see them itself.
        assert 0 < int(rules.snapshot()[0]["stored_messages"]) < total
        # Exactly once: one id row and one reading row per message, and the rules saw each reading once.
        assert count(state_db, "SELECT count(*) FROM seen WHERE boot_id = ?", boot) == total
        assert count(home / "hub" / "readings.sqlite3", "SELECT count(*) FROM readings WHERE sensor = ?",
                     f"{DEVICE}/t0") == total
        assert int(rules.snapshot()[0]["ruled_readings"]) == total
        # Every worker knows every sensor: there is one registry.
        assert count(state_db, "SELECT count(*) FROM sensors WHERE key = ? AND profile = 'fridge'",
                     f"{DEVICE}/t0") == 1


def test_an_alarm_from_readings_split_across_workers(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], device: mqtt.Client) -> None:
    """Above the fridge's 8 °C for its 900 s delay, in 20 readings alternating between two workers.

    Neither worker's half spans the delay (each sees 18/19 of it); the one rule engine
    sees all 20 in order and fires once, from the first reading's time.
    """
    home = tmp_path / "hub"
    group = f"g{time.monotonic_ns()}"
    boot = f"split-{time.monotonic_ns()}"
    pair = (worker(broker, accounts, home, "split-a", group).start(),
            worker(broker, accounts, home, "split-b", group).start())
    with running(*pair):
        announce(device, boot)
        state_db = home / "hub" / "hub.sqlite3"
        wait_for(lambda: count(state_db, "SELECT count(*) FROM sensors WHERE key = ? AND profile = 'fridge'",
                               f"{DEVICE}/t0") == 1)
        steps = 20
        base = time.time() - 1200
        for seq in range(steps):
            ts = base + seq * 900 / (steps - 1)
            publish(device, wire.Channel.TELEMETRY, telemetry(boot, seq, ts, 10.0)).wait_for_publish(10)
        wait_for(lambda: handled(*pair) >= steps)
        assert all(handled(w) > 0 for w in pair), "the broker split the readings between the workers"
        store = StateStore(state_db)
        try:
            wait_for(lambda: store.alerts(subject=f"{DEVICE}/t0", states=[AlertState.FIRING]))
            alerts = store.alerts(subject=f"{DEVICE}/t0")
        finally:
            store.close()
        assert [(a.rule, a.state) for a in alerts] == [(THRESHOLD_RULE, "firing")]
        assert alerts[0].started_at == pytest.approx(base, abs=0.01)

