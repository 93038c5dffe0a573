"""Every rule described once: what it raises, how bad by default, what its alarm is called and says.

Like Home Assistant's entity descriptions: one frozen record per rule in one table,
and the engine (subject kind and severity, what state the rule keeps, the message),
the notification titles and the pages read it from here. Adding a rule is a
``RuleKind`` member and a row in ``RULES``; a test walks the table and checks each
row names its alarm in both languages and survives the trip through the store.

Rules of the domain modules (gate duty, food samples, the broker watch) write their
own messages — they know the calendar, the meal, the gatekeeper — and pass them to
``AlertEngine.observe``; their rows have no ``message``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerts import messages
from hub.alerts.kinds import AlertKind, RuleKind, Severity


@dataclass(frozen=True)
class Text:
    """One text in both languages staff may choose (``alerts.locale``)."""

    zh: str
    en: str

    def get(self, locale: str) -> str:
        """The text in ``locale``; Simplified Chinese unless English is asked for."""
        return self.en if locale == "en" else self.zh


@dataclass(frozen=True)
class MessageContext:
    """What a rule's message may use about one episode."""

    #: The subject as staff call it (the configured sensor name), and its key.
    name: str
    subject: str
    #: When the condition began.
    since: float
    tz: ZoneInfo
    locale: str
    #: What the observation said about the episode (a fault reason, a channel's error, a drop count …).
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The threshold rule's worst value and the limit it is beyond.
    value: float | None = None
    limit: float | None = None


#: Renders an alert message for one episode.
MessageFn = Callable[[MessageContext], str]


@dataclass(frozen=True)
class RuleDescription:
    """One rule: its key, what it raises, its default severity, its alarm's name and message."""

    key: RuleKind
    #: The alert kind it raises (picks the escalation policy and the page).
    kind: AlertKind
    #: Unless the observation says otherwise (a sensor's limits, the gate's day and night).
    severity: Severity
    #: What the alarm is, in a notification's title ("【紧急】冷藏冰箱1 温度异常").
    title: Text
    #: The alert's message; ``None``: the observing module writes it (``AlertEngine.observe``).
    message: MessageFn | None = None
    #: The rule keeps a threshold state (peak and last value) rather than a plain condition.
    threshold: bool = False


def _temperature(c: MessageContext) -> str:
    assert c.value is not None
    return messages.temperature(c.name, c.value, c.limit, c.since, c.tz, c.locale)


def _fault(c: MessageContext) -> str:
    return messages.fault(c.name, str(c.extra.get("fault", "?")), c.since, c.tz, c.locale)


def _stale(c: MessageContext) -> str:
    return messages.stale(c.name, c.extra.get("last"), c.tz, c.locale)


def _door(c: MessageContext) -> str:
    return messages.door_open(c.name, c.since, c.tz, c.locale)


def _offline(c: MessageContext) -> str:
    return messages.offline(c.subject, float(c.extra.get("since", c.since)), c.tz, c.locale)


def _clock(c: MessageContext) -> str:
    return messages.clock_unsynced(c.subject, c.locale)


def _dropping(c: MessageContext) -> str:
    return messages.dropping(c.subject, int(c.extra.get("increase", 0)), c.locale)


def _channel(c: MessageContext) -> str:
    return messages.channel_failing(c.subject, str(c.extra.get("error", "")), c.locale)


