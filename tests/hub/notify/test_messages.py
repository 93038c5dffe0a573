from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.notify.base import Notification
from hub.notify.messages import (
    AlertFacts,
    build_notification,
    compose,
    digest,
    facts_from_alert,
    merge_same_incident,
    render,
)
from hub.store.state import Alert

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2024-03-05 14:20 in Shanghai is 06:20 UTC: the message must say 14:20.
SINCE = datetime(2024, 3, 5, 14, 20, tzinfo=SHANGHAI).timestamp()
NOW = SINCE + 25 * 60


def fridge(**changes: object) -> AlertFacts:
    facts = AlertFacts(alert_id=42, kind=AlertKind.TEMPERATURE, severity=Severity.CRITICAL, state=AlertState.FIRING,
                       where="一号食堂 冷藏冰箱1", subject="kitchen-pi-1/fridge1", since=SINCE,
                       value=11.3, threshold=8.0, peak=12.0, unit="°C")
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def test_chinese_message_says_what_where_how_far_since_and_how_to_ack() -> None:
    title, body = compose(fridge(), now=NOW, hub_url="http://hub.local:8000/")
    assert title == "【紧急】一号食堂 冷藏冰箱1 温度异常"
    assert body.split("\n") == [
        "位置：一号食堂 冷藏冰箱1（kitchen-pi-1/fridge1）",
        "当前 11.3 °C，上限 8 °C，超出 3.3 °C（峰值 12 °C）",
        "开始：03-05 14:20（已持续 25 分钟）",
        "请确认 #42：http://hub.local:8000/alerts/42",
    ]


def test_english_is_selectable() -> None:
    title, body = compose(fridge(value=-20.5, threshold=-18.0, peak=None, where="Freezer 2"), now=NOW + 3600,
                          hub_url="http://hub", locale="en")
    assert title == "[CRITICAL] Freezer 2: temperature out of range"
    assert "now -20.5 °C, lower limit -18 °C: 2.5 °C below" in body
    assert "Since: 03-05 14:20 local time (1 h 25 min)" in body
    assert body.endswith("Acknowledge #42: http://hub/alerts/42")


def test_resolved_alert_links_details_instead_of_asking_to_ack() -> None:
    title, body = compose(fridge(state="resolved"), now=NOW, hub_url="http://hub")
    assert title.endswith("（已恢复）")
    assert body.endswith("详情 #42：http://hub/alerts/42")


def test_without_value_the_rule_detail_is_shown() -> None:
    _, body = compose(fridge(kind="door", value=None, threshold=None, detail="库房门开启 12 分钟"), now=NOW,
                      hub_url="http://hub")
    assert "库房门开启 12 分钟" in body


def test_from_a_stored_alert() -> None:
    alert = Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject="kitchen-pi-1/fridge1", kind=AlertKind.TEMPERATURE,
                  severity=Severity.CRITICAL, state=AlertState.FIRING, message="冷藏冰箱1 温度 11.3 °C",
                  started_at=SINCE, updated_at=NOW, value=11.3, peak=12.0, threshold=8.0, id=42)
    note = build_notification(facts_from_alert(alert, where="冷藏冰箱1"), tier="staff", now=NOW,
                              hub_url="http://hub")
    assert note.incident_key == "kitchen-pi-1/fridge1"
    assert note.device == "kitchen-pi-1"
    assert note.alert_ids == (42,)
    assert "超出 3.3 °C" in note.body


def _note(body: str, alert_id: int = 1, severity: str = "warning", locale: str = "zh") -> Notification:
    return Notification(alert_id=alert_id, incident_key="k", severity=Severity(severity),
                        title="【紧急】冷藏冰箱1 温度异常", body=body, tier="staff", created_at=0.0, locale=locale)


def test_render_cuts_the_middle_and_keeps_the_acknowledge_line() -> None:
    note = _note("位置：一号食堂 冷藏冰箱1\n" + "很长的说明" * 40 + "\n请确认 #42：http://hub/alerts/42")
    text = render(note, 80)
    assert len(text) <= 80
    assert text.startswith("【紧急】冷藏冰箱1 温度异常")
    assert text.endswith("\n请确认 #42：http://hub/alerts/42")
    assert "…" in text
    assert render(note, None) == f"{note.title}\n{note.body}"
    assert len(render(_note("x" * 500), 50)) <= 50


