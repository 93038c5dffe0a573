"""The checklist and work-order rules as pure functions of (config, facts, time): no I/O here.

Periods are local dates: a day, an ISO week (Monday to Sunday) or a calendar month.
A daily checklist is due on each day its ``DayRule`` runs; a weekly or monthly one on
the last such day of its period (a week of holidays has no weekly check to miss).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.checks.config import ItemConfig, ScanReportsConfig, TemplateConfig
from hub.checks.kinds import (
    OPEN_ORDER_STATES,
    Answer,
    Cadence,
    DayRule,
    ItemKind,
    OrderAction,
    OrderState,
    ScanRefusal,
    Urgency,
)


@dataclass(frozen=True)
class Period:
    """One period of a cadence: its key on the record ("2026-10-08", "2026-W41", "2026-10") and its days."""

    key: str
    first: dt.date
    last: dt.date

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period_of(cadence: Cadence, day: dt.date) -> Period:
    """The period of ``cadence`` that ``day`` falls in."""
    if cadence is Cadence.DAILY:
        return Period(day.isoformat(), day, day)
    if cadence is Cadence.WEEKLY:
        year, week, weekday = day.isocalendar()
        first = day - dt.timedelta(days=weekday - 1)
        return Period(f"{year}-W{week:02d}", first, first + dt.timedelta(days=6))
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return Period(f"{day.year}-{day.month:02d}", first, following - dt.timedelta(days=1))


def previous(cadence: Cadence, period: Period) -> Period:
    return period_of(cadence, period.first - dt.timedelta(days=1))


def due_day(period: Period, runs_on: Callable[[dt.date], bool]) -> dt.date | None:
    """The day a checklist of ``period`` is due: the last day of the period it runs on (None: not due)."""
    for day in reversed(period.days()):
        if runs_on(day):
            return day
    return None


def deadline(day: dt.date, due_by: dt.time, tz: ZoneInfo) -> float:
    """Epoch seconds of ``due_by`` (local) on ``day``."""
    return dt.datetime.combine(day, due_by, tz).timestamp()


def overdue_active(now: float, deadline_ts: float, done: bool, give_up_at: float, watch_since: float) -> bool:
    """An undone checklist past its deadline; it stops being news at ``give_up_at`` (then it resolves).

    Deadlines before the hub first watched are not counted: it was not there to see them met.
    """
    return not done and watch_since <= deadline_ts <= now < give_up_at


def too_fast(opened_at: float, submitted_at: float, min_duration_s: float) -> bool:
    """Ticked faster than anyone could have looked (flagged on the record, never refused)."""
    return submitted_at - opened_at < min_duration_s


def in_range(item: ItemConfig, value: float) -> bool:
    return (item.low is None or value >= item.low) and (item.high is None or value <= item.high)


def judged(item: ItemConfig, answer: Answer | None, value: float | None, text: str = "",
           photos: int = 0) -> Answer | None:
    """The answer a line stands for: a number outside its range, or a failing option, is a failure whatever was
    ticked; a photo or a signature given is the line done."""
    if item.kind is ItemKind.NUMBER and value is not None:
        return Answer.OK if in_range(item, value) else Answer.FAIL
    if item.kind is ItemKind.CHOICE and answer is not Answer.NA and text in item.options:
        return Answer.FAIL if text in item.fail_options else Answer.OK
    if item.kind is ItemKind.PHOTO and answer is not Answer.NA and photos:
        return answer or Answer.OK
    if item.kind is ItemKind.SIGNATURE and answer is not Answer.NA and (photos or text.strip()):
        return answer or Answer.OK
    return answer


def answer_problem(item: ItemConfig, answer: Answer | None, value: float | None, text: str, note: str,
                   overrides_auto: bool, photos: int = 0) -> str | None:
    """Why a line cannot be taken as given (None: it can)."""
    if item.photo and photos == 0 and answer is not Answer.NA:
        return "a photo taken on the spot is needed · 请现场拍照"
    if item.kind is ItemKind.NUMBER and value is None and answer is not Answer.NA:
        return "a number is needed · 请填写数值"
    if item.kind is ItemKind.TEXT and not text.strip() and answer is not Answer.NA:
        return "text is needed · 请填写内容"
    if item.kind is ItemKind.YES_NO and answer is None:
        return "answer ok, fail or na · 请选择 合格/不合格/不适用"
    if item.kind is ItemKind.CHOICE and answer is not Answer.NA and text not in item.options:
        return f"choose one of {' / '.join(item.options)} · 请从选项中选择"
    if item.kind is ItemKind.PHOTO and photos == 0 and answer is not Answer.NA:
        return "a photo taken on the spot is needed · 请现场拍照"
    # A signature is drawn on the page, or — for someone who cannot draw one (a keyboard, a screen reader) —
    # the signer's name typed in; either way the line is tied to the signed-in account that sent it.
    if item.kind is ItemKind.SIGNATURE and (photos > 1 or answer is Answer.NA or (photos == 0 and not text.strip())):
        return "sign on the page (draw one signature, or type your name) · 请在页面上手写签名或键入姓名"
    if judged(item, answer, value, text, photos) is Answer.FAIL and not note.strip():
        return "a failed item needs a note saying what was found · 不合格项须写明情况"
    if overrides_auto and not note.strip():
        return "overriding the automatic answer needs a reason · 修改自动判断须写明原因"
    return None


def order_due_at(reported_at: float, urgency: Urgency, due_h: dict[Urgency, float]) -> float:
    return reported_at + due_h[urgency] * 3600.0


#: Which action moves a work order from which state to which.
TRANSITIONS: dict[tuple[OrderState, OrderAction], OrderState] = {
    (OrderState.REPORTED, OrderAction.ASSIGN): OrderState.ASSIGNED,
    (OrderState.ASSIGNED, OrderAction.ASSIGN): OrderState.ASSIGNED,
    (OrderState.REOPENED, OrderAction.ASSIGN): OrderState.ASSIGNED,
    (OrderState.IN_PROGRESS, OrderAction.ASSIGN): OrderState.ASSIGNED,
    (OrderState.ASSIGNED, OrderAction.START): OrderState.IN_PROGRESS,
    (OrderState.REOPENED, OrderAction.START): OrderState.IN_PROGRESS,
    (OrderState.REPORTED, OrderAction.FIX): OrderState.FIXED,
    (OrderState.ASSIGNED, OrderAction.FIX): OrderState.FIXED,
    (OrderState.IN_PROGRESS, OrderAction.FIX): OrderState.FIXED,
    (OrderState.REOPENED, OrderAction.FIX): OrderState.FIXED,
    (OrderState.FIXED, OrderAction.ACCEPT): OrderState.ACCEPTED,
    (OrderState.FIXED, OrderAction.REOPEN): OrderState.REOPENED,
}


def next_state(state: OrderState, action: OrderAction) -> OrderState | None:
    """Where ``action`` takes an order in ``state`` (None: not allowed; a note changes no state)."""
    if action is OrderAction.NOTE:
        return state
    return TRANSITIONS.get((state, action))


def acceptance_problem(fixed_by: str, accepter: str, reported_by: str = "", safety_group: bool = True
                       ) -> str | None:
    """验收 is by the reporter or the safety group (``order.accept``), never by the one who did the fix."""
    if fixed_by and fixed_by == accepter:
        return "the person who fixed it cannot accept it · 整改人不能自己验收"
    if not safety_group and accepter != reported_by:
        return "only the reporter or the safety group accepts a fix · 只有上报人或安全工作组可以验收"
    return None


def start_problem(assignee: str, actor: str) -> str | None:
    """An order is started by the person it is assigned to (who then answers for it)."""
    if assignee != actor:
        return "only the assignee starts the work · 只有被指派人可以开始处理"
    return None


def order_overdue(now: float, state: OrderState, due_at: float) -> bool:
    """An order still being worked on past its due time."""
    return state in OPEN_ORDER_STATES and now >= due_at


def urgency_of_failure(item: ItemConfig) -> Urgency:
    """A failed ★ item is urgent; any other failure is normal."""
    return Urgency.HIGH if item.key_item else Urgency.NORMAL


def template_runs_on(template: TemplateConfig, school_day: bool, canteen_open: bool) -> bool:
    if template.days is DayRule.EVERY:
        return True
    return canteen_open if template.days is DayRule.CANTEEN else school_day


def scan_refusal(enabled: bool, by_source: int, by_place: int, pending: int,
                 limits: ScanReportsConfig) -> ScanRefusal | None:
    """Whether a report from a scan without signing in is refused, given what was taken in the last hour.

    The queue bound comes first: a full queue refuses everyone alike until someone triages it,
    so a flood from many addresses cannot bury the reports already waiting.
    """
    if not enabled:
        return ScanRefusal.CLOSED
    if pending >= limits.pending_max:
        return ScanRefusal.QUEUE
    if by_source >= limits.per_address_per_hour:
        return ScanRefusal.ADDRESS
    if by_place >= limits.per_place_per_hour:
        return ScanRefusal.PLACE
    return None
