"""The weekly report's checks: checklists done, late, missed and flagged; work orders opened, closed, overdue."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from hub.checks.kinds import Answer, Urgency
from hub.checks.service import AnswerInput
from hub.report import period
from hub.runtime import Hub
from tests.clock import TZ, Clock
from tests.hub.checks.conftest import MONDAY


def _all_ok(hub: Hub, key: str, **failing: str) -> list[AnswerInput]:
    out = []
    for item in hub.checks.config.templates[key].items:
        if item.key in failing:
            out.append(AnswerInput(item.key, Answer.FAIL, note=failing[item.key]))
        elif item.kind == "number":
            out.append(AnswerInput(item.key, value=75.0))
        elif item.kind == "text":
            out.append(AnswerInput(item.key, text="无"))
        else:
            auto = item.auto is not None  # the hub's answer is overridden, with the reason
            out.append(AnswerInput(item.key, Answer.NA if auto else Answer.OK, note="探头维修中" if auto else ""))
    return out


def test_the_week_lists_its_checks_and_work_orders_in_the_model_and_the_pdf(hub: Hub, clock: Clock) -> None:
    clock.set(f"{MONDAY} 12:00")
    done = hub.checks.submit("canteen_daily", _all_ok(hub, "canteen_daily", clean_floor="<洗碗间>地面积水"),
                             clock() - 30, actor="wang")
    (floor,) = done.orders
    hazard = hub.checks.report("配电箱门未锁", "教学楼", "", Urgency.HIGH, actor="teacher")
    clock.set("2026-10-13 23:00")  # Tuesday's night round, done after its 22:30 deadline
    hub.checks.submit("night_round", _all_ok(hub, "night_round"), clock() - 900, actor="zhao")
    hub.checks.assign(floor.id, "zhang", actor="li")
    hub.checks.fix(floor.id, "疏通排水沟", actor="zhang")
    hub.checks.accept(floor.id, "", actor="li")

    week = period.week("2026-W42", TZ)
    report = hub.reports.build(week, now=week.end + 60)
    section = report.checks
    assert section is not None
    daily_monday = next(c for c in section.checks if c.template == "canteen_daily" and c.period == MONDAY)
    assert daily_monday.status == "done" and daily_monday.too_fast and daily_monday.failed == 1
    night_tuesday = next(c for c in section.checks if c.template == "night_round" and c.period == "2026-10-13")
    assert night_tuesday.status == "late" and night_tuesday.submitted_by == "zhao"
    # Seven night rounds (every day), five canteen records (school days), one weekly report.
    assert sum(1 for c in section.checks if c.template == "night_round") == 7
    assert sum(1 for c in section.checks if c.template == "canteen_daily") == 5
    assert {c.period for c in section.checks if c.template == "canteen_weekly"} == {"2026-W42"}
    assert section.count("missed") == len(section.checks) - 2
    orders = {o.id: o for o in section.orders}
    assert orders[floor.id].opened and orders[floor.id].closed and not orders[floor.id].overdue
    assert orders[hazard.id].opened and not orders[hazard.id].closed and orders[hazard.id].overdue

    pdf = hub.reports.pdf(week, now=week.end + 60)
    text = re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))
    assert "检查与隐患整改" in text and "每日食品安全检查记录" in text
    assert "按时完成1份，逾期补做1份" in text and "逾期未整改1件" in text
    assert "配电箱门未锁" in text and "用时过短" in text
