"""Cold-unit figures from hourly aggregates, exact where it matters: excursions and time within limits.

Reading 12 million raw readings into Python would take longer than the report may, so
the report works from the store's hourly min/max/mean/count and reads raw readings only
where an hour's min or max lies outside the limits. Those candidate hours, plus the next
hour with data (whose first reading inside the band ends the excursion), are the spans
read raw; an hour whose min and max are inside the band cannot hold an excursion
boundary, so nothing outside the spans can change the result. The figures are therefore
the same as a scan of every raw reading (the tests check exactly that).

Definitions (docs/reports.md):

- an **excursion** runs from the first valued reading outside ``[low, high]`` to the first
  valued reading back inside (a fault reading neither starts nor ends one); still outside
  at the end of the period: it ends there (``end`` is None);
- an hour is **monitored** when it holds at least one valued reading; **time outside** is
  the part of monitored hours covered by excursions, **time within limits** the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.samples.rules import excursions as spells
from hub.store.base import HOUR_S, HourlyAggregate


@dataclass(frozen=True)
class Excursion:
    start: float
    #: The first reading back inside the band; None: still outside when the period ended.
    end: float | None
    #: The value farthest outside the band, and on which side.
    peak: float
    side: str  # "high" or "low"
    #: Already outside at the period's first reading and at the reading before it.
    started_before: bool = False

    def until(self, period_end: float) -> float:
        return self.end if self.end is not None else period_end


@dataclass(frozen=True)
class Stats:
    count: int
    min: float | None
    max: float | None
    mean: float | None


def _outside(hour: HourlyAggregate, low: float | None, high: float | None) -> bool:
    return (low is not None and hour.min < low) or (high is not None and hour.max > high)


def raw_spans(hours: Sequence[HourlyAggregate], low: float | None, high: float | None, since: float,
              until: float) -> list[tuple[float, float]]:
    """The ``[start, end)`` ranges whose raw readings decide the excursions (hours in time order)."""
    spans: list[tuple[float, float]] = []
    opened: float | None = None
    for hour in hours:
        if _outside(hour, low, high):
            if opened is None:
                opened = max(hour.hour, since)
        elif opened is not None:
            # This hour's readings are all inside: its first one ends the excursion.
            spans.append((opened, min(hour.hour + HOUR_S, until)))
            opened = None
    if opened is not None:
        spans.append((opened, until))
    return spans


def find_excursions(readings: Sequence[tuple[float, float | None]], low: float | None, high: float | None,
                    previous_outside: bool = False) -> list[Excursion]:
    """Excursions in time-ordered readings of one span (or of the whole period).

    ``previous_outside``: the last valued reading before the period was outside too, so an
    excursion starting at the period's first valued reading began earlier.
    """
    lo = low if low is not None else float("-inf")
    hi = high if high is not None else float("inf")
    first_valued = next((ts for ts, value in readings if value is not None), None)
    found = []
    for spell in spells(readings, lo, hi):
        above, below = spell.high - hi, lo - spell.low
        side, peak = ("high", spell.high) if above >= below else ("low", spell.low)
        found.append(Excursion(spell.start, spell.end, peak, side,
                               started_before=previous_outside and spell.start == first_valued))
    return found


def stats(hours: Sequence[HourlyAggregate]) -> Stats:
    count = sum(h.count for h in hours)
    if not count:
        return Stats(0, None, None, None)
    return Stats(count, min(h.min for h in hours), max(h.max for h in hours),
                 sum(h.mean * h.count for h in hours) / count)


def time_accounting(hours: Sequence[HourlyAggregate], found: Sequence[Excursion], since: float,
                    until: float) -> tuple[float, float]:
    """(monitored seconds, seconds outside limits) over the period ``[since, until)``."""
    monitored = outside = 0.0
    windows = [(e.start, e.until(until)) for e in found]
    for hour in hours:
        lo, hi = max(hour.hour, since), min(hour.hour + HOUR_S, until)
        if hi <= lo or hour.count == 0:
            continue
        monitored += hi - lo
        outside += sum(max(0.0, min(hi, end) - max(lo, start)) for start, end in windows)
    return monitored, outside


def inferred_interval(hours: Sequence[HourlyAggregate]) -> float | None:
    """The reading interval a sensor keeps, from its busiest hour (None: no readings)."""
    busiest = max((h.count for h in hours), default=0)
    return HOUR_S / busiest if busiest else None


def completeness(received: int, interval_s: float | None, since: float, until: float) -> float | None:
    """Share of the readings expected at ``interval_s`` over the period that arrived (capped at 1)."""
    if interval_s is None or until <= since:
        return None
    expected = (until - since) / interval_s
    return min(1.0, received / expected) if expected > 0 else None


#: Below this share of the expected readings (or of the expected time monitored) a sensor's figures
#: are not evidence of anything: the report says "数据不足" instead of a share.
INSUFFICIENT = 0.5


def expected_start(since: float, until: float, first_reading: float | None, reported_before: bool) -> float | None:
    """When the sensor was first expected to report in ``[since, until)``.

    A sensor that reported before the period owes readings from the period's start; a
    sensor that appeared during it owes them from its first reading (the hub learns of a
    sensor from its readings and its device's status, so that is its registration). None:
    nothing was ever expected of it in the period.
    """
    if reported_before:
        return since
    if first_reading is None or first_reading >= until:
        return None
    return max(since, first_reading)


def expected_seconds(since: float, until: float, now: float, start: float | None) -> float:
    """The seconds a sensor was expected to report: from ``start`` to the period's end or now, whichever is earlier.

    A week still running counts only the part that has passed.
    """
    if start is None:
        return 0.0
    return max(0.0, min(until, now) - max(since, start))


def share(part: float, whole: float) -> float | None:
    """``part / whole`` capped at 1 (None when nothing was expected): a share that cannot exceed the whole."""
    if whole <= 0:
        return None
    return min(1.0, max(0.0, part / whole))


def expected_readings(seconds: float, interval_s: float | None) -> float | None:
    return seconds / interval_s if interval_s and seconds > 0 else None


def insufficient(completeness_share: float | None, monitored_share: float | None) -> bool:
    """Too little data to judge: under ``INSUFFICIENT`` of the readings, or of the time, that were expected."""
    return any(value is not None and value < INSUFFICIENT for value in (completeness_share, monitored_share))
