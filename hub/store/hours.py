"""An hour's aggregate put together from its parts: the SQL stores keep an hour in more than one place.

SQLite: closed hours in its rollups, recent and stale hours as raw rows, pruned hours as
kept aggregates; PostgreSQL: raw rows and kept aggregates. A part is a sum, not a mean,
so parts of one hour add up exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.store.base import HourlyAggregate

#: (hour in ms, min, max, sum, count): the parts an hour's aggregate is combined from.
HourPart = tuple[int, float, float, float, int]


def combine_hours(sensor: str, parts: Sequence[HourPart]) -> list[HourlyAggregate]:
    """The parts of each hour (rollup, raw rows, pruned aggregate) as one aggregate, in hour order."""
    hours: dict[int, list[float]] = {}
    for hour, lo, hi, total, count in parts:
        if not count:
            continue
        found = hours.get(hour)
        if found is None:
            hours[hour] = [lo, hi, total, count]
        else:
            found[0], found[1] = min(found[0], lo), max(found[1], hi)
            found[2] += total
            found[3] += count
    return [HourlyAggregate(sensor, hour / 1000.0, lo, hi, total / count, int(count))
            for hour, (lo, hi, total, count) in sorted(hours.items())]
