"""The report's gate register section: per day, visitors and pupils out; the period's exceptions and alarms.

Counts only: names and phone numbers stay in the register (``hub.report.gatebook``),
printed masked and deleted after the retention period, while a signed report is kept
for years.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hub.alerts.kinds import RuleKind
from hub.report.model import AlarmEntry, VisitorDay, VisitorsSection
from hub.report.period import Period
from hub.report.sources import ReportSource
from hub.visitors.kinds import ExitKind


def visitors_section(source: ReportSource, period: Period, now: float, alarms: Sequence[AlarmEntry]
                     ) -> VisitorsSection | None:
    store = source.visitors
    if store is None:
        return None
    visits = [v for v in store.arrived_between(period.start, period.end)
              if v.arrived_at is not None and v.arrived_at >= period.start]
    leaves = [leave for leave in store.leaves_between(period.start, period.end) if leave.out_at is not None]
    section = VisitorsSection()
    first = dt.datetime.fromtimestamp(period.start, period.tz).date()
    last = dt.datetime.fromtimestamp(period.end - 1, period.tz).date()
    for n in range((last - first).days + 1):
        day = first + dt.timedelta(days=n)
        start = dt.datetime.combine(day, dt.time(0), period.tz).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), period.tz).timestamp()
        came = [v for v in visits if v.arrived_at is not None and start <= v.arrived_at < end]
        went = [leave for leave in leaves if leave.out_at is not None and start <= leave.out_at < end]
        section.days.append(VisitorDay(day.isoformat(), len(came), sum(v.party_size for v in came), len(went),
                                       sum(1 for leave in went if leave.exit_kind is ExitKind.NO_SLIP)))
    rules = [a.rule for a in alarms]
    section.after_hours = rules.count(RuleKind.VISITOR_AFTER_HOURS)
    section.unregistered_openings = rules.count(RuleKind.GATE_OPENING_UNREGISTERED)
    section.inside_at_closing = rules.count(RuleKind.VISITOR_INSIDE_AT_CLOSING)
    until = min(period.end, now)
    section.late_back = sum(1 for leave in leaves if leave.returns and leave.until < until
                            and (leave.returned_at or until) > leave.until)
    return section
