"""Calendar months (UTC) as the time ranges tables are partitioned by: a month is dropped whole when it expires."""

from __future__ import annotations

import datetime as dt


def month_of(ts: float) -> dt.date:
    """The first day of the (UTC) month holding ``ts`` (seconds): the partition a row of that time lives in."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC)
    return dt.date(when.year, when.month, 1)


def month_span(month: dt.date) -> tuple[float, float]:
    """The month's start and end (seconds), end excluded."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start.timestamp(), end.timestamp()
