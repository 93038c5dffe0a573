"""Report periods in the school's time zone: a day, an ISO week (Monday–Sunday), a month, or a date range.

A period is a half-open interval of local midnights, so a week is Monday 00:00 to the
next Monday 00:00 Beijing time (Sunday 16:00 UTC), whatever the server's clock zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from hub.errors import FieldError

PeriodKind = Literal["daily", "weekly", "monthly", "range"]
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
#: A range report covers at most this many days (a school year and a bit).
MAX_RANGE_DAYS = 400


class PeriodError(FieldError):
    """A period that cannot be parsed; ``field`` names the parameter, for a 422."""


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    #: ``2026-W47``, ``2026-11-18``, ``2026-11`` or ``2026-11-01..2026-11-30``.
    label: str
    first_day: dt.date
    #: The last day included.
    last_day: dt.date
    tz: ZoneInfo

    @property
    def start(self) -> float:
        return local_midnight(self.first_day, self.tz)

    @property
    def end(self) -> float:
        return local_midnight(self.last_day + dt.timedelta(days=1), self.tz)

    def days(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(count)]

    @property
    def title_zh(self) -> str:
        span = f"{self.first_day.isoformat()} 至 {self.last_day.isoformat()}"
        if self.kind == "weekly":
            year, week, _ = self.first_day.isocalendar()
            return f"{year} 年第 {week} 周（{span}）"
        if self.kind == "daily":
            return f"{self.first_day.isoformat()}（星期{'一二三四五六日'[self.first_day.weekday()]}）"
        if self.kind == "monthly":
            return f"{self.first_day.year} 年 {self.first_day.month} 月（{span}）"
        return span


def local_midnight(day: dt.date, tz: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(0), tz).timestamp()


def week(text: str, tz: ZoneInfo, field_name: str = "week") -> Period:
    """``2026-W47``: the ISO week, Monday to Sunday."""
    match = _WEEK.match(text.strip())
    if match is None:
        raise PeriodError(field_name, f"{text!r} is not an ISO week like 2026-W47")
    try:
        monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as error:
        raise PeriodError(field_name, f"{text!r}: {error}") from None
    return week_of(monday, tz)


def week_of(day: dt.date, tz: ZoneInfo) -> Period:
    """The ISO week a local day falls in."""
    monday = day - dt.timedelta(days=day.weekday())
    year, number, _ = monday.isocalendar()
    return Period("weekly", f"{year}-W{number:02d}", monday, monday + dt.timedelta(days=6), tz)


def day(text: str, tz: ZoneInfo, field_name: str = "date") -> Period:
    the_day = _date(text, field_name)
    return Period("daily", the_day.isoformat(), the_day, the_day, tz)


def month(text: str, tz: ZoneInfo, field_name: str = "month") -> Period:
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise PeriodError(field_name, f"{text!r} is not a month like 2026-11")
    first = dt.date(int(match[1]), int(match[2]), 1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Period("monthly", f"{first.year}-{first.month:02d}", first, following - dt.timedelta(days=1), tz)


def date_range(start: str, end: str, tz: ZoneInfo) -> Period:
    """``start`` to ``end`` inclusive (local days)."""
    first, last = _date(start, "start"), _date(end, "end")
    if last < first:
        raise PeriodError("end", f"{end} is before start {start}")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise PeriodError("end", f"a range covers at most {MAX_RANGE_DAYS} days")
    return Period("range", f"{first.isoformat()}..{last.isoformat()}", first, last, tz)


def _date(text: str, field_name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(field_name, f"{text!r} is not a date like 2026-11-18") from None


def parse(kind: PeriodKind, label: str, tz: ZoneInfo, field_name: str = "period") -> Period:
    """A period back from its kind and label (as stored with a sign-off or a generated report).

    A label that does not parse is refused as ``field_name``: the label as a whole is at
    fault, whichever of its parts (a range's start or end) did not parse.
    """
    if kind == "weekly":
        return week(label, tz, field_name)
    if kind == "daily":
        return day(label, tz, field_name)
    if kind == "monthly":
        return month(label, tz, field_name)
    start, sep, end = label.partition("..")
    if not sep:
        raise PeriodError(field_name, f"{label!r} is not a range like 2026-11-01..2026-11-30")
    try:
        return date_range(start, end, tz)
    except PeriodError as error:
        raise PeriodError(field_name, error.message) from None
