"""The report's checks section: each checklist due in the period (done, late, missed, ticked too fast)
and the work orders opened, closed or overdue in it.

A checklist counts in the period its deadline falls in; one whose deadline has not come
when the report is made is left out (it is neither done nor missed yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hub.checks import rules, templates
from hub.checks.config import TemplateConfig
from hub.checks.kinds import OPEN_ORDER_STATES
from hub.report.model import CheckEntry, ChecksSection, OrderEntry
from hub.report.period import Period
from hub.report.sources import ReportSource


def _days(period: Period) -> list[dt.date]:
    first = dt.datetime.fromtimestamp(period.start, period.tz).date()
    last = dt.datetime.fromtimestamp(period.end - 1, period.tz).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _runs_on(source: ReportSource, template: TemplateConfig) -> Callable[[dt.date], bool]:
    def runs(day: dt.date) -> bool:
        return rules.template_runs_on(template, source.school_day(day), source.canteen_open(day))
    return runs


def checks_section(source: ReportSource, period: Period, now: float) -> ChecksSection | None:
    store = source.checks
    if store is None:
        return None
    section = ChecksSection()
    days = _days(period)
    for key, template in templates.in_force(source.config.checks.templates, store.latest_templates()).items():
        runs = _runs_on(source, template)
        seen: set[str] = set()
        for day in days:
            check_period = rules.period_of(template.cadence, day)
            if check_period.key in seen:
                continue
            seen.add(check_period.key)
            due = rules.due_day(check_period, runs)
            if due is None or not period.start <= rules.deadline(due, template.due_by, period.tz) < period.end:
                continue
            deadline = rules.deadline(due, template.due_by, period.tz)
            run = store.find(key, check_period.key)
            if run is None and deadline > now:
                continue
            status = "missed" if run is None else ("late" if run.late else "done")
            section.checks.append(CheckEntry(
                template=key, name=template.name, period=check_period.key, due_at=deadline, status=status,
                submitted_at=run.submitted_at if run else None, submitted_by=run.submitted_by if run else "",
                too_fast=run.too_fast if run else False, failed=run.failed if run else 0))
    section.checks.sort(key=lambda c: (c.due_at, c.template))
    until = min(period.end, now)
    for order in sorted(store.orders_touched(period.start, period.end), key=lambda o: o.id):
        closed_in = order.accepted_at is not None and period.start <= order.accepted_at < period.end
        section.orders.append(OrderEntry(
            id=order.id, title=order.title, place=order.place, urgency=order.urgency.value, state=order.state.value,
            reported_at=order.reported_at, reported_by=order.reported_by, accepted_at=order.accepted_at,
            opened=period.start <= order.reported_at < period.end, closed=closed_in,
            overdue=order.state in OPEN_ORDER_STATES and order.due_at < until))
    return section
