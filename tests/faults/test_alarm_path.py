"""An alarm path broken: the notification endpoint is down. Its failure is an alarm of its own, and the
fallback channel delivers — through the real broker, a real hub and real HTTP endpoints via Apprise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge import wire
from edge.link import close_client
from hub.alerts.kinds import AlertState
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.conftest import SITE, wait_for
from tests.faults.harness import record_figures
from tests.hub.notify.http_sink import HttpSink
from tests.test_pipeline import raw_client

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def notify_yaml(tmp_path: Path, good_port: int, bad_port: int) -> Path:
    path = tmp_path / "notify.yaml"
    routes = "\n".join(f"  {name}:\n    always: [web]\n    fallback: [broken, backup]"
                       for name in ("canteen", "canteen_manager", "safety_officer", "gatekeeper", "admin"))
    path.write_text(f"""
retry_s: 5
channels:
  broken: {{type: apprise, urls: ["json://127.0.0.1:{bad_port}/bot"]}}
  backup: {{type: apprise, urls: ["json://127.0.0.1:{good_port}/bot"]}}
  web: {{type: web}}
routes:
{routes}
""", encoding="utf-8")
    return path


def test_alarm_reaches_the_fallback_channel_and_the_broken_one_is_an_alarm(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    with HttpSink(status=500) as broken, HttpSink() as backup:
        settings = load_settings(
            home=tmp_path / "home", mqtt_host=broker.host, mqtt_port=broker.hub_port, mqtt_username="hub",
            mqtt_password=accounts["hub"].password, mqtt_client_id="hub-notify-e2e", tick_s=0.2,
            notify_config=notify_yaml(tmp_path, backup.port, broken.port))
        settings = settings.model_copy(update={"rules": HubConfig(alarm_delay_s=0)})
        hub = Hub(settings)
        hub.start()
        try:
            assert hub.mqtt is not None and hub.mqtt.connected.wait(10)
            client, _ = raw_client(broker, "dev-d", accounts["dev-d"].password, "notify-e2e")
            status = {"state": "online", "boot_id": "n", "ts": 1.0, "sensors": [
                {"sensor": "fridge-9", "kind": "temperature", "profile": "fridge", "name": "冷藏冰箱 9 号"}]}
            client.publish(wire.topic(SITE, "dev-d", wire.Channel.STATUS), json.dumps(status), qos=1,
                           retain=True).wait_for_publish(5)
            reading = {"device": "dev-d", "boot_id": "n", "seq": 1, "readings": [
                {"sensor": "fridge-9", "kind": "temperature", "value": 11.5, "unit": "°C", "ts": 2000.0}]}
            client.publish(wire.topic(SITE, "dev-d", wire.Channel.TELEMETRY), json.dumps(reading),
                           qos=1).wait_for_publish(5)
            wait_for(lambda: backup.received, timeout=20)
            body = json.loads(backup.received[0].body)
            assert "冷藏冰箱 9 号" in json.dumps(body, ensure_ascii=False)
            assert broken.received  # it was tried first
            wait_for(lambda: any(a.rule == "channel_failing" and a.subject == "broken"
                                 for a in hub.state.alerts([AlertState.FIRING])), timeout=20)
            log = hub.notifications.delivery_log
            assert log is not None

            def outcomes() -> set[tuple[str, str]]:
                return {(a.channel, a.outcome) for a in log.attempts()}

            # The sink has the request before the sender has its answer and writes the attempt down.
            wait_for(lambda: ("backup", "sent") in outcomes(), timeout=20)
            assert ("broken", "failed") in outcomes()
            assert hub.notifications.web_notices.recent()
            close_client(client)
            failing = next(a for a in hub.state.alerts([AlertState.FIRING]) if a.rule == "channel_failing")
            record_figures("alarm_path_broken", {
                "fault": "notification endpoint down (HTTP 500)", "rounds": 1,
                "attempts_failed": sum(1 for a in log.attempts() if a.outcome == "failed"),
                "delivered_by_fallback": sum(1 for a in log.attempts()
                                             if a.channel == "backup" and a.outcome == "sent"),
                "channel_alarm": failing.rule, "channel_alarm_severity": failing.severity})
        finally:
            hub.stop()
