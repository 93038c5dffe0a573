"""Message text, as pure functions: what, where, how far out of range, since when, how to acknowledge.

Staff read these on a phone in a hot kitchen, so the first line says what is
wrong and where, and the last line — kept even when a channel forces the text
short — says how to acknowledge. Times are the school's local time (Asia/Shanghai
by default), never UTC: a 02:00 alarm must not read 18:00.

Names, units and the alert's text carry what devices and staff sent; ``compose``
passes each through ``hub.safetext.one_line``, so none can start a line of its own
(a forged "请确认" line above the real one) or become a clickable address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from hub.alerts.builtin import describe
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity, worst
from hub.notify.base import Notification
from hub.safetext import one_line
from hub.store.state import Alert

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

_SEVERITY: dict[str, dict[Severity, str]] = {
    "zh": {Severity.CRITICAL: "紧急", Severity.WARNING: "警告", Severity.INFO: "提示"},
    "en": {Severity.CRITICAL: "CRITICAL", Severity.WARNING: "WARNING", Severity.INFO: "INFO"},
}
#: What the alarm is when no rule is known (facts built by hand); a rule's own title comes first.
_KIND: dict[str, dict[AlertKind, str]] = {
    "zh": {AlertKind.TEMPERATURE: "温度异常", AlertKind.DOOR: "门未关", AlertKind.GATE: "门岗报警",
           AlertKind.SAMPLE: "留样提醒", AlertKind.SAMPLE_NOTICE: "留样提醒", AlertKind.DEVICE: "设备异常",
           AlertKind.SENSOR: "传感器异常", AlertKind.HUB: "系统异常", AlertKind.CHECK: "检查逾期",
           AlertKind.WORK_ORDER: "工单逾期"},
    "en": {AlertKind.TEMPERATURE: "temperature out of range", AlertKind.DOOR: "door left open",
           AlertKind.GATE: "gate alarm", AlertKind.SAMPLE: "food sample reminder",
           AlertKind.SAMPLE_NOTICE: "food sample reminder", AlertKind.DEVICE: "device problem",
           AlertKind.SENSOR: "sensor problem", AlertKind.HUB: "system problem",
           AlertKind.CHECK: "checklist overdue", AlertKind.WORK_ORDER: "work order overdue"},
}
#: Said after the title once the alarm is no longer news (firing and pending say nothing).
_STATE: dict[str, dict[AlertState, str]] = {
    "zh": {AlertState.RESOLVED: "已恢复", AlertState.CANCELLED: "已取消", AlertState.ACKNOWLEDGED: "已确认",
           AlertState.CLOSED: "已关闭"},
    "en": {AlertState.RESOLVED: "resolved", AlertState.CANCELLED: "cancelled",
           AlertState.ACKNOWLEDGED: "acknowledged", AlertState.CLOSED: "closed"},
}
#: States whose message asks staff to acknowledge (the others link to the details).
_TO_ACKNOWLEDGE = (AlertState.PENDING, AlertState.FIRING)
_ELLIPSIS = "…"


@dataclass(frozen=True)
class AlertFacts:
    """What a message needs to know about an alert, independent of how the engine stores it."""

    alert_id: int | None
    kind: AlertKind
    severity: Severity
    state: AlertState
    #: Where, in words staff know ("一号食堂 冷藏冰箱1"); the subject is shown beside it.
    where: str
    subject: str
    since: float
    value: float | None = None
    threshold: float | None = None
    peak: float | None = None
    unit: str = ""
    #: Free text from the rule when the kind has no value/limit (e.g. a door or a channel error).
    detail: str = ""
    #: The rule that raised it (its description names the alarm in the title; ``kind`` when there is none).
    rule: RuleKind | None = None
    #: What to do now: the alarm's playbook steps (hub.alerts.playbooks), listed while it wants acknowledging.
    steps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Hold the typed values whatever was passed; an unknown one fails here, not in a title."""
        object.__setattr__(self, "kind", AlertKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "state", AlertState(self.state))
        if self.rule is not None:
            object.__setattr__(self, "rule", RuleKind(self.rule))


def facts_from_alert(alert: Alert, where: str | None = None, unit: str | None = None,
                     steps: Sequence[str] = ()) -> AlertFacts:
    """Read the facts off a stored alert; ``where`` defaults to its subject (``device/sensor``)."""
    return AlertFacts(
        alert_id=alert.id, kind=alert.kind, severity=alert.severity, state=alert.state,
        where=where or alert.subject, subject=alert.subject, since=alert.started_at,
        value=alert.value, threshold=alert.threshold, peak=alert.peak,
        unit=unit if unit is not None else ("°C" if alert.kind is AlertKind.TEMPERATURE else ""),
        detail=alert.message, rule=alert.rule, steps=tuple(steps),
    )


