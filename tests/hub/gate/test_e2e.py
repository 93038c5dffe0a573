"""Gate duty end to end through a real Mosquitto: a pty tag reader's rounds, and a 23:00 door to the gatekeeper."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge import wire
from edge.agent import Agent
from edge.clock import SystemClock
from edge.link import close_client
from edge.sources.scanner import TagReader
from hub.broker import Account, MosquittoBroker
from hub.calendar import CalendarConfig
from hub.gate.config import GateConfig
from hub.gate.monitor import AFTER_HOURS_RULE, MISSED_ROUND_RULE
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.conftest import SITE, edge_settings, wait_for
from tests.edge.conftest import PtyPort
from tests.hub.gate.conftest import CALENDAR, SHANGHAI, local
from tests.hub.notify.http_sink import HttpSink
from tests.test_pipeline import raw_client

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _minutes(moment: dt.datetime) -> str:
    return moment.strftime("%H:%M")


def test_patrol_rounds_counted_from_a_pty_tag_reader(
        tmp_path: Path, pty_port: PtyPort, broker: MosquittoBroker, accounts: dict[str, Account],
        make_hub: Callable[..., Hub]) -> None:
    # A round window around the present moment (it may run past midnight), so the edge's real timestamps fall in it.
    now = dt.datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    start, end = now - dt.timedelta(minutes=30), now + dt.timedelta(minutes=31)
    window = {"start": _minutes(start), "end": _minutes(end)}
    gate = GateConfig.model_validate({
        "checkpoints": {"gatehouse": {"name": "门卫室", "tags": ["04A1B2C3D4"]},
                        "playground": {"name": "操场", "tags": ["04A1B2C3E5"]},
                        "canteen": {"name": "食堂", "tags": ["04A1B2C3F6"]}},
        "routes": {"front": {"checkpoints": ["gatehouse", "playground"], "day_rounds": [window]},
                   "back": {"checkpoints": ["playground", "canteen"], "night_rounds": [window]}},
    })
    hub = make_hub(rules=HubConfig(gate=gate))
    settings = edge_settings(tmp_path, broker, accounts["dev-b"], [
        {"kind": "tag_reader", "sensor": "gatehouse-reader", "port": pty_port.path,
         "pattern": r"(?P<code>[0-9A-Fa-f]{8,20})"}])
    agent = Agent(settings, SystemClock("assume"))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        (reader,) = agent.sources
        assert isinstance(reader, TagReader)
        wait_for(lambda: reader._port is not None, timeout=10)  # pyserial flushes input when it opens the port
        pty_port.send(b"04A1B2C3D4\r\n04a1b2c3e5\r\nDEADBEEF\r\n")
        wait_for(lambda: len(hub.gate.visits(0, 2e9)) == 3, timeout=20)
    finally:
        agent.stop()
        thread.join(timeout=10)
    visits = hub.gate.visits(0, 2e9)
    assert [v["checkpoint"] for v in visits] == ["gatehouse", "playground", None]
    assert {v["sensor"] for v in visits} == {"dev-b/gatehouse-reader"}
    hub.gate.tick(end.timestamp() + 1)  # the window is over (an injected moment, no sleeping)
    outcome = {r["route"]: (r["complete"], r["missing"]) for r in hub.gate.store.rounds(0, 2e9)}
    assert outcome == {"front": (True, []), "back": (False, ["canteen"])}
    (missed,) = [a for a in hub.state.alerts() if a.rule == MISSED_ROUND_RULE]
    assert missed.severity == "critical" and "未到 食堂" in missed.message  # a night round
    day = start.date()
    routes = {r["route"]: r for r in hub.gate.patrol_day(day)}
    assert (routes["front"]["required"], routes["front"]["done"]) == (1, 1)
    assert (routes["back"]["required"], routes["back"]["done"]) == (1, 0)


def notify_yaml(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "notify.yaml"
    routes = "\n".join(f"  {name}:\n    always: [web]" for name in ("canteen", "canteen_manager", "safety_officer",
                                                                    "admin"))
    path.write_text(f"""
channels:
  gatehouse_bot: {{type: apprise, urls: ["json://127.0.0.1:{port}/gatehouse"]}}
  web: {{type: web}}
routes:
  gatekeeper:
    always: [gatehouse_bot]
{routes}
""", encoding="utf-8")
    return path


def test_an_edge_door_event_at_23_reaches_the_gatekeepers_channel(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    calendar = CalendarConfig.model_validate({**CALENDAR, "groups": {
        "main": {**CALENDAR["groups"]["main"], "members": ["dev-c/main-gate"]}}})
    with HttpSink() as gatehouse:
        settings = load_settings(
            home=tmp_path / "home", mqtt_host=broker.host, mqtt_port=broker.hub_port, mqtt_username="hub",
            mqtt_password=accounts["hub"].password, mqtt_client_id="hub-gate-e2e", tick_s=0.2,
            notify_config=notify_yaml(tmp_path, gatehouse.port))
        settings = settings.model_copy(update={"rules": HubConfig(calendar=calendar)})
        hub = Hub(settings)
        hub.start()
        try:
            assert hub.mqtt is not None and hub.mqtt.connected.wait(10)
            client, _ = raw_client(broker, "dev-c", accounts["dev-c"].password, "gate-e2e")
            status = {"state": "online", "boot_id": "g", "ts": time.time(), "sensors": [
                {"sensor": "main-gate", "kind": "gate", "name": "校门"}]}
            client.publish(wire.topic(SITE, "dev-c", wire.Channel.STATUS), json.dumps(status), qos=1,
                           retain=True).wait_for_publish(5)
            # 23:00 on Tuesday 17 November 2026, a school day: judged by the event's own time.
            opened = {"device": "dev-c", "boot_id": "g", "seq": 1, "ts": local("2026-11-17 23:00"),
                      "sensor": "main-gate", "kind": "gate", "state": "open"}
            client.publish(wire.topic(SITE, "dev-c", wire.Channel.EVENT), json.dumps(opened),
                           qos=1).wait_for_publish(5)
            wait_for(lambda: gatehouse.received, timeout=20)
            text = json.dumps(json.loads(gatehouse.received[0].body), ensure_ascii=False)
            assert "校门" in text and "23:00" in text
            (alert,) = [a for a in hub.state.alerts() if a.rule == AFTER_HOURS_RULE]
            assert alert.kind == "gate" and alert.severity == "critical" and alert.subject == "dev-c/main-gate"
            log = hub.notifications.delivery_log
            assert log is not None
            # The sink has the request before the sender has its answer and writes the attempt down.
            wait_for(lambda: ("gatehouse_bot", "sent") in {(a.channel, a.outcome) for a in log.attempts()},
                     timeout=20)
            client.publish(wire.topic(SITE, "dev-c", wire.Channel.STATUS), b"", qos=1, retain=True).wait_for_publish(5)
            close_client(client)
        finally:
            hub.stop()
