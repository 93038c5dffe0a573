"""The checklist and work-order rules, on plain values."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from hub.checks import prefill, rules
from hub.checks.config import ChecksConfig, ItemConfig
from hub.checks.kinds import Answer, Cadence, ItemKind, OrderAction, OrderState, Urgency
from hub.gate.store import Sweep

TZ = ZoneInfo("Asia/Shanghai")


def test_periods() -> None:
    day = dt.date(2026, 10, 8)  # a Thursday
    assert rules.period_of(Cadence.DAILY, day).key == "2026-10-08"
    week = rules.period_of(Cadence.WEEKLY, day)
    assert (week.key, week.first, week.last) == ("2026-W41", dt.date(2026, 10, 5), dt.date(2026, 10, 11))
    month = rules.period_of(Cadence.MONTHLY, dt.date(2026, 2, 14))
    assert (month.key, month.first, month.last) == ("2026-02", dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert rules.previous(Cadence.MONTHLY, month).key == "2026-01"


def test_a_weekly_check_is_due_on_the_last_school_day_and_not_in_a_holiday_week() -> None:
    week = rules.period_of(Cadence.WEEKLY, dt.date(2026, 10, 8))
    assert rules.due_day(week, lambda d: d.weekday() < 5) == dt.date(2026, 10, 9)
    assert rules.due_day(week, lambda d: d.weekday() < 3) == dt.date(2026, 10, 7)
    assert rules.due_day(week, lambda d: False) is None


def test_overdue_window() -> None:
    deadline = rules.deadline(dt.date(2026, 10, 8), dt.time(14, 0), TZ)
    assert not rules.overdue_active(deadline - 1, deadline, False, deadline + 86400, 0)
    assert rules.overdue_active(deadline + 1, deadline, False, deadline + 86400, 0)
    assert not rules.overdue_active(deadline + 1, deadline, True, deadline + 86400, 0)
    assert not rules.overdue_active(deadline + 86400, deadline, False, deadline + 86400, 0)
    # A deadline before the hub was watching is not counted.
    assert not rules.overdue_active(deadline + 1, deadline, False, deadline + 86400, deadline + 0.5)


def test_a_failed_item_needs_a_note_and_a_number_out_of_range_is_a_failure() -> None:
    core = ItemConfig(key="core", text="中心温度", kind=ItemKind.NUMBER, low=70, unit="°C")
    yes = ItemConfig(key="clean", text="清洁")
    assert rules.judged(core, Answer.OK, 65.0) is Answer.FAIL
    assert rules.answer_problem(core, Answer.OK, 65.0, "", "", False) is not None
    assert rules.answer_problem(core, None, 72.0, "", "", False) is None
    assert rules.answer_problem(core, None, None, "", "", False) is not None
    assert rules.answer_problem(yes, Answer.FAIL, None, "", "  ", False) is not None
    assert rules.answer_problem(yes, Answer.FAIL, None, "", "地面有积水", False) is None
    assert rules.answer_problem(yes, None, None, "", "", False) is not None
    # Overriding what the sensors said needs a reason.
    assert rules.answer_problem(yes, Answer.OK, None, "", "", True) is not None
    assert rules.answer_problem(yes, Answer.OK, None, "", "探头被移出冰箱清洗", True) is None


def test_too_fast() -> None:
    assert rules.too_fast(100.0, 130.0, 120.0)
    assert not rules.too_fast(100.0, 220.0, 120.0)


@pytest.mark.parametrize(("state", "action", "expected"), [
    (OrderState.REPORTED, OrderAction.ASSIGN, OrderState.ASSIGNED),
    (OrderState.ASSIGNED, OrderAction.FIX, OrderState.FIXED),
    (OrderState.FIXED, OrderAction.ACCEPT, OrderState.ACCEPTED),
    (OrderState.FIXED, OrderAction.REOPEN, OrderState.REOPENED),
    (OrderState.REOPENED, OrderAction.FIX, OrderState.FIXED),
    (OrderState.ACCEPTED, OrderAction.NOTE, OrderState.ACCEPTED),
    (OrderState.ACCEPTED, OrderAction.REOPEN, None),
    (OrderState.ACCEPTED, OrderAction.FIX, None),
    (OrderState.REPORTED, OrderAction.ACCEPT, None),
])
def test_work_order_transitions(state: OrderState, action: OrderAction, expected: OrderState | None) -> None:
    assert rules.next_state(state, action) == expected


def test_acceptance_is_by_someone_else_and_overdue_only_while_open() -> None:
    assert rules.acceptance_problem("wang", "wang") is not None
    assert rules.acceptance_problem("wang", "li") is None
    due = rules.order_due_at(0.0, Urgency.HIGH, ChecksConfig().order_due_h)
    assert due == 24 * 3600
    assert rules.order_overdue(due, OrderState.ASSIGNED, due)
    assert not rules.order_overdue(due, OrderState.FIXED, due)
    assert not rules.order_overdue(due - 1, OrderState.REPORTED, due)


def test_default_templates_are_valid_and_versioned() -> None:
    config = ChecksConfig()
    daily = config.templates["canteen_daily"]
    assert daily.cadence is Cadence.DAILY and any(item.auto for item in daily.items)
    assert len(daily.version()) == 12
    assert {t.cadence for t in config.templates.values()} == set(Cadence)


def test_the_gate_item_is_answered_from_the_closing_sweeps() -> None:
    assert prefill.gates([], TZ).answer is None
    closing = rules.deadline(dt.date(2026, 10, 12), dt.time(18, 0), TZ)
    clean = Sweep(1, "school_gates", closing, closing + 5, {"gate/main": {"state": "closed", "name": "大门"}}, 0)
    found = prefill.gates([clean], TZ)
    assert found.answer is Answer.OK and "1 次关门检查，均已关闭" in found.evidence
    left_open = Sweep(2, "school_gates", closing, closing + 5, {"gate/main": {"state": "closed", "name": "大门"},
                                                                 "gate/east": {"state": "open", "name": "东门"}}, 1)
    found = prefill.gates([clean, left_open], TZ)
    assert found.answer is Answer.FAIL and "18:00 关门检查（school_gates）未关：东门" in found.evidence
