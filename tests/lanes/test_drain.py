"""A day's backlog drains while a door opens: the door is alarmed first (real Mosquitto, hub, agent).

Ordering and counts only, no clock: the hub records, at the moment the door alarm fires, how
many backlog readings it had stored; that must be fewer than the backlog.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.agent import Agent
from edge.clock import SystemClock
from edge.config import EdgeSettings
from edge.link import close_client
from edge.outbox import Outbox
from hub.alerts.kinds import RuleKind
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig
from hub.store.state import Alert
from tests.conftest import SITE, edge_settings, wait_for

pytestmark = pytest.mark.broker

BACKLOG = 6000
OLD_SENSOR = "old-probe"


def fill_backlog(settings: EdgeSettings, count: int) -> float:
    """``count`` telemetry messages of an earlier boot, one reading each, a day old; returns the first ts."""
    outbox = Outbox(Path(settings.state_dir) / "outbox.sqlite3", reading_sync="normal", reserve_bytes=0)
    first_ts = round(time.time() - 86_400, 3)
    try:
        for seq in range(1, count + 1):
            message = wire.Telemetry(device=settings.device, boot_id="old-boot", seq=seq, readings=(
                wire.Reading(sensor=OLD_SENSOR, kind="temperature", value=4.0, unit="°C", ts=first_ts + seq),))
            outbox.put(wire.Channel.TELEMETRY, wire.encode(message), "old-boot", seq, 1.0, first_ts + seq, True,
                       readings=1)
    finally:
        outbox.close()
    return first_ts


@pytest.fixture
def run_agent() -> Iterator[Callable[[EdgeSettings], Agent]]:
    started: list[tuple[Agent, threading.Thread]] = []

    def start(settings: EdgeSettings) -> Agent:
        agent = Agent(settings, SystemClock("assume"), sources=[])
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        started.append((agent, thread))
        return agent

    yield start
    for agent, thread in started:
        agent.stop()
        thread.join(timeout=10)


def door_alarms_at_once() -> HubConfig:
    return HubConfig.model_validate({"alerts": {"defaults": {"door_open_max_s": {"door": 0}}}})


def door_alarm(hub: Hub, subject: str) -> bool:
    return any(a.rule is RuleKind.DOOR_OPEN_TOO_LONG and a.subject == subject for a in hub.state.alerts())


def test_a_live_door_event_is_alarmed_before_the_backlog_has_drained(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], make_hub: Callable[..., Hub],
        run_agent: Callable[[EdgeSettings], Agent]) -> None:
    hub = make_hub(rules=door_alarms_at_once())
    assert hub.mqtt is not None and hub.mqtt.backfill_ready.wait(10)
    stored_when_alarmed: list[int] = []

    def on_alert(alert: Alert) -> None:
        if alert.rule is RuleKind.DOOR_OPEN_TOO_LONG and alert.state == "firing":
            stored_when_alarmed.append(hub.pipeline.counters.snapshot()["stored_readings"])

    hub.engine.add_listener(on_alert)
    settings = edge_settings(tmp_path, broker, accounts["dev-c"], [{"kind": "simulated_door"}],
                             outbox={"window": 20, "unconfirmed_max": 100, "live_reserve": 5})
    fill_backlog(settings, BACKLOG)
    agent = run_agent(settings)
    wait_for(lambda: hub.pipeline.counters.snapshot()["backfill_received"] >= 200, timeout=30)
    agent.record_event("door-1", "door", "open")
    wait_for(lambda: stored_when_alarmed, timeout=30)
    assert agent.link.hub_lanes
    assert stored_when_alarmed[0] < BACKLOG, "the door waited for the whole backlog"
    # … and the backlog still drains completely, each message stored once, and leaves the outbox.
    wait_for(lambda: len(hub.series.readings(f"dev-c/{OLD_SENSOR}", 0, 2e9)) == BACKLOG, timeout=120)
    wait_for(lambda: agent.outbox.depth() == 0, timeout=60)
    counters = hub.pipeline.counters.snapshot()
    assert counters["backfill_received"] >= BACKLOG
    assert hub.state.dead_letter_count() == 0
    assert [a.rule for a in hub.state.alerts()] == [RuleKind.DOOR_OPEN_TOO_LONG]


def test_an_edge_without_lanes_still_works_with_a_lanes_hub(
        broker: MosquittoBroker, accounts: dict[str, Account], make_hub: Callable[..., Hub]) -> None:
    """An older edge publishes everything on the five-level topics: stored, deduplicated, alarmed, confirmed."""
    hub = make_hub(rules=door_alarms_at_once())
    confirmations: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="old-edge-b", protocol=mqtt.MQTTv311)
    client.username_pw_set("dev-b", accounts["dev-b"].password)
    client.on_message = lambda _c, _u, message: confirmations.append(bytes(message.payload))
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.subscribe(wire.topic(SITE, "dev-b", wire.Channel.CMD), 1)
        telemetry = {"device": "dev-b", "boot_id": "old", "seq": 1, "readings": [
            {"sensor": "probe", "kind": "temperature", "value": 3.0, "ts": 7000.0}]}
        event = {"device": "dev-b", "boot_id": "old", "seq": 2, "ts": 7001.0, "sensor": "door-9", "kind": "door",
                 "state": "open"}
        for _ in range(2):  # a resend is stored once
            client.publish(wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY), json.dumps(telemetry), qos=1
                           ).wait_for_publish(5)
            client.publish(wire.topic(SITE, "dev-b", wire.Channel.EVENT), json.dumps(event), qos=1
                           ).wait_for_publish(5)
        wait_for(lambda: door_alarm(hub, "dev-b/door-9"))
        wait_for(lambda: hub.pipeline.counters.snapshot()["duplicates"] >= 2)
        assert len(hub.series.readings("dev-b/probe", 6999, 7001)) == 1
        assert hub.pipeline.counters.snapshot()["backfill_received"] == 0
        wait_for(lambda: any(b'"stored"' in c for c in confirmations))
    finally:
        close_client(client)


def test_a_lanes_edge_drains_on_the_live_topics_to_a_hub_without_lanes(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], make_hub: Callable[..., Hub],
        run_agent: Callable[[EdgeSettings], Agent]) -> None:
    """An older hub (one session, no lanes message): the edge never uses a backfill topic, and loses nothing."""
    hub = make_hub(rules=door_alarms_at_once(), ingest_lanes=False)
    assert hub.mqtt is not None and not hub.mqtt.backfill_ready.is_set()
    settings = edge_settings(tmp_path, broker, accounts["dev-d"], [{"kind": "simulated_door"}],
                             outbox={"window": 20, "unconfirmed_max": 100})
    fill_backlog(settings, 500)
    agent = run_agent(settings)
    wait_for(lambda: len(hub.series.readings(f"dev-d/{OLD_SENSOR}", 0, 2e9)) == 500, timeout=60)
    agent.record_event("door-2", "door", "open")
    wait_for(lambda: door_alarm(hub, "dev-d/door-2"))
    wait_for(lambda: agent.outbox.depth() == 0, timeout=30)
    assert not agent.link.hub_lanes
    assert hub.pipeline.counters.snapshot()["backfill_received"] == 0
    assert hub.state.dead_letter_count() == 0
