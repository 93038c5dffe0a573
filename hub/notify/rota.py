"""Who is on duty: a rota per route, as pure functions of the shifts, the school calendar and a local time.

A shift names the days it applies on, a start and an end in the school's local time,
and people (usernames) and roles. Its days are weekdays (``days: [mon, tue]``), days of
the school calendar (``when: school_days`` / ``non_school_days`` / ``holidays``, by
``hub.calendar``: Chinese public holidays, swapped working days, terms and the school's
own exceptions), or both (``days: [sat], when: school_days``: a Saturday made a working
day). A shift whose end is not after its start runs past midnight and belongs to the
day it starts on: ``{days: [mon], start: "19:00", end: "07:00"}`` covers Monday 19:00
to Tuesday 07:00. An alarm pages whoever is on duty at the minute its message is made —
each repeat and escalation asks again — and a route whose rota has nobody on duty at
that minute falls back to its own ``people`` and ``roles``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.auth.roles import Role

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead the admin page looks for stretches nobody is on duty.
LOOK_AHEAD_DAYS = 7
#: A username in a shift (accounts' names are at most 64 characters).
USERNAME_MAX = 64


class ShiftDays(StrEnum):
    """Days of the school calendar a shift can apply on, instead of (or as well as) weekdays."""

    #: Days pupils are at school: working days in term (a swapped working Saturday included).
    SCHOOL_DAYS = "school_days"
    #: Every other day: weekends, public holidays, vacations.
    NON_SCHOOL_DAYS = "non_school_days"
    #: Public holidays and the vacations (their weekends included), not an ordinary weekend in term.
    HOLIDAYS = "holidays"


class DutyCalendar(Protocol):
    """What a rota asks of the school calendar (``hub.calendar.SchoolCalendar`` answers it)."""

    def is_school_day(self, day: dt.date) -> bool: ...

    def is_holiday(self, day: dt.date) -> bool: ...


class WeekdayCalendar:
    """Monday to Friday are school days, nothing is a holiday: for a rota given no school calendar."""

    def is_school_day(self, day: dt.date) -> bool:
        return day.weekday() < 5

    def is_holiday(self, day: dt.date) -> bool:
        return False


class ShiftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Weekdays the shift starts on (empty: any weekday ``when`` allows).
    days: list[Weekday] = Field(default_factory=list, max_length=7)
    #: Days of the school calendar the shift starts on (None: the weekdays alone decide).
    when: ShiftDays | None = None
    #: "HH:MM", local time; ``end`` not after ``start`` runs past midnight into the next day.
    start: str = "00:00"
    end: str = "24:00"
    people: list[str] = Field(default_factory=list, max_length=20)
    roles: list[Role] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        _minutes(value)
        return value

    @field_validator("people")
    @classmethod
    def _usernames(cls, people: list[str]) -> list[str]:
        for name in people:
            if not name.strip() or len(name) > USERNAME_MAX or name != name.strip():
                raise ValueError(f"{name[:USERNAME_MAX]!r} is not a username")
        return people

    @model_validator(mode="after")
    def _some_days(self) -> ShiftConfig:
        if not self.days and self.when is None:
            raise ValueError("a shift needs its days: weekdays (days) or days of the school calendar (when)")
        return self


def _minutes(value: str) -> int:
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > 24 * 60:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    return total


def starts_on(shift: ShiftConfig, day: dt.date, calendar: DutyCalendar) -> bool:
    """Whether ``shift`` begins on ``day`` (a local date): its weekdays and its calendar days both allow it."""
    if shift.days and WEEKDAYS[day.weekday()] not in shift.days:
        return False
    if shift.when is ShiftDays.SCHOOL_DAYS:
        return calendar.is_school_day(day)
    if shift.when is ShiftDays.NON_SCHOOL_DAYS:
        return not calendar.is_school_day(day)
    if shift.when is ShiftDays.HOLIDAYS:
        return calendar.is_holiday(day)
    return True


def on_duty(shifts: Sequence[ShiftConfig], at: dt.datetime,
            calendar: DutyCalendar | None = None) -> list[ShiftConfig]:
    """The shifts covering local time ``at`` (timezone-aware, in the school's zone) on the school ``calendar``."""
    days = calendar if calendar is not None else WeekdayCalendar()
    minute = at.hour * 60 + at.minute
    today = at.date()
    yesterday = today - dt.timedelta(days=1)
    found: list[ShiftConfig] = []
    for shift in shifts:
        start, end = _minutes(shift.start), _minutes(shift.end)
        if end > start:
            covers = start <= minute < end and starts_on(shift, today, days)
        else:  # past midnight: the evening of a day it starts on, or the morning after one
            covers = ((minute >= start and starts_on(shift, today, days))
                      or (minute < end and starts_on(shift, yesterday, days)))
        if covers:
            found.append(shift)
    return found


class _RememberedDays:
    """A calendar's answers kept per date: a week's look-ahead asks each date hundreds of times."""

    def __init__(self, calendar: DutyCalendar) -> None:
        self.is_school_day: Callable[[dt.date], bool] = functools.cache(calendar.is_school_day)
        self.is_holiday: Callable[[dt.date], bool] = functools.cache(calendar.is_holiday)


def uncovered(shifts: Sequence[ShiftConfig], start: dt.datetime, hours: int = 24, step_min: int = 15,
              calendar: DutyCalendar | None = None) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of the next ``hours`` from ``start`` that no shift covers, checked every ``step_min``.

    What the admin page warns about ("nobody on duty tonight 23:00–07:00") before it matters.
    """
    days = _RememberedDays(calendar if calendar is not None else WeekdayCalendar())
    step = dt.timedelta(minutes=step_min)
    first = start.replace(second=0, microsecond=0) - dt.timedelta(minutes=start.minute % step_min)
    gaps: list[tuple[dt.datetime, dt.datetime]] = []
    at, end = first, first + dt.timedelta(hours=hours)
    while at < end:
        if not on_duty(shifts, at, days):
            if gaps and gaps[-1][1] == at:
                gaps[-1] = (gaps[-1][0], at + step)
            else:
                gaps.append((at, at + step))
        at += step
    return gaps


class GapKind(StrEnum):
    #: No shift covers the stretch: the route's own people are paged then.
    UNCOVERED = "gap"
    #: The shift covers it, but names nobody with an enabled account who may acknowledge.
    NOBODY = "nobody"


@dataclass(frozen=True)
class DutyGap:
    """A stretch of the coming days when a route's rota pages nobody it names."""

    route: str
    kind: GapKind
    start: dt.datetime
    end: dt.datetime
    #: The shift at fault (``NOBODY``), by its index in the route's rota.
    shift: int | None = None


def duty_gaps(rotas: Mapping[str, Sequence[ShiftConfig]], start: dt.datetime, *,
              people: Collection[str], roles: Collection[Role], calendar: DutyCalendar | None = None,
              days: int = LOOK_AHEAD_DAYS) -> list[DutyGap]:
    """Each stretch of the next ``days`` a route's rota leaves nobody on duty, in time order per route.

    ``people`` are the usernames, ``roles`` the roles, of the enabled accounts that may
    acknowledge: a shift naming none of them is on duty in name only. Routes without a
    rota are left out (they always page their own people).
    """
    found: list[DutyGap] = []
    hours = days * 24
    for route, shifts in rotas.items():
        if not shifts:
            continue
        gaps = [DutyGap(route, GapKind.UNCOVERED, a, b) for a, b in uncovered(shifts, start, hours, calendar=calendar)]
        for index, shift in enumerate(shifts):
            if any(p in people for p in shift.people) or any(r in roles for r in shift.roles):
                continue
            covered = uncovered([shift], start, hours, calendar=calendar)
            for a, b in _complement(covered, start, hours):
                gaps.append(DutyGap(route, GapKind.NOBODY, a, b, index))
        found += sorted(gaps, key=lambda gap: gap.start)
    return found


def _complement(gaps: Sequence[tuple[dt.datetime, dt.datetime]], start: dt.datetime,
                hours: int, step_min: int = 15) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches between ``gaps`` within the same look-ahead ``uncovered`` checked."""
    first = start.replace(second=0, microsecond=0) - dt.timedelta(minutes=start.minute % step_min)
    end = first + dt.timedelta(hours=hours)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    at = first
    for a, b in gaps:
        if a > at:
            spans.append((at, a))
        at = b
    if at < end:
        spans.append((at, end))
    return spans
