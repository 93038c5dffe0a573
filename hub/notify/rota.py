"""Who is on duty: a weekly rota per route, as pure functions of the shifts and a local time.

A shift names weekdays, a start and an end in the school's local time, and people
(usernames) and roles. A shift whose end is not after its start runs past midnight
and belongs to the day it starts on: ``{days: [mon], start: "19:00", end: "07:00"}``
covers Monday 19:00 to Tuesday 07:00. An alarm pages whoever is on duty at the minute
its message is made — each repeat and escalation asks again — and a route whose rota
has nobody on duty at that minute falls back to its own ``people`` and ``roles``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.auth.roles import Role

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ShiftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(min_length=1)
    #: "HH:MM", local time; ``end`` not after ``start`` runs past midnight into the next day.
    start: str = "00:00"
    end: str = "24:00"
    people: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        _minutes(value)
        return value


def _minutes(value: str) -> int:
    hours, sep, minutes = value.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    total = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or total > 24 * 60:
        raise ValueError(f"{value!r} is not a time of day like 07:30")
    return total


def on_duty(shifts: Sequence[ShiftConfig], at: dt.datetime) -> list[ShiftConfig]:
    """The shifts covering local time ``at`` (timezone-aware, in the school's zone)."""
    minute = at.hour * 60 + at.minute
    today, yesterday = WEEKDAYS[at.weekday()], WEEKDAYS[(at.weekday() - 1) % 7]
    found: list[ShiftConfig] = []
    for shift in shifts:
        start, end = _minutes(shift.start), _minutes(shift.end)
        if end > start:
            covers = today in shift.days and start <= minute < end
        else:  # past midnight: the evening of a listed day, or the morning after one
            covers = (today in shift.days and minute >= start) or (yesterday in shift.days and minute < end)
        if covers:
            found.append(shift)
    return found


def uncovered(shifts: Sequence[ShiftConfig], start: dt.datetime, hours: int = 24,
              step_min: int = 15) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of the next ``hours`` from ``start`` that no shift covers, checked every ``step_min``.

    What the admin page warns about ("nobody on duty tonight 23:00–07:00") before it matters.
    """
    step = dt.timedelta(minutes=step_min)
    first = start.replace(second=0, microsecond=0) - dt.timedelta(minutes=start.minute % step_min)
    gaps: list[tuple[dt.datetime, dt.datetime]] = []
    at, end = first, first + dt.timedelta(hours=hours)
    while at < end:
        if not on_duty(shifts, at):
            if gaps and gaps[-1][1] == at:
                gaps[-1] = (gaps[-1][0], at + step)
            else:
                gaps.append((at, at + step))
        at += step
    return gaps
