"""The gate register's rules as pure functions: masking, the gate's day, and when each alarm holds.

Nothing here reads a clock or a store: the component passes ``now``, the calendar's
windows and the records, and gets decisions back (tests/hub/visitors/test_rules.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hub.calendar import Opening

#: A mainland mobile (11 digits, starting 1) or a landline with its area code (0 + 9–11 digits).
PHONE_RE = re.compile(r"^(?:1\d{10}|0\d{9,11})$")
#: Characters people put into a phone number that are not part of it.
_PHONE_NOISE = re.compile(r"[\s\-()（）]")
#: A licence plate: a province's character, a letter, then 5–6 letters or digits (new-energy plates have 6);
#: 学/警/挂 endings allowed. Spaces and the dot some people write are dropped.
PLATE_RE = re.compile(r"^[\u4e00-\u9fff][A-Z][A-Z0-9]{4,5}[A-Z0-9\u4e00-\u9fff]$")
_PLATE_NOISE = re.compile(r"[\s.·•\-]")
#: The last four characters of an identity document: digits, or a final X of a resident ID.
ID_LAST4_RE = re.compile(r"^[0-9A-Z]{4}$")


def normal_phone(text: str) -> str | None:
    """The digits of a phone number as the book stores them, or None when it is not one (+86 dropped)."""
    digits = _PHONE_NOISE.sub("", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if PHONE_RE.fullmatch(digits) else None


def mask_phone(phone: str) -> str:
    """A phone number as lists and exports show it: the first three and last four digits (138****5678)."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def normal_plate(text: str) -> str | None:
    """A licence plate in capitals without spaces or dots, or None when it is not one."""
    plate = _PLATE_NOISE.sub("", text).upper()
    return plate if PLATE_RE.fullmatch(plate) else None


def mask_plate(plate: str) -> str:
    """A plate as exports show it: the province and letter, then the last two (粤B***45)."""
    return plate[:2] + "*" * max(0, len(plate) - 4) + plate[-2:] if len(plate) > 4 else plate


def normal_id_last4(text: str) -> str | None:
    """The last four characters of an identity document, in capitals; None if it is not four of them."""
    value = text.strip().upper()
    return value if ID_LAST4_RE.fullmatch(value) else None


def mask_name(name: str) -> str:
    """A visitor's name as the exported register shows it: the surname and one mark per other character."""
    name = name.strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


@dataclass(frozen=True)
class GateDay:
    """The gate's day: from its first opening to its last closing (None: shut all day)."""

    start: float
    end: float

    def contains(self, ts: float) -> bool:
        return self.start <= ts < self.end


def gate_day(openings: Sequence[Opening]) -> GateDay | None:
    """The span of a day's windows; a visitor checked in outside it came after hours."""
    if not openings:
        return None
    return GateDay(min(o.start for o in openings).timestamp(), max(o.end for o in openings).timestamp())


def outside_hours(day: GateDay | None, at: float) -> bool:
    """A check-in outside the gate's day (or on a day it is shut)."""
    return day is None or not day.contains(at)


def closings_between(days: Sequence[GateDay | None], since: float, until: float) -> list[float]:
    """The gate's closing times in ``(since, until]``: when visitors still inside raise an alarm."""
    return sorted(d.end for d in days if d is not None and since < d.end <= until)


def still_inside(arrivals: Sequence[tuple[float, float | None]], closing: float) -> bool:
    """Whether anyone who arrived before ``closing`` had not left by then (``(arrived, left)`` pairs)."""
    return any(arrived < closing and (left is None or left > closing) for arrived, left in arrivals)


def unregistered(opened_at: float, registrations: Sequence[float], around_s: float) -> bool:
    """An after-hours opening with no registration within ``around_s`` either side of it."""
    return not any(abs(at - opened_at) <= around_s for at in registrations)


def slip_overdue(now: float, until: float, returned_at: float | None, returns: bool) -> bool:
    """A pupil out on a slip that said they would come back, not back by its end."""
    return returns and returned_at is None and now > until


def slip_window_problem(start: float, until: float, now: float) -> str | None:
    """Why a slip's from–to does not make sense, or None."""
    if until <= start:
        return "the end must be after the start · 返校时间须晚于离校时间"
    if until - start > 86_400:
        return "a slip covers one day at most · 离校单最长一天"
    if until < now - 3600:
        return "the slip would already be over · 返校时间已过"
    return None


def local_day(ts: float, tz: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(ts, tz).date()