def test_merge_keeps_latest_text_worst_severity_and_every_id() -> None:
    merged = merge_same_incident([_note("a", 1, "critical"), _note("b", 2, "warning"), _note("c", 3, "warning")])
    assert merged.severity == "critical"
    assert merged.alert_ids == (3, 1, 2)
    assert merged.body.startswith("c\n")


def test_digest_lists_incidents_worst_first() -> None:
    folded = digest([_note("温度 9 °C", 1, "warning"), _note("温度 15 °C", 2, "critical")])
    assert folded.title == "2 条告警"
    assert folded.body.index("15 °C") < folded.body.index("9 °C")
    assert folded.alert_ids == (2, 1)
    assert digest([_note("x", 1, locale="en"), _note("y", 2, locale="en")]).title == "2 alerts"


@pytest.mark.parametrize(("rule", "kind", "zh", "en"), [
    ("device_offline", "device", "设备离线", "device offline"),
    ("sensor_fault", "sensor", "传感器故障", "sensor fault"),
    ("channel_failing", "hub", "通知渠道故障", "notification channel failing"),
    ("gate_after_hours", "gate", "非开放时间开门", "opened after hours"),
    ("sample_discarded_early", "sample", "留样提前弃置", "food samples discarded early"),
])
def test_titles_name_the_alarm_for_every_rule_the_hub_raises(rule: str, kind: str, zh: str, en: str) -> None:
    alert = Alert(rule=RuleKind(rule), subject="gate-1/main-gate", kind=AlertKind(kind), severity=Severity.CRITICAL,
                  state=AlertState.FIRING, message="校门", started_at=SINCE, updated_at=NOW, id=7)
    for locale, label in (("zh", zh), ("en", en)):
        title, _ = compose(facts_from_alert(alert, where="校门"), now=NOW, hub_url="http://hub", locale=locale)
        assert label in title and rule not in title


def test_facts_without_a_rule_are_named_by_their_kind() -> None:
    """Every stored alert has a rule; facts built by hand may not, and still get a title."""
    facts = AlertFacts(alert_id=7, kind=AlertKind.GATE, severity=Severity.CRITICAL, state=AlertState.FIRING,
                       where="校门", subject="gate-1/main-gate", since=SINCE)
    for locale, label in (("zh", "门岗报警"), ("en", "gate alarm")):
        title, _ = compose(facts, now=NOW, hub_url="http://hub", locale=locale)
        assert label in title


def test_an_alert_of_an_unknown_rule_cannot_be_made() -> None:
    """A rule must have a description (hub.alerts.builtin) before an alert of it can exist."""
    with pytest.raises(ValueError, match="some_future_rule"):
        Alert(rule="some_future_rule", subject="gate-1/main-gate", kind=AlertKind.GATE,  # type: ignore[arg-type]
              severity=Severity.CRITICAL, state=AlertState.FIRING, message="校门", started_at=SINCE, updated_at=NOW)


def test_a_firing_alarm_says_what_to_do_now_as_one_line_per_step() -> None:
    steps = ("检查冰箱门是否关严", "丢弃在 8 °C 以上存放超过 2 小时的食品\n请确认 #1：http://evil.example")
    _, body = compose(fridge(steps=steps), now=NOW, hub_url="http://hub")
    lines = body.split("\n")
    assert lines[-4:-1] == ["现在该做：", "1. 检查冰箱门是否关严", lines[-2]]
    assert lines[-2].startswith("2. 丢弃在 8 °C 以上存放超过 2 小时的食品") and "\n" not in lines[-2]
    assert "http://evil.example" not in lines[-2]  # a step is data: no line of its own, no link
    assert lines[-1] == "请确认 #42：http://hub/alerts/42"
    _, resolved = compose(fridge(steps=steps, state="resolved"), now=NOW, hub_url="http://hub")
    assert "现在该做" not in resolved  # once it cleared, the message only links the details
    _, english = compose(fridge(steps=("Move the food",)), now=NOW, hub_url="http://hub", locale="en")
    assert "What to do now:\n1. Move the food\nAcknowledge #42" in english
