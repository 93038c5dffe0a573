"""The food-safety records made from the checks: 《每日食品安全检查记录》 for a day,
《每周食品安全排查治理报告》 for a week and 《每月食品安全调度会议纪要》 for a month
(SAMR Order 60, 2022: 日管控、周排查、月调度).

Plain data built from the checks record and the calendar: a day's record is its daily
checklist as filled (each item with its answer, the automatic answers with their
evidence, the work orders its failures opened) — or, when nobody filled it, the blank
form to fill on paper. The week's report and the month's minutes are the same summary
of a period around that period's checklist: checklists due, done on time, late and
missed, work orders reported, closed and overdue, the median time to fix by category;
the week's report also lists each hazard found in the week and what the sensors saw.
``hub.report.records`` prints them.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field

from hub.checks.config import TemplateConfig
from hub.checks.kinds import OPEN_ORDER_STATES, Cadence, Category, ItemKind, OrderState
from hub.checks.prefill import Prefill
from hub.checks.store import CheckRun, ItemAnswer, WorkOrder


@dataclass(frozen=True)
class RecordLine:
    """One item of a record: as the template asked it, and as it was answered (None: not filled)."""

    section: str
    text: str
    key_item: bool
    unit: str
    answer: ItemAnswer | None
    order: WorkOrder | None = None
    kind: ItemKind = ItemKind.YES_NO


@dataclass
class ChecklistRecord:
    """A checklist as filled (or blank): the template it was filled with, its lines in that template's order."""

    name: str
    period: str
    run: CheckRun | None
    lines: list[RecordLine]


@dataclass(frozen=True)
class CheckCount:
    name: str
    due: int
    on_time: int
    late: int
    missed: int
    too_fast: int


@dataclass(frozen=True)
class CategoryFix:
    category: Category
    reported: int
    accepted: int
    #: Median hours from the report to the fix, of the fixes accepted in the month (None: none).
    median_h: float | None


@dataclass(frozen=True)
class SensorLine:
    """What the hub's own data said of one thing over the period (fridges, freezers, gates)."""

    title: str
    seen: Prefill


@dataclass
class PeriodSummary:
    """A week or a month of checks and work orders, around that period's own checklist."""

    cadence: Cadence
    #: The period's key: ``2026-W42`` or ``2026-10``.
    period: str
    record: ChecklistRecord | None
    checks: list[CheckCount] = field(default_factory=list)
    orders_opened: int = 0
    orders_accepted: int = 0
    orders_overdue: int = 0
    by_category: list[CategoryFix] = field(default_factory=list)
    open_orders: list[WorkOrder] = field(default_factory=list)
    #: The work orders reported in the period, oldest first (the week's hazards, 本周发现的隐患).
    reported: list[WorkOrder] = field(default_factory=list)
    sensors: list[SensorLine] = field(default_factory=list)


def checklist_record(template: TemplateConfig, period: str, run: CheckRun | None,
                     orders: dict[int, WorkOrder]) -> ChecklistRecord:
    """The record of one checklist: the template it was filled with (the current one when blank)."""
    filled_with = TemplateConfig.model_validate(json.loads(run.template_json)) if run is not None else template
    answers = {a.item: a for a in run.answers} if run is not None else {}
    lines = []
    for item in filled_with.items:
        answer = answers.get(item.key)
        order = orders.get(answer.order_id) if answer is not None and answer.order_id is not None else None
        lines.append(RecordLine(item.section, item.text, item.key_item, item.unit, answer, order, item.kind))
    return ChecklistRecord(filled_with.name, period, run, lines)


def count_checks(name: str, due: list[tuple[float, CheckRun | None]], now: float) -> CheckCount:
    """How one template's checklists due in a period went (one not yet past its deadline is left out)."""
    counted = [(deadline, run) for deadline, run in due if run is not None or deadline <= now]
    return CheckCount(name, len(counted),
                      sum(1 for _, run in counted if run is not None and not run.late),
                      sum(1 for _, run in counted if run is not None and run.late),
                      sum(1 for _, run in counted if run is None),
                      sum(1 for _, run in counted if run is not None and run.too_fast))


def order_figures(summary: PeriodSummary, orders: list[WorkOrder], since: float, until: float,
                  now: float) -> None:
    """The period's work-order figures: opened, accepted, overdue, and time to fix by category."""
    summary.reported = sorted((o for o in orders if since <= o.reported_at < until), key=lambda o: o.id)
    summary.orders_opened = len(summary.reported)
    accepted = [o for o in orders if o.accepted_at is not None and since <= o.accepted_at < until]
    summary.orders_accepted = len(accepted)
    end = min(until, now)
    summary.open_orders = sorted((o for o in orders if o.state is not OrderState.ACCEPTED), key=lambda o: o.id)
    summary.orders_overdue = sum(1 for o in summary.open_orders if o.state in OPEN_ORDER_STATES and o.due_at < end)
    for category in Category:
        reported = [o for o in orders if o.category is category and since <= o.reported_at < until]
        fixed = [o for o in accepted if o.category is category]
        if not reported and not fixed:
            continue
        hours = [((o.fixed_at or o.accepted_at or o.reported_at) - o.reported_at) / 3600.0 for o in fixed]
        summary.by_category.append(CategoryFix(category, len(reported), len(fixed),
                                               statistics.median(hours) if hours else None))
