"""An independent computation of the report's numbers: plain Python over every raw reading.

Written from the definitions in docs/reports.md, without the engine's hourly shortcut
or any of its helpers, so the two can only agree if the engine is exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

Reading = tuple[float, float | None]


@dataclass
class OracleExcursion:
    start: float
    end: float | None
    peak: float
    started_before: bool


@dataclass
class OracleUnit:
    count: int
    min: float | None
    max: float | None
    mean: float | None
    excursions: list[OracleExcursion]
    monitored_s: float
    outside_s: float


def _out(value: float, low: float | None, high: float | None) -> bool:
    return (low is not None and value < low) or (high is not None and value > high)


def unit(readings: list[Reading], low: float | None, high: float | None, start: float, end: float) -> OracleUnit:
    inside_period = [(ts, v) for ts, v in sorted(readings) if start <= ts < end and v is not None]
    values = [v for _ts, v in inside_period]
    before = [v for ts, v in sorted(readings) if start - 86400 <= ts < start and v is not None]
    excursions: list[OracleExcursion] = []
    current: OracleExcursion | None = None
    for index, (ts, value) in enumerate(inside_period):
        if _out(value, low, high):
            if current is None:
                began_earlier = index == 0 and bool(before) and _out(before[-1], low, high)
                current = OracleExcursion(ts, None, value, began_earlier)
            farther = (value > current.peak) if (high is not None and value > high) else (value < current.peak)
            if farther:
                current.peak = value
        elif current is not None:
            current.end = ts
            excursions.append(current)
            current = None
    if current is not None:
        excursions.append(current)
    hours = sorted({int(ts // 3600) * 3600 for ts, _v in inside_period})
    monitored = outside = 0.0
    for hour in hours:
        lo, hi = max(float(hour), start), min(hour + 3600.0, end)
        monitored += hi - lo
        for e in excursions:
            e_end = e.end if e.end is not None else end
            outside += max(0.0, min(hi, e_end) - max(lo, e.start))
    return OracleUnit(len(values), min(values, default=None), max(values, default=None),
                      sum(values) / len(values) if values else None, excursions, monitored, outside)


def log_cell(readings: list[Reading], day: dt.date, at: dt.time, window_s: float, tz: ZoneInfo) -> float | None:
    moment = dt.datetime.combine(day, at, tz).timestamp()
    for ts, value in sorted(readings):
        if moment <= ts < moment + window_s and value is not None:
            return value
    return None
