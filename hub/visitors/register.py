"""The gate register as a printable record: the day's book (门卫登记簿) and the month's summary, masked.

What leaves the hub on paper or in a spreadsheet carries masked personal data only:
names as the surname and marks, phones as 138****5678, plates as 粤B***45, documents as
their type and last four. The PDF (``hub.report.gatebook``) and the xlsx are written
from these rows, so both say the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.visitors import rules
from hub.visitors.kinds import ExitKind, IdType, VisitState
from hub.visitors.store import Leave, Visit

ID_TYPE_ZH = {IdType.RESIDENT_ID: "身份证", IdType.DRIVER_LICENCE: "驾驶证", IdType.PASSPORT: "护照",
              IdType.WORK_CARD: "工作证", IdType.OTHER: "其他证件", IdType.NONE: "未查验"}
VISIT_HEADER = ("序号", "姓名", "电话", "单位", "被访人", "事由", "人数", "车牌", "证件", "入校", "离校", "预约",
                "非开放时间")
LEAVE_HEADER = ("序号", "学生", "班级", "事由", "离校", "返校", "应返校", "接送人", "离校单", "签发人")
MONTH_HEADER = ("日期", "访客（人次）", "访客人数", "非开放时间来访", "学生离校", "无离校单离校", "逾期未返校")


@dataclass(frozen=True)
class DayRegister:
    day: dt.date
    school: str
    visits: list[tuple[str | int, ...]]
    leaves: list[tuple[str | int, ...]]


@dataclass(frozen=True)
class MonthRegister:
    month: str
    school: str
    days: list[tuple[str | int, ...]]
    totals: tuple[str | int, ...]


def _time(ts: float | None, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%H:%M") if ts is not None else ""


def document(visit: Visit) -> str:
    """The document as the register shows it: its type and the last four (``身份证 ****1234``)."""
    kind = ID_TYPE_ZH[visit.id_type]
    return f"{kind} ****{visit.id_last4}" if visit.id_last4 else kind


def visit_row(index: int, visit: Visit, tz: ZoneInfo, after_hours: bool) -> tuple[str | int, ...]:
    return (index, rules.mask_name(visit.name), rules.mask_phone(visit.phone), visit.organisation, visit.host,
            visit.purpose, visit.party_size, rules.mask_plate(visit.plate) if visit.plate else "", document(visit),
            _time(visit.arrived_at, tz), _time(visit.left_at, tz) if visit.state is VisitState.LEFT else "未离校",
            "是" if visit.invited_by else "否", "是" if after_hours else "")


def leave_row(index: int, leave: Leave, tz: ZoneInfo) -> tuple[str | int, ...]:
    slip = leave.exit_kind is ExitKind.SLIP
    return (index, rules.mask_name(leave.pupil), leave.class_name, leave.reason, _time(leave.out_at, tz),
            _time(leave.returned_at, tz), _time(leave.until, tz) if slip and leave.returns else "",
            rules.mask_name(leave.collector) if leave.collector else "", "有" if slip else "无（异常）",
            leave.issued_by)


def day_register(day: dt.date, school: str, visits: Sequence[Visit], leaves: Sequence[Leave], tz: ZoneInfo,
                 gate_day: rules.GateDay | None) -> DayRegister:
    """The day's book: every visitor let in that day (or still inside from before), every pupil out."""
    arrived = [v for v in visits if v.arrived_at is not None]
    rows = [visit_row(i, v, tz, rules.outside_hours(gate_day, v.arrived_at or 0.0))
            for i, v in enumerate(arrived, start=1)]
    out = [leave for leave in leaves if leave.out_at is not None]
    return DayRegister(day, school, rows, [leave_row(i, leave, tz) for i, leave in enumerate(out, start=1)])


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    visits: int
    people: int
    after_hours: int
    pupils_out: int
    without_slip: int
    late_back: int


def day_count(day: dt.date, visits: Sequence[Visit], leaves: Sequence[Leave], gate_day: rules.GateDay | None,
              start: float, end: float, now: float) -> DayCount:
    """One line of the month: visits that arrived that day, pupils who went out that day (late: as of ``now``)."""
    came = [v for v in visits if v.arrived_at is not None and start <= v.arrived_at < end]
    went = [leave for leave in leaves if leave.out_at is not None and start <= leave.out_at < end]
    late = [leave for leave in went if leave.returns and (leave.returned_at or now) > leave.until]
    return DayCount(day, len(came), sum(v.party_size for v in came),
                    sum(1 for v in came if rules.outside_hours(gate_day, v.arrived_at or 0.0)), len(went),
                    sum(1 for leave in went if leave.exit_kind is ExitKind.NO_SLIP), len(late))


def month_register(month: str, school: str, counts: Sequence[DayCount]) -> MonthRegister:
    rows: list[tuple[str | int, ...]] = [
        (c.day.isoformat(), c.visits, c.people, c.after_hours, c.pupils_out, c.without_slip, c.late_back)
        for c in counts]
    sums = [sum(int(r[i]) for r in rows) for i in range(1, len(MONTH_HEADER))]
    totals: tuple[str | int, ...] = ("合计", *sums)
    return MonthRegister(month, school, rows, totals)