RULES: tuple[RuleDescription, ...] = (
    RuleDescription(RuleKind.TEMPERATURE_LIMITS, AlertKind.TEMPERATURE, Severity.CRITICAL,
                    Text("温度异常", "temperature out of range"), _temperature, threshold=True),
    RuleDescription(RuleKind.SENSOR_FAULT, AlertKind.SENSOR, Severity.WARNING,
                    Text("传感器故障", "sensor fault"), _fault),
    RuleDescription(RuleKind.SENSOR_STALE, AlertKind.SENSOR, Severity.WARNING,
                    Text("传感器无数据", "sensor silent"), _stale),
    RuleDescription(RuleKind.DOOR_OPEN_TOO_LONG, AlertKind.DOOR, Severity.WARNING,
                    Text("门未关", "door left open"), _door),
    RuleDescription(RuleKind.DEVICE_OFFLINE, AlertKind.DEVICE, Severity.CRITICAL,
                    Text("设备离线", "device offline"), _offline),
    RuleDescription(RuleKind.CLOCK_UNSYNCED, AlertKind.DEVICE, Severity.WARNING,
                    Text("时钟未同步", "clock not synchronised"), _clock),
    RuleDescription(RuleKind.OUTBOX_DROPPING, AlertKind.DEVICE, Severity.WARNING,
                    Text("缓存溢出丢数据", "outbox dropping readings"), _dropping),
    RuleDescription(RuleKind.CHANNEL_FAILING, AlertKind.HUB, Severity.CRITICAL,
                    Text("通知渠道故障", "notification channel failing"), _channel),
    # A device sending what breaks the wire contract (a broken node, a stolen Pi's account): hub.ingest.
    RuleDescription(RuleKind.DEAD_LETTERS, AlertKind.DEVICE, Severity.WARNING,
                    Text("设备发送异常消息", "device sending malformed messages")),
    # Its title has always been the hub kind's ("系统异常"); the message says what was lost.
    RuleDescription(RuleKind.BROKER_DROPPING, AlertKind.HUB, Severity.CRITICAL,
                    Text("系统异常", "system problem")),
    # The hub's disk refuses writes (full, I/O error, read-only): raised from memory (hub.store_outage).
    RuleDescription(RuleKind.STORE_CANNOT_WRITE, AlertKind.HUB, Severity.CRITICAL,
                    Text("服务器无法写入数据", "hub cannot store data")),
    # The nightly backup (hub.backup) did not write its archive; its message names the directory and why.
    RuleDescription(RuleKind.BACKUP_FAILED, AlertKind.HUB, Severity.WARNING,
                    Text("备份失败", "backup failed")),
    # The school keeps alarming on its own; the district sees nothing new until the link is back (hub.forward).
    RuleDescription(RuleKind.DISTRICT_LINK, AlertKind.HUB, Severity.WARNING,
                    Text("区县平台连接中断", "district link down")),
    RuleDescription(RuleKind.GATE_AFTER_HOURS, AlertKind.GATE, Severity.WARNING,
                    Text("非开放时间开门", "opened after hours")),
    RuleDescription(RuleKind.GATE_NOT_CLOSED, AlertKind.GATE, Severity.WARNING,
                    Text("关门时间未关", "not closed at closing time")),
    RuleDescription(RuleKind.GATE_TAMPER, AlertKind.GATE, Severity.WARNING,
                    Text("门磁被破坏", "door sensor tampered with")),
    RuleDescription(RuleKind.GATE_SENSOR_OFFLINE, AlertKind.GATE, Severity.WARNING,
                    Text("门磁离线", "door sensor offline")),
    RuleDescription(RuleKind.PATROL_ROUND_MISSED, AlertKind.GATE, Severity.WARNING,
                    Text("巡更漏巡", "patrol round missed")),
    RuleDescription(RuleKind.SAMPLE_MISSING, AlertKind.SAMPLE, Severity.WARNING,
                    Text("未留样", "food samples not logged")),
    RuleDescription(RuleKind.SAMPLE_UNDERWEIGHT, AlertKind.SAMPLE, Severity.WARNING,
                    Text("留样不足量", "food sample under weight")),
    RuleDescription(RuleKind.SAMPLE_DISCARDED_EARLY, AlertKind.SAMPLE, Severity.CRITICAL,
                    Text("留样提前弃置", "food samples discarded early")),
    RuleDescription(RuleKind.SAMPLE_DISCARDABLE, AlertKind.SAMPLE_NOTICE, Severity.INFO,
                    Text("留样可弃置", "food samples may be discarded")),
    RuleDescription(RuleKind.CHECK_OVERDUE, AlertKind.CHECK, Severity.WARNING,
                    Text("检查逾期未做", "checklist overdue")),
    RuleDescription(RuleKind.WORK_ORDER_OVERDUE, AlertKind.WORK_ORDER, Severity.WARNING,
                    Text("隐患整改逾期", "work order overdue")),
    # A probe's calibration (hub.calibration): a check outside the tolerance, until re-checked OK or replaced …
    RuleDescription(RuleKind.CALIBRATION_FAILED, AlertKind.SENSOR, Severity.WARNING,
                    Text("探头校准不合格", "probe failed its calibration check")),
    # … and a check past its due date.
    RuleDescription(RuleKind.CALIBRATION_OVERDUE, AlertKind.SENSOR, Severity.WARNING,
                    Text("探头校准逾期", "probe calibration overdue")),
    RuleDescription(RuleKind.VISITOR_INSIDE_AT_CLOSING, AlertKind.VISITOR, Severity.WARNING,
                    Text("闭门时访客未离校", "visitor still inside at closing time")),
    RuleDescription(RuleKind.VISITOR_AFTER_HOURS, AlertKind.VISITOR, Severity.WARNING,
                    Text("非开放时间访客入校", "visitor checked in outside gate hours")),
    RuleDescription(RuleKind.GATE_OPENING_UNREGISTERED, AlertKind.VISITOR, Severity.WARNING,
                    Text("非开放时间开门无登记", "gate opened after hours, nobody registered")),
    RuleDescription(RuleKind.PUPIL_NOT_RETURNED, AlertKind.VISITOR, Severity.WARNING,
                    Text("请假学生逾期未返校", "pupil on a leave slip not back")),
)

#: The table by key (read-only: descriptions are constants).
BY_KEY: Mapping[RuleKind, RuleDescription] = MappingProxyType({rule.key: rule for rule in RULES})


def describe(rule: RuleKind) -> RuleDescription:
    """The description of ``rule`` (every ``RuleKind`` has one; a test checks it)."""
    return BY_KEY[rule]
