"""The visitor book through a real hub: visits in and out, invitations, slips, the alarms, retention, the register."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from hub.alerts.kinds import AlertKind, AlertState, RuleKind
from hub.closed import PeriodSigned
from hub.errors import Conflict, FieldError
from hub.report import gatebook
from hub.report.period import parse
from hub.runtime import Hub
from hub.visitors.kinds import ExitKind, SlipState, VisitState
from tests.clock import TZ, Clock, local
from tests.hub.visitors.conftest import MONDAY, People, gate_event, visitor


def _alerts(hub: Hub, rule: RuleKind) -> list[tuple[str, AlertState]]:
    return [(a.subject, a.state) for a in hub.state.alerts(kind=AlertKind.VISITOR) if a.rule is rule]


def test_an_invited_delivery_is_checked_in_with_one_tap_and_out_once(hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    invited = book.invite(visitor(), dt.date(2026, 10, 12), actor=people.manager, request_key="invite-0001").record
    assert invited.state is VisitState.EXPECTED and invited.host == people.manager.username
    assert [v.id for v in book.expected(dt.date(2026, 10, 12))] == [invited.id]

    clock.set(f"{MONDAY} 09:10")
    first = book.check_in(invited.id, actor=people.gatekeeper)
    again = book.check_in(invited.id, actor=people.gatekeeper)  # the phone retries: stored once
    assert first.created and not again.created and again.record.arrived_at == local(f"{MONDAY} 09:10")
    assert [v.id for v in book.inside()] == [invited.id]

    clock.set(f"{MONDAY} 09:40")
    left = book.check_out(invited.id, actor=people.gatekeeper)
    assert left.state is VisitState.LEFT and left.left_by == people.gatekeeper.username
    with pytest.raises(Conflict, match="已于 09:40 离校"):
        book.check_out(invited.id, actor=people.gatekeeper)
    actions = [e.action for e in hub.state.audit_entries() if e.subject == f"visit:{invited.id}"]
    assert sorted(actions) == ["visitor.check_in", "visitor.check_out", "visitor.invite"]
    assert _alerts(hub, RuleKind.VISITOR_AFTER_HOURS) == []  # 09:10 is within the gate's day


def test_an_unexpected_visitor_waits_until_the_host_confirms(hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    clock.set(f"{MONDAY} 10:00")
    done = book.register(visitor("刘芳", "13900002222", host=people.teacher.username, organisation="家长"),
                         actor=people.gatekeeper, request_key="register-0001")
    retry = book.register(visitor("刘芳", "13900002222", host=people.teacher.username, organisation="家长"),
                          actor=people.gatekeeper, request_key="register-0001")
    assert done.created and not retry.created and retry.record.id == done.record.id
    assert done.record.state is VisitState.WAITING
    (notice,) = [n for n in hub.notifications.web_notices.recent() if n.incident_key == f"visit:{done.record.id}"]
    assert "刘芳" in notice.title and notice.recipients == ("+8613900001111",)
    with pytest.raises(Conflict, match="等待被访人确认"):
        book.check_in(done.record.id, actor=people.gatekeeper)
    with pytest.raises(FieldError, match="只有被访人"):
        book.answer(done.record.id, True, actor=people.other_teacher, any_host=False)

    clock.set(f"{MONDAY} 10:03")
    answered = book.answer(done.record.id, True, actor=people.teacher, any_host=False).record
    assert answered.state is VisitState.INSIDE and answered.answered_by == people.teacher.username
    assert answered.arrived_at == local(f"{MONDAY} 10:03")
    with pytest.raises(FieldError, match="host"):
        book.register(visitor(host="nobody-here"), actor=people.gatekeeper)


def test_a_visitor_still_inside_at_closing_time_raises_an_alarm_that_clears_on_check_out(
        hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    early = book.invite(visitor("陈师傅", "13700003333"), dt.date(2026, 10, 12), actor=people.manager).record
    gone = book.invite(visitor("周师傅", "13700004444"), dt.date(2026, 10, 12), actor=people.manager).record
    clock.set(f"{MONDAY} 14:00")
    book.check_in(early.id, actor=people.gatekeeper)
    book.check_in(gone.id, actor=people.gatekeeper)
    book.check_out(gone.id, actor=people.gatekeeper)
    hub.visitors.tick(local(f"{MONDAY} 18:29"))
    assert _alerts(hub, RuleKind.VISITOR_INSIDE_AT_CLOSING) == []

    hub.visitors.tick(local(f"{MONDAY} 18:31"))
    (alarm,) = [a for a in hub.state.alerts(kind=AlertKind.VISITOR) if a.rule is RuleKind.VISITOR_INSIDE_AT_CLOSING]
    assert alarm.subject == f"visit:{early.id}" and alarm.state is AlertState.FIRING
    assert "陈**" in alarm.message and "陈师傅" not in alarm.message  # a message to a group chat: masked

    clock.set(f"{MONDAY} 18:45")
    book.check_out(early.id, actor=people.gatekeeper)
    assert _alerts(hub, RuleKind.VISITOR_INSIDE_AT_CLOSING) == [(f"visit:{early.id}", AlertState.RESOLVED)]


def test_a_check_in_outside_the_gate_hours_is_an_alarm(hub: Hub, people: People, clock: Clock) -> None:
    late = hub.visitors.invite(visitor(), dt.date(2026, 10, 12), actor=people.manager).record
    clock.set(f"{MONDAY} 20:15")
    hub.visitors.check_in(late.id, actor=people.gatekeeper)
    assert _alerts(hub, RuleKind.VISITOR_AFTER_HOURS) == [(f"visit:{late.id}", AlertState.RESOLVED)]
    (alarm,) = hub.state.alerts(kind=AlertKind.VISITOR)
    assert alarm.fired_at is not None and "20:15" in alarm.message


def test_a_slip_for_a_class_one_does_not_head_is_refused(hub: Hub, people: People, clock: Clock) -> None:
    start, until = local(f"{MONDAY} 09:30"), local(f"{MONDAY} 11:00")
    with pytest.raises(FieldError, match="班主任") as refused:
        hub.visitors.issue_slip("王小明", "五年级1班", "看病", start, until, True, "父亲王强", actor=people.teacher)
    assert refused.value.field == "class_name" and refused.value.status == 403
    assert hub.visitors.store.leaves_in(tuple(SlipState)) == []


def test_a_pupil_leaves_with_a_slip_and_an_overdue_return_alarms_until_back(
        hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    start, until = local(f"{MONDAY} 09:30"), local(f"{MONDAY} 11:00")
    slip = book.issue_slip("王小明", "三年级2班", "看牙医", start, until, True, "父亲王强", actor=people.teacher,
                           request_key="slip-00001").record
    assert book.issue_slip("王小明", "三年级2班", "看牙医", start, until, True, "父亲王强", actor=people.teacher,
                           request_key="slip-00001").record.id == slip.id
    clock.set(f"{MONDAY} 09:35")
    out = book.pupil_out(slip.id, actor=people.gatekeeper).record
    assert out.state is SlipState.OUT and out.out_by == people.gatekeeper.username
    book.tick(local(f"{MONDAY} 10:59"))
    assert _alerts(hub, RuleKind.PUPIL_NOT_RETURNED) == []
    book.tick(local(f"{MONDAY} 11:05"))
    assert _alerts(hub, RuleKind.PUPIL_NOT_RETURNED) == [(f"leave:{slip.id}", AlertState.FIRING)]
    clock.set(f"{MONDAY} 11:20")
    back = book.pupil_back(slip.id, actor=people.gatekeeper).record
    assert back.state is SlipState.RETURNED and back.returned_at == local(f"{MONDAY} 11:20")
    assert _alerts(hub, RuleKind.PUPIL_NOT_RETURNED) == [(f"leave:{slip.id}", AlertState.RESOLVED)]
    with pytest.raises(Conflict, match="已使用"):
        book.pupil_out(slip.id, actor=people.gatekeeper)


def test_a_pupil_leaving_without_a_slip_tells_the_head_teacher_and_the_safety_officer(
        hub: Hub, people: People, clock: Clock) -> None:
    clock.set(f"{MONDAY} 13:50")
    leave = hub.visitors.pupil_without_slip("赵小红", "三年级2班", "说家里有事", actor=people.gatekeeper).record
    assert leave.exit_kind is ExitKind.NO_SLIP and leave.state is SlipState.OUT
    (notice,) = [n for n in hub.notifications.web_notices.recent() if n.incident_key == f"leave:{leave.id}"]
    assert notice.tier == "safety_officer" and notice.recipients == ("+8613900001111",)
    assert "赵小红" in notice.title and "13:50" in notice.body


def test_an_after_hours_opening_nobody_registered_alarms_and_a_registered_one_does_not(
        hub: Hub, people: People, clock: Clock) -> None:
    gate_event(hub, "open", local(f"{MONDAY} 20:00"), 10)
    gate_event(hub, "closed", local(f"{MONDAY} 20:01"), 20)
    invited = hub.visitors.invite(visitor(), dt.date(2026, 10, 12), actor=people.manager).record
    gate_event(hub, "open", local(f"{MONDAY} 21:00"), 30)
    clock.set(f"{MONDAY} 21:05")
    hub.visitors.check_in(invited.id, actor=people.gatekeeper)  # registered 5 minutes after that opening
    gate_event(hub, "closed", local(f"{MONDAY} 21:06"), 40)
    hub.visitors.tick(local(f"{MONDAY} 20:10"))  # not yet: the gatekeeper may still be writing it down
    assert _alerts(hub, RuleKind.GATE_OPENING_UNREGISTERED) == []

    hub.visitors.tick(local(f"{MONDAY} 21:30"))
    hub.visitors.tick(local(f"{MONDAY} 22:00"))  # judged once
    found = [a for a in hub.state.alerts(kind=AlertKind.VISITOR) if a.rule is RuleKind.GATE_OPENING_UNREGISTERED]
    assert [(a.data["opened_at"], a.state) for a in found] == [(local(f"{MONDAY} 20:00"), AlertState.RESOLVED)]
    assert "南大门" in found[0].message and found[0].fired_at is not None


def test_retention_deletes_expired_records_and_the_audit_log_keeps_only_the_count(
        hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    old = book.invite(visitor("孙师傅"), dt.date(2026, 10, 12), actor=people.manager).record
    still = book.invite(visitor("钱师傅", "13600005555"), dt.date(2026, 10, 12), actor=people.manager).record
    clock.set(f"{MONDAY} 08:00")
    book.check_in(old.id, actor=people.gatekeeper)
    book.check_in(still.id, actor=people.gatekeeper)
    book.check_out(old.id, actor=people.gatekeeper)

    assert book.prune(local(f"{MONDAY} 08:00") + 179 * 86_400) == (0, 0)
    assert book.prune(local(f"{MONDAY} 08:00") + 181 * 86_400) == (1, 0)
    assert book.store.visit(old.id) is None
    assert book.store.visit(still.id) is not None  # still inside: the gate still answers for them
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "visitor.retention"]
    assert json.loads(entry.detail) == {"visits": 1, "leaves": 0, "retention_days": 180}
    assert "孙师傅" not in str(hub.state.audit_entries())


def test_the_days_register_as_pdf_and_xlsx_carries_the_entries_masked(
        hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    clock.set(f"{MONDAY} 09:00")
    delivery = book.invite(visitor("张建国", "13812345678", plate="粤B12345", organisation="=HYPERLINK(1)"),
                           dt.date(2026, 10, 12), actor=people.manager).record
    book.check_in(delivery.id, actor=people.gatekeeper)
    clock.set(f"{MONDAY} 09:20")
    book.check_out(delivery.id, actor=people.gatekeeper)
    slip = book.issue_slip("王小明", "三年级2班", "看牙医", local(f"{MONDAY} 09:30"), local(f"{MONDAY} 11:00"), True,
                           "父亲王强", actor=people.teacher).record
    clock.set(f"{MONDAY} 09:35")
    book.pupil_out(slip.id, actor=people.gatekeeper)

    day = book.day_book(dt.date(2026, 10, 12), "实验小学")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(gatebook.day_pdf(day))).pages)
    for shown in ("门卫登记簿", "张**", "138****5678", "粤B***45", "身份证 ****123X", "09:00", "09:20", "王**",
                  "三年级2班"):
        assert shown in text, shown
    for hidden in ("13812345678", "张建国", "粤B12345", "王小明"):
        assert hidden not in text, hidden

    sheets = load_workbook(io.BytesIO(gatebook.day_xlsx(day)))
    visits = [[cell.value for cell in row] for row in sheets["来访人员"].iter_rows()]
    assert visits[1][:5] == [1, "张**", "138****5678", "'=HYPERLINK(1)", people.manager.username]
    assert visits[1][9:11] == ["09:00", "09:20"]
    pupils = [[cell.value for cell in row] for row in sheets["学生离校"].iter_rows()]
    assert pupils[1][1:3] == ["王**", "三年级2班"] and pupils[1][8] == "有"

    month = book.month_book(dt.date(2026, 10, 1), "实验小学")
    (monday,) = [row for row in month.days if row[0] == MONDAY]
    assert monday[1:] == (1, 1, 0, 1, 0, 0) and month.totals == ("合计", 1, 1, 0, 1, 0, 0)
    assert "门卫登记月汇总" in PdfReader(io.BytesIO(gatebook.month_pdf(month))).pages[0].extract_text()
    summary = load_workbook(io.BytesIO(gatebook.month_xlsx(month)))["月汇总"]
    assert [c.value for c in list(summary.iter_rows())[-1]] == ["合计", 1, 1, 0, 1, 0, 0]


def test_the_weekly_report_counts_visitors_after_hours_visits_and_pupils_without_a_slip(
        hub: Hub, people: People, clock: Clock) -> None:
    book = hub.visitors
    day = book.invite(visitor(), dt.date(2026, 10, 12), actor=people.manager).record
    night = book.invite(visitor("吴师傅", "13500006666"), dt.date(2026, 10, 12), actor=people.manager).record
    clock.set(f"{MONDAY} 09:00")
    book.check_in(day.id, actor=people.gatekeeper)
    clock.set(f"{MONDAY} 20:00")
    book.check_in(night.id, actor=people.gatekeeper)  # after the gate's day: an alarm
    book.pupil_without_slip("赵小红", "三年级2班", "", actor=people.gatekeeper)

    week = parse("weekly", "2026-W42", TZ)
    report = hub.reports.build(week, local("2026-10-19 08:00"))
    assert report.visitors is not None
    assert (report.visitors.total("visits"), report.visitors.total("without_slip")) == (2, 1)
    assert report.visitors.after_hours == 1 and report.visitors.days[0].day == MONDAY
    pdf = hub.reports.pdf(week, local("2026-10-19 08:00"))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "门卫登记" in text and "非开放时间来访 1 批" in text and "无离校单 1 人次" in text
    assert "赵小红" not in text  # counts only: the names stay in the register, which is deleted on time


def test_a_slip_dated_in_a_signed_day_is_refused(hub: Hub, people: People, clock: Clock) -> None:
    clock.set("2026-10-13 08:00")
    hub.reports.store.add_signoff("daily", MONDAY, "officer-chen", "陈主任", clock(), "")
    with pytest.raises(PeriodSigned, match="陈主任") as refused:
        hub.visitors.issue_slip("王小明", "三年级2班", "补假条", local(f"{MONDAY} 15:00"), local(f"{MONDAY} 16:00"),
                                False, "", actor=people.teacher, now=local(f"{MONDAY} 14:30"))
    assert refused.value.field == "start" and hub.visitors.open_slips() == []
    slip = hub.visitors.issue_slip("王小明", "三年级2班", "看病", local("2026-10-13 09:00"),
                                   local("2026-10-13 10:00"), True, "", actor=people.teacher).record
    assert slip.state is SlipState.ISSUED