def _local(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M")


def _duration(seconds: float, locale: str) -> str:
    minutes = max(0, int(seconds // 60))
    hours, minutes = divmod(minutes, 60)
    if locale == "zh":
        return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"


def deviation_line(facts: AlertFacts, locale: str) -> str | None:
    """'How far out of range', or ``None`` when the alert has no value and limit."""
    if facts.value is None or facts.threshold is None:
        return None
    unit = f" {facts.unit}" if facts.unit else ""
    above = facts.value > facts.threshold
    off = abs(facts.value - facts.threshold)
    peak = ""
    if facts.peak is not None and facts.peak != facts.value:
        peak = f"（峰值 {_num(facts.peak)}{unit}）" if locale == "zh" else f" (peak {_num(facts.peak)}{unit})"
    if locale == "zh":
        limit = "上限" if above else "下限"
        word = "超出" if above else "低于"
        return f"当前 {_num(facts.value)}{unit}，{limit} {_num(facts.threshold)}{unit}，{word} {_num(off)}{unit}{peak}"
    limit = "upper limit" if above else "lower limit"
    word = "above" if above else "below"
    return (f"now {_num(facts.value)}{unit}, {limit} {_num(facts.threshold)}{unit}:"
            f" {_num(off)}{unit} {word}{peak}")


def alert_url(hub_url: str, alert_id: int | None) -> str:
    return f"{hub_url.rstrip('/')}/alerts/{alert_id}" if alert_id is not None else hub_url.rstrip("/")


@dataclass(frozen=True)
class AckLink:
    """A one-tap link for one recipient (hub.auth.links): whose it is, and the address."""

    name: str
    url: str


def compose(facts: AlertFacts, *, now: float, hub_url: str, locale: str = "zh",
            tz: ZoneInfo = DEFAULT_TZ, links: Sequence[AckLink] = (), note: str = "") -> tuple[str, str]:
    """Title and body for one alert, in ``locale`` ("zh" or "en").

    With ``links`` (one per recipient, made when a public address is configured) the last
    line offers each person their own link; without, it says where to sign in and acknowledge.
    ``note`` is a line of the hub's own before that one (an acknowledged alarm still not handled).
    """
    facts = replace(facts, where=one_line(facts.where), subject=one_line(facts.subject),
                    detail=one_line(facts.detail), unit=one_line(facts.unit),
                    steps=tuple(one_line(step) for step in facts.steps))
    lang = "en" if locale == "en" else "zh"
    severity = _SEVERITY[lang][facts.severity]
    kind = describe(facts.rule).title.get(lang) if facts.rule is not None else _KIND[lang][facts.kind]
    state = _STATE[lang].get(facts.state)
    suffix = (f"（{state}）" if lang == "zh" else f" ({state})") if state else ""
    if lang == "zh":
        title = f"【{severity}】{facts.where} {kind}{suffix}"
    else:
        title = f"[{severity}] {facts.where}: {kind}{suffix}"
    lines: list[str] = []
    where = facts.where if facts.where == facts.subject or not facts.subject else f"{facts.where}（{facts.subject}）"
    lines.append(f"位置：{where}" if lang == "zh" else f"Where: {where.replace('（', ' (').replace('）', ')')}")
    deviation = deviation_line(facts, lang)
    if deviation is not None:
        lines.append(deviation)
    elif facts.detail:
        lines.append(facts.detail)
    since, lasted = _local(facts.since, tz), _duration(now - facts.since, lang)
    lines.append(f"开始：{since}（已持续 {lasted}）" if lang == "zh" else f"Since: {since} local time ({lasted})")
    url = alert_url(hub_url, facts.alert_id)
    number = f"#{facts.alert_id}" if facts.alert_id is not None else ""
    if note:
        lines.append(one_line(note))
    if facts.steps and facts.state in _TO_ACKNOWLEDGE:
        lines.append("现在该做：" if lang == "zh" else "What to do now:")
        lines.extend(f"{n}. {step}" for n, step in enumerate(facts.steps, 1))
    if facts.state in _TO_ACKNOWLEDGE and links:
        offers = " · ".join(f"{one_line(link.name)} {link.url}" for link in links)
        lines.append(f"请确认 {number}（本人一键链接，限用一次）：{offers}" if lang == "zh"
                     else f"Acknowledge {number} (each person's own link, one use): {offers}")
    elif facts.state in _TO_ACKNOWLEDGE:  # no public address for links: where to sign in and acknowledge
        lines.append(f"请确认 {number}：{url}" if lang == "zh" else f"Acknowledge {number}: {url}")
    else:
        lines.append(f"详情 {number}：{url}" if lang == "zh" else f"Details {number}: {url}")
    return title, "\n".join(lines)


#: A line offering one-tap links (``compose``): an address with ``/link/<alarm>/<token>`` in it.
_LINK_LINE = re.compile(r"https?://\S+/link/\d+/\S+")


def without_links(notification: Notification) -> Notification:
    """The message without its one-tap link lines: for an SMS, whose reply code does the same in a few characters."""
    kept = [line for line in notification.body.split("\n") if not _LINK_LINE.search(line)]
    return replace(notification, body="\n".join(kept))


def build_notification(facts: AlertFacts, *, tier: str, now: float, hub_url: str, locale: str = "zh",
                       tz: ZoneInfo = DEFAULT_TZ, incident_key: str | None = None,
                       recipients: Sequence[str] = (), links: Sequence[AckLink] = (),
                       note: str = "") -> Notification:
    """The notification for one alert at one tier; the incident key defaults to the rule subject."""
    title, body = compose(facts, now=now, hub_url=hub_url, locale=locale, tz=tz, links=links, note=note)
    return Notification(alert_id=facts.alert_id, incident_key=incident_key or facts.subject or str(facts.alert_id),
                        severity=facts.severity, title=title, body=body, tier=tier, created_at=now,
                        locale=locale, recipients=tuple(recipients), subject=facts.subject,
                        wants_ack=facts.state in _TO_ACKNOWLEDGE and facts.alert_id is not None)


def render(notification: Notification, max_chars: int | None = None) -> str:
    """Title and body as one text, cut to ``max_chars`` keeping the title and the acknowledge line.

    Cutting from the end would lose the one line that lets staff act (the link),
    so the middle lines are shortened first and the last line is kept whole.
    """
    text = f"{notification.title}\n{notification.body}" if notification.body else notification.title
    if max_chars is None or len(text) <= max_chars:
        return text
    lines = text.split("\n")
    last = lines[-1] if len(lines) > 1 else ""
    head = "\n".join(lines[:-1]) if len(lines) > 1 else text
    room = max_chars - len(last) - 1 if last else max_chars
    if room < 8:  # the link alone does not fit: keep the start, which says what and where
        return text[: max_chars - 1] + _ELLIPSIS
    return f"{head[: room - 1]}{_ELLIPSIS}\n{last}" if len(head) > room else f"{head}\n{last}"



def merge_same_incident(notifications: Sequence[Notification]) -> Notification:
    """Fold updates of one incident into one message: the latest text, the worst severity, a count."""
    latest = notifications[-1]
    if len(notifications) == 1:
        return latest
    ids = tuple(i for n in notifications for i in n.alert_ids)
    note = (f"（{len(notifications)} 条更新已合并）" if latest.locale != "en"
            else f"({len(notifications)} updates merged)")
    first_id = latest.alert_id if latest.alert_id is not None else (ids[0] if ids else None)
    return replace(latest, alert_id=first_id, severity=worst(n.severity for n in notifications),
                   body=f"{latest.body}\n{note}", related_ids=tuple(i for i in dict.fromkeys(ids) if i != first_id))


def digest(notifications: Sequence[Notification]) -> Notification:
    """Several incidents held back by a rate limit, as one message: one block per incident, worst first."""
    if len(notifications) == 1:
        return notifications[0]
    ordered = sorted(notifications, key=lambda n: -n.severity.rank)
    first = ordered[0]
    zh = first.locale != "en"
    title = f"{len(ordered)} 条告警" if zh else f"{len(ordered)} alerts"
    blocks = [f"{n.title}\n{n.body}" for n in ordered]
    ids = tuple(dict.fromkeys(i for n in ordered for i in n.alert_ids))
    return replace(first, alert_id=ids[0] if ids else None, related_ids=ids[1:], title=title,
                   body="\n\n".join(blocks), severity=first.severity,
                   incident_key="+".join(dict.fromkeys(n.incident_key for n in ordered)),
                   recipients=tuple(dict.fromkeys(r for n in ordered for r in n.recipients)),
                   subject=first.subject)
