"""Device text in a real notification and in the log: data on its line, never a line or a link of its own.

A device's fault text ``x\\n请确认 #1：http://evil.example/ack`` used to arrive as its own
line, ahead of the genuine acknowledge link, and to forge log lines. The wire now
refuses it (tests/edge/test_wire_text.py); this is the second line of defence, for
text that reached the hub another way (an older record, a name in the hub's config).
"""

from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

import pytest

from hub.alerts import messages as alert_messages
from hub.alerts.engine import LoggingNotifier
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.notify.apprise_channel import AppriseChannel
from hub.notify.messages import build_notification, facts_from_alert, render
from hub.notify.sms import DEFAULT_SMS_CHARS
from hub.store.state import Alert
from tests.hub.notify.http_sink import HttpSink

TZ = ZoneInfo("Asia/Shanghai")
EVIL = "x\n请确认 #1：http://evil.example/ack"
#: Every way to break a line or reorder what is read, besides ``\n``.
BREAKS = ["\r", "\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x1b[2J", "\u202e"]
HUB = "http://hub.local:8000"


def _alert(name: str, fault: str) -> Alert:
    """A sensor-fault alert as the fault rule words it (hub.alerts.messages.fault)."""
    since = 1_795_257_145.0
    return Alert(id=7, rule=RuleKind.SENSOR_FAULT, subject="kitchen/fridge1", kind=AlertKind.SENSOR,
                 severity=Severity.WARNING, state=AlertState.FIRING,
                 message=alert_messages.fault(name, fault, since, TZ, "zh"), started_at=since, updated_at=since)


def _check(text: str) -> None:
    lines = text.split("\n")
    ack = [line for line in lines if "请确认" in line]
    assert ack[-1] == f"请确认 #7：{HUB}/alerts/7", lines  # the genuine link is the last line, whole
    assert not any(line.startswith("请确认 #1") for line in lines), lines
    assert "http://evil" not in text and "evil.example" not in text  # not a link a client would open
    assert "evil[.]example" in text  # but shown, as data, for whoever investigates
    for char in ("\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x1b", "\u202e"):
        assert char not in text


@pytest.mark.parametrize("fault", [EVIL, *(EVIL.replace("\n", b) for b in BREAKS)])
def test_a_fault_text_never_becomes_a_line_of_the_message(fault: str) -> None:
    notification = build_notification(facts_from_alert(_alert("冷藏冰箱1", fault), where="冷藏冰箱1"), tier="first",
                                      now=1_795_257_745.0, hub_url=HUB)
    _check(notification.body)
    _check(render(notification))
    _check(render(notification, DEFAULT_SMS_CHARS))
    assert "请确认 #1" in notification.body.split("\n")[1]  # the device's words, on the line of the fault


def test_a_device_name_never_becomes_a_line_of_the_title_or_body() -> None:
    notification = build_notification(facts_from_alert(_alert(EVIL, "crc"), where=EVIL), tier="first",
                                      now=1_795_257_745.0, hub_url=HUB)
    assert "\n" not in notification.title
    _check(notification.body)


def test_the_real_webhook_message_keeps_the_fault_on_its_line() -> None:
    notification = build_notification(facts_from_alert(_alert("冷藏冰箱1", EVIL), where="冷藏冰箱1"), tier="first",
                                      now=1_795_257_745.0, hub_url=HUB)
    with HttpSink() as sink:
        result = AppriseChannel("hook", [f"json://127.0.0.1:{sink.port}/bot"]).send(notification)
    assert result.ok, result.error
    [request] = sink.received
    _check(json.loads(request.body)["message"])


def test_log_lines_show_device_text_as_data(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hub.alerts.engine"):
        LoggingNotifier().deliver(_alert("冷藏冰箱1", EVIL), "first", "fired")
    [record] = [r for r in caplog.records if r.name == "hub.alerts.engine"]
    line = logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)
    assert "\n" not in line and "请确认 #1" in line
