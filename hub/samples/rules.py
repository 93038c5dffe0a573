"""The food-sample rules as pure functions of (config, record facts, time): no I/O here.

Intervals are half-open, ``[start, end)``, in UTC epoch seconds; ``None`` as an end
means "still going" and is read as ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from hub.calendar import SchoolCalendar
from hub.samples.config import SamplesConfig

HoldState = Literal["held", "due", "discarded"]


def underweight(weight_g: float | None, min_weight_g: float) -> bool:
    """A weighed dish below the minimum (an unweighed one is not flagged here: its amount is unknown)."""
    return weight_g is not None and weight_g < min_weight_g


def held_until(placed_at: float, retention_s: float) -> float:
    """The earliest moment a sample may be discarded."""
    return placed_at + retention_s


def hold_state(now: float, held_until_ts: float, discarded_at: float | None) -> HoldState:
    """``held`` before expiry, ``due`` (may be discarded) after it, ``discarded`` once thrown away."""
    if discarded_at is not None:
        return "discarded"
    return "due" if now >= held_until_ts else "held"


def discarded_early(discarded_at: float, held_until_ts: float) -> bool:
    return discarded_at < held_until_ts


def early_discard_active(now: float, discarded_at: float | None, held_until_ts: float) -> bool:
    """The early-discard alarm holds while the sample should still be in the cabinet and is not."""
    return discarded_at is not None and discarded_early(discarded_at, held_until_ts) and now < held_until_ts


def meal_deadline(day: dt.date, serve_at: dt.time, log_within_s: float, tz: ZoneInfo) -> float:
    """When a meal's samples must be on record: serving time (local) plus the allowance."""
    return dt.datetime.combine(day, serve_at, tz).timestamp() + log_within_s


def canteen_open(day: dt.date, school_day: bool, open_days: Iterable[dt.date],
                 closed_days: Iterable[dt.date]) -> bool:
    """Open on school days, plus the extra open days, minus the extra closed days (closed wins)."""
    if day in set(closed_days):
        return False
    return school_day or day in set(open_days)


def canteen_open_in(calendar: SchoolCalendar, config: SamplesConfig, day: dt.date) -> bool:
    """``canteen_open`` for the school's calendar and the configured extra open and closed days.

    The sample monitor and the report both judge a day by this, so a report never calls a
    meal missing that the monitor did not expect.
    """
    return canteen_open(day, calendar.is_school_day(day), config.canteen_open_days, config.canteen_closed_days)


def missing_active(now: float, deadline: float, give_up_at: float, is_open: bool, logged: bool) -> bool:
    """A meal's samples are missing: the canteen served, the deadline passed, nothing is on record.

    ``give_up_at`` ends the alarm's condition when a late sample could no longer serve
    its purpose (the retention period of that meal is over); the alarm then resolves
    and can be closed with the corrective action.
    """
    return is_open and not logged and deadline <= now < give_up_at


@dataclass(frozen=True)
class Excursion:
    """A spell of the cabinet outside its band: from the first reading outside to the first back inside."""

    start: float
    end: float | None  # None: still outside at the last reading
    low: float  # the lowest and highest value seen during the spell
    high: float

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start


def excursions(readings: Sequence[tuple[float, float | None]], low: float, high: float,
               grace_s: float = 0.0, now: float | None = None) -> list[Excursion]:
    """Spells outside ``[low, high]`` in time-ordered ``(ts, value)`` readings.

    A reading without a value (a sensor fault) neither starts nor ends a spell: the
    fault has its own alarm and is no evidence of temperature. Spells shorter than
    ``grace_s`` are left out (a still-open spell is measured up to ``now``, or to its
    last reading when ``now`` is not given).
    """
    found: list[Excursion] = []
    start: float | None = None
    lo = hi = 0.0
    last_ts = 0.0
    for ts, value in readings:
        if value is None:
            continue
        last_ts = ts
        outside = value < low or value > high
        if outside and start is None:
            start, lo, hi = ts, value, value
        elif outside:
            lo, hi = min(lo, value), max(hi, value)
        elif start is not None:
            found.append(Excursion(start, ts, lo, hi))
            start = None
    if start is not None:
        found.append(Excursion(start, None, lo, hi))
    until = now if now is not None else last_ts
    return [e for e in found if e.duration(until) >= grace_s]


def overlaps(start_a: float, end_a: float | None, start_b: float, end_b: float | None, now: float) -> bool:
    """Whether two half-open intervals share any moment (an open end runs to ``now``)."""
    a_end = end_a if end_a is not None else now
    b_end = end_b if end_b is not None else now
    if start_a == a_end or start_b == b_end:
        # An instantaneous interval (a single reading outside the band) is a point in time.
        return start_b <= start_a <= b_end if start_a == a_end else start_a <= start_b <= a_end
    return start_a < b_end and start_b < a_end


def touched(holds: Iterable[tuple[int, float, float | None]], excursion: Excursion, now: float) -> list[int]:
    """Which held samples ``(id, placed_at, removed_at)`` an excursion touched."""
    return [record_id for record_id, placed, removed in holds
            if overlaps(placed, removed, excursion.start, excursion.end, now)]


def station_indicator(states: Iterable[HoldState]) -> Literal["on", "off", "blink"]:
    """The station's "samples held" light: blinking when any may be discarded, steady while any are held."""
    seen = set(states)
    if "due" in seen:
        return "blink"
    return "on" if "held" in seen else "off"
