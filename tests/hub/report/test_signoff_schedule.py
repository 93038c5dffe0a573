"""Sign-off into the audit chain, reminders once a day until signed, the Monday schedule and its catch-up."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.audit import verify_chain
from hub.report import period, schedule
from hub.report.service import ReportError
from hub.runtime import Hub
from tests.hub.report.conftest import TZ, WEEK, Dataset, local


def test_due_weeks_on_monday_morning() -> None:
    at = dt.time(7, 0)
    monday = local("2026-11-23 07:00")
    assert schedule.due_weeks(monday - 60, monday - 1, at, TZ, 28) == []
    assert [p.label for p in schedule.due_weeks(monday - 60, monday, at, TZ, 28)] == [WEEK]
    assert schedule.due_weeks(monday, monday + 3600, at, TZ, 28) == []
    # Down from the Saturday before to three weeks later: every missed Monday, oldest first.
    weeks = schedule.due_weeks(local("2026-11-21 12:00"), local("2026-12-08 09:00"), at, TZ, 28)
    assert [p.label for p in weeks] == ["2026-W47", "2026-W48", "2026-W49"]
    # … but not further back than catch_up_days.
    assert [p.label for p in schedule.due_weeks(0.0, local("2026-12-08 09:00"), at, TZ, 8)] == ["2026-W49"]


def test_reminder_due_once_a_day_until_signed() -> None:
    end = period.week(WEEK, TZ).end
    assert not schedule.reminder_due(end, end + 3 * 86400 - 1, 3, False, None, TZ)
    assert schedule.reminder_due(end, end + 3 * 86400, 3, False, None, TZ)
    assert not schedule.reminder_due(end, end + 3 * 86400 + 3600, 3, False, end + 3 * 86400, TZ)
    assert schedule.reminder_due(end, end + 4 * 86400, 3, False, end + 3 * 86400, TZ)
    assert not schedule.reminder_due(end, end + 4 * 86400, 3, True, None, TZ)


def test_signoff_goes_into_the_audit_chain(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    week = period.week(WEEK, TZ)
    with pytest.raises(ReportError) as early:
        hub.reports.sign(week, "li", "李安全员", "", now=week.end - 60)
    assert early.value.status == 422
    signed = hub.reports.sign(week, "li", "李安全员", "  冷藏柜1 周二超标已处置，同意。 ", now=week.end + 3600)
    assert (signed.signer_name, signed.comment) == ("李安全员", "冷藏柜1 周二超标已处置，同意。")
    entries = hub.state.audit_entries()
    assert verify_chain(entries) == []
    last = entries[-1]
    assert (last.actor, last.action, last.subject) == ("li", "report.signed", f"report/weekly/{WEEK}")
    assert "同意" in last.detail
    with pytest.raises(ReportError) as twice:
        hub.reports.sign(week, "zhang", "张老师", "", now=week.end + 7200)
    assert twice.value.status == 409
    report = hub.reports.build(week, now=week.end + 7200)
    assert [(s.signer_name, s.comment) for s in report.signatures] == [("李安全员", "冷藏柜1 周二超标已处置，同意。")]
    assert report.audit_head == entries[-1].hash


def test_schedule_generates_once_announces_and_catches_up(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    service = hub.reports
    service.run_due(local("2026-11-23 06:00"))  # first run: only a bookmark
    assert service.run_due(local("2026-11-23 06:59")) == []
    (path,) = service.run_due(local("2026-11-23 07:00"))
    assert path.read_bytes().startswith(b"%PDF") and path.parent == hub.settings.home / "reports"
    assert service.run_due(local("2026-11-23 07:01")) == []
    assert service.generate(period.week(WEEK, TZ), local("2026-11-23 07:02")) == path  # no second announcement
    notices = [n for n in hub.notifications.web_notices.recent() if n.incident_key.startswith("report:weekly")]
    assert [n.title for n in notices] == [f"食品安全周报 {WEEK} 已生成"]
    assert "超标" in notices[0].body and f"weekly.pdf?week={WEEK}" in notices[0].body
    # The hub is down from Tuesday to Wednesday two weeks later: both missed Mondays, once each.
    made = service.run_due(local("2026-12-09 10:00"))
    assert [p.name for p in made] == ["weekly-2026-W48.pdf", "weekly-2026-W49.pdf"]
    assert service.run_due(local("2026-12-09 10:05")) == []
    assert [r.label for r in service.store.runs("weekly")] == [WEEK, "2026-W48", "2026-W49"]


def test_the_reports_duty_runs_the_schedule(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    assert hub.scheduler.get("reports") is not None
    hub.reports.run_due(local("2026-11-23 06:00"))
    hub.scheduler.run_now("reports", local("2026-11-23 07:00"))
    assert hub.reports.store.run("weekly", WEEK) is not None


def test_reminders_until_signed(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    service = hub.reports
    service.run_due(local("2026-11-23 06:00"))
    service.run_due(local("2026-11-23 07:00"))
    assert service.remind(local("2026-11-25 23:59")) == []  # remind_after_days 3: from Thursday 00:00
    assert service.remind(local("2026-11-26 08:00")) == [WEEK]
    assert service.remind(local("2026-11-26 20:00")) == []  # once a day
    assert service.remind(local("2026-11-27 08:00")) == [WEEK]
    reminders = [n for n in hub.notifications.web_notices.recent() if n.incident_key == "report:reminder"]
    assert len(reminders) == 2 and WEEK in reminders[0].title
    service.sign(period.week(WEEK, TZ), "li", "李安全员", "", now=local("2026-11-27 09:00"))
    assert service.remind(local("2026-11-28 08:00")) == []
    assert service.store.reminders("weekly", WEEK) == [local("2026-11-26 08:00"), local("2026-11-27 08:00")]
