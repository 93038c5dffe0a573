"""The checks component on a real hub (no broker): prefill, submit, work orders, overdue alarms, the store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.alerts.kinds import AlertKind, AlertState, RuleKind
from hub.checks.kinds import Answer, OrderState, Urgency
from hub.checks.service import AnswerInput, check_subject
from hub.checks.store import CheckStore
from hub.closed import PeriodSigned
from hub.errors import FieldError
from hub.runtime import Hub
from tests.clock import Clock, local
from tests.hub.checks.conftest import MONDAY, announce, feed


def _answers(hub: Hub, key: str, **overrides: AnswerInput) -> list[AnswerInput]:
    out = []
    for item in hub.checks.config.templates[key].items:
        if item.key in overrides:
            out.append(overrides[item.key])
        elif item.kind == "number":
            out.append(AnswerInput(item.key, value=75.0))
        elif item.kind == "text":
            out.append(AnswerInput(item.key, text="无"))
        else:
            out.append(AnswerInput(item.key, Answer.OK))
    return out


def test_fridges_are_prefilled_from_todays_readings(hub: Hub, clock: Clock) -> None:
    announce(hub)
    feed(hub, "fridge-1", [(local(f"{MONDAY} 01:00"), 3.0), (local(f"{MONDAY} 02:00"), 9.5),
                           (local(f"{MONDAY} 02:30"), 4.0)], seq=2)
    feed(hub, "freezer-1", [(local(f"{MONDAY} 01:00"), -18.0)], seq=3)
    clock.set(f"{MONDAY} 12:00")
    (daily,) = [c for c in hub.checks.due() if c.key == "canteen_daily"]
    fridges, freezers = daily.prefills["fridges"], daily.prefills["freezers"]
    assert fridges.answer is Answer.FAIL and "1号冷藏柜：3.0–9.5 °C，超限 1 次" in fridges.evidence
    assert freezers.answer is Answer.OK and "未超限" in freezers.evidence
    # Breakfast was served and nothing was sampled: the register says so.
    assert daily.prefills["samples_kept"].answer is Answer.FAIL
    assert "早餐：未留样" in daily.prefills["samples_kept"].evidence


def test_overriding_an_automatic_answer_needs_a_reason(hub: Hub, clock: Clock) -> None:
    announce(hub)
    feed(hub, "fridge-1", [(local(f"{MONDAY} 01:00"), 9.5)], seq=2)
    clock.set(f"{MONDAY} 12:00")
    answers = _answers(hub, "canteen_daily", samples_kept=AnswerInput("samples_kept", Answer.NA, note="补录"))
    with pytest.raises(FieldError, match="fridges"):
        hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang")


def test_a_failed_item_opens_a_work_order_and_a_fast_checklist_is_flagged(hub: Hub, clock: Clock) -> None:
    clock.set(f"{MONDAY} 12:00")
    answers = _answers(hub, "canteen_daily",
                       clean_floor=AnswerInput("clean_floor", Answer.FAIL, note="<b>洗碗间</b>地面积水"),
                       samples_kept=AnswerInput("samples_kept", Answer.FAIL, note="早餐漏留样"),
                       fridges=AnswerInput("fridges", Answer.NA), freezers=AnswerInput("freezers", Answer.NA))
    with pytest.raises(FieldError, match="note"):
        hub.checks.submit("canteen_daily", _answers(hub, "canteen_daily",
                                                    clean_floor=AnswerInput("clean_floor", Answer.FAIL)),
                          clock() - 600, actor="wang")
    done = hub.checks.submit("canteen_daily", answers, clock() - 30, actor="wang", request_id="r-1")
    assert done.created and done.run.too_fast and not done.run.late
    assert {o.item for o in done.orders} == {"clean_floor", "samples_kept"}
    samples_order = next(o for o in done.orders if o.item == "samples_kept")
    assert samples_order.urgency is Urgency.HIGH and samples_order.state is OrderState.REPORTED
    assert samples_order.text == "早餐漏留样" and samples_order.reported_by == "wang"
    # The phone retries: the same checklist, stored once; another submission for the day is refused.
    again = hub.checks.submit("canteen_daily", answers, clock() - 30, actor="wang", request_id="r-1")
    assert not again.created and again.run.id == done.run.id
    with pytest.raises(FieldError) as refused:
        hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang", request_id="r-2")
    assert refused.value.status == 409
    assert len(hub.checks.store.orders()) == 2
    entries = [(e.actor, e.action, e.subject) for e in hub.state.audit_entries()]
    assert ("wang", "check.submit", f"checks:canteen_daily:{MONDAY}") in entries
    assert sum(1 for e in entries if e[1] == "order.report") == 2


def test_the_record_keeps_the_template_version_and_survives_reopening(hub: Hub, clock: Clock) -> None:
    clock.set(f"{MONDAY} 12:00")
    done = hub.checks.submit("night_round", _answers(hub, "night_round"), clock() - 600, actor="zhao")
    path = hub.checks.store.path
    reopened = CheckStore(path)
    try:
        run = reopened.run(done.run.id)
        assert run is not None and run.version == hub.checks.config.templates["night_round"].version()
        assert '"门卫夜间巡查"' in run.template_json and not run.too_fast
        assert {a.item for a in run.answers} == {"rooms_locked", "power_off", "windows_shut", "gate_locked"}
    finally:
        reopened.close()


def test_work_order_from_report_to_acceptance(hub: Hub, clock: Clock) -> None:
    order = hub.checks.report("实验楼二楼门锁坏", "实验楼", "锁芯卡住", Urgency.NORMAL, actor="teacher")
    with pytest.raises(FieldError) as early:
        hub.checks.accept(order.id, "", actor="li")
    assert early.value.status == 409
    hub.checks.assign(order.id, "zhang", actor="li")
    fixed = hub.checks.fix(order.id, "更换锁芯", actor="zhang")
    assert fixed.state is OrderState.FIXED and fixed.fixed_by == "zhang"
    with pytest.raises(FieldError) as own:
        hub.checks.accept(order.id, "", actor="zhang")
    assert own.value.status == 403
    reopened = hub.checks.reopen(order.id, "还是打不开", actor="li")
    assert reopened.state is OrderState.REOPENED
    hub.checks.fix(order.id, "整把锁更换", actor="zhang")
    accepted = hub.checks.accept(order.id, "已验收", actor="li")
    assert accepted.state is OrderState.ACCEPTED and accepted.accepted_by == "li"
    # Closed stays closed: only notes.
    with pytest.raises(FieldError):
        hub.checks.fix(order.id, "again", actor="zhang")
    noted = hub.checks.note(order.id, "钥匙已交门卫", actor="li")
    assert noted.state is OrderState.ACCEPTED
    assert [s.action for s in noted.steps] == ["report", "assign", "fix", "reopen", "fix", "accept", "note"]
    assert [s.actor for s in noted.steps][-2:] == ["li", "li"]


def test_an_overdue_weekly_check_raises_an_alarm_that_clears_when_done(make_hub: Callable[..., Hub],
                                                                          clock: Clock) -> None:
    hub = make_hub()
    clock.set("2026-10-16 17:05")  # Friday after the weekly check's 17:00
    hub.checks.tick(clock())
    subject = check_subject("canteen_weekly", "2026-W42")
    (alert,) = hub.state.alerts(subject=subject)
    assert alert.state is AlertState.FIRING and alert.kind is AlertKind.CHECK
    assert alert.rule == RuleKind.CHECK_OVERDUE and "每周食品安全排查治理报告" in alert.message
    hub.checks.submit("canteen_weekly", _answers(hub, "canteen_weekly"), clock() - 900, actor="li")
    hub.checks.tick(clock() + 60)
    (after,) = hub.state.alerts(subject=subject)
    assert after.state is AlertState.RESOLVED
    run = hub.checks.store.find("canteen_weekly", "2026-W42")
    assert run is not None and run.late


def test_an_overdue_work_order_alarms_until_fixed(hub: Hub, clock: Clock) -> None:
    order = hub.checks.report("配电箱门未锁", "教学楼", "", Urgency.HIGH, actor="teacher")
    hub.checks.tick(clock() + 23 * 3600)
    assert not [a for a in hub.state.alerts(kind=AlertKind.WORK_ORDER) if a.state is AlertState.FIRING]
    hub.checks.tick(clock() + 25 * 3600)
    (alert,) = hub.state.alerts(kind=AlertKind.WORK_ORDER)
    assert alert.state is AlertState.FIRING and alert.rule == RuleKind.WORK_ORDER_OVERDUE
    hub.checks.fix(order.id, "已上锁", actor="zhang", now=clock() + 26 * 3600)
    (cleared,) = hub.state.alerts(kind=AlertKind.WORK_ORDER)
    assert cleared.state is AlertState.RESOLVED


def test_a_missed_daily_check_can_be_made_up_the_next_day_and_its_alarm_ends(hub: Hub, clock: Clock) -> None:
    clock.set("2026-10-13 08:00")  # Tuesday: Monday's canteen record was never done
    hub.checks.tick(clock())
    subject = check_subject("canteen_daily", MONDAY)
    assert hub.state.alerts(subject=subject)[0].state is AlertState.FIRING
    due = [(c.key, c.period) for c in hub.checks.due() if c.key == "canteen_daily"]
    assert due == [("canteen_daily", MONDAY), ("canteen_daily", "2026-10-13")]
    monday = next(c for c in hub.checks.due() if c.period == MONDAY and c.key == "canteen_daily")
    assert monday.prefills == {}  # today's sensor data says nothing of Monday
    answers = _answers(hub, "canteen_daily")
    with pytest.raises(FieldError, match="period"):
        hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang", period="2026-10-11")
    made_up = hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang", period=MONDAY)
    assert made_up.run.period == MONDAY and made_up.run.late
    assert hub.state.alerts(subject=subject)[0].state is AlertState.RESOLVED
    assert [c.period for c in hub.checks.due() if c.key == "canteen_daily"] == ["2026-10-13"]


def test_a_missed_check_of_a_signed_day_is_not_made_up_afterwards(hub: Hub, clock: Clock) -> None:
    clock.set("2026-10-13 08:00")  # Tuesday: Monday's record was never done, and Monday's report is signed
    hub.reports.store.add_signoff("daily", MONDAY, "zhao-officer", "赵老师", clock(), "")
    answers = _answers(hub, "canteen_daily")
    with pytest.raises(PeriodSigned, match="赵老师") as refused:
        hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang", period=MONDAY)
    assert refused.value.field == "period"
    assert hub.checks.store.find("canteen_daily", MONDAY) is None
    # A day no signature covers is made up as before.
    clock.set("2026-10-14 08:00")
    made_up = hub.checks.submit("canteen_daily", answers, clock() - 600, actor="wang", period="2026-10-13")
    assert made_up.run.period == "2026-10-13" and made_up.run.late
