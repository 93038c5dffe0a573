from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import parse_qs

from hub.alerts.kinds import Severity
from hub.notify.apprise_channel import AppriseChannel, with_timeouts
from hub.notify.base import Notification
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import Dispatcher, Route
from tests.hub.notify.http_sink import HttpSink


def _notification() -> Notification:
    return Notification(alert_id=42, incident_key="kitchen-pi-1/fridge1", severity=Severity.CRITICAL,
                        title="【紧急】冷藏冰箱1 温度异常", body="当前 11.3 °C，上限 8 °C\n请确认 #42：http://hub/alerts/42",
                        tier="staff", created_at=0.0, subject="kitchen-pi-1/fridge1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_timeouts_are_added_unless_set() -> None:
    assert "cto=5" in with_timeouts("json://127.0.0.1:1/x", 5, 10)
    assert "rto=3" in with_timeouts("json://127.0.0.1:1/x?rto=3", 5, 10)


def test_json_webhook_receives_the_chinese_text() -> None:
    with HttpSink() as sink:
        result = AppriseChannel("hook", [f"json://127.0.0.1:{sink.port}/alarm"]).send(_notification())
    assert result.ok, result.error
    [request] = sink.received
    assert request.path == "/alarm"
    payload = json.loads(request.body)
    assert payload["title"] == "【紧急】冷藏冰箱1 温度异常"
    assert "上限 8 °C" in payload["message"]
    assert "http://hub/alerts/42" in payload["message"]


def test_form_webhook_receives_the_chinese_text() -> None:
    with HttpSink() as sink:
        result = AppriseChannel("form", [f"form://127.0.0.1:{sink.port}/f"]).send(_notification())
    assert result.ok, result.error
    form = parse_qs(sink.received[0].body.decode("utf-8"))
    assert form["title"] == ["【紧急】冷藏冰箱1 温度异常"]


def test_http_500_and_closed_port_are_failures_with_reasons() -> None:
    with HttpSink(status=500) as sink:
        failed = AppriseChannel("hook", [f"json://127.0.0.1:{sink.port}/x"]).send(_notification())
    assert not failed.ok
    assert "500" in failed.error
    refused = AppriseChannel("hook", [f"json://127.0.0.1:{_closed_port()}/x"], connect_timeout_s=2).send(
        _notification())
    assert not refused.ok and refused.error


def test_failing_webhook_falls_back_to_the_next_and_reports_the_channel(tmp_path: Path) -> None:
    failures: list[tuple[str, str]] = []
    with HttpSink(status=500) as broken, HttpSink() as working:
        route = Route("staff", fallback=(
            AppriseChannel("wecom", [f"json://127.0.0.1:{broken.port}/bot"]),
            AppriseChannel("closed", [f"json://127.0.0.1:{_closed_port()}/bot"], connect_timeout_s=2),
            AppriseChannel("backup", [f"form://127.0.0.1:{working.port}/hook"]),
        ))
        log = DeliveryLog(tmp_path / "notify.sqlite3")
        dispatcher = Dispatcher([route], log, clock=lambda: 1000.0,
                                on_channel_failure=lambda name, error: failures.append((name, error)))
        dispatcher.submit(_notification())
        assert dispatcher.pump() == 1
    assert len(broken.received) == 1
    assert "冷藏冰箱1" in parse_qs(working.received[0].body.decode("utf-8"))["title"][0]
    assert [name for name, _ in failures] == ["wecom", "closed"]
    outcomes = [(a.channel, a.outcome) for a in reversed(log.attempts(alert_id=42))]
    assert outcomes == [("wecom", "failed"), ("closed", "failed"), ("backup", "sent")]
    assert dispatcher.failing_channels().keys() == {"wecom", "closed"}
    log.close()
