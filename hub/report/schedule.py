"""When the weekly report is due and when an unsigned week reminds: pure functions of the clock.

The report of a week is made on the following Monday at ``weekly_at`` (local time).
After an outage the hub makes every week whose time fell between its last tick and
now (bounded by ``catch_up_days``); the run table's key makes a week generated once.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hub.report.period import Period, week_of


def due_weeks(last_tick: float, now: float, at: dt.time, tz: ZoneInfo, catch_up_days: int) -> list[Period]:
    """Weeks whose report time fell in ``(last_tick, now]`` and not longer than ``catch_up_days`` ago."""
    since = max(last_tick, now - catch_up_days * 86_400.0)
    local_now = dt.datetime.fromtimestamp(now, tz).date()
    monday = local_now - dt.timedelta(days=local_now.weekday())
    found = []
    while True:
        when = dt.datetime.combine(monday, at, tz).timestamp()
        if when <= since:
            break
        if when <= now:
            found.append(week_of(monday - dt.timedelta(days=7), tz))
        monday -= dt.timedelta(days=7)
    return list(reversed(found))


def reminder_due(period_end: float, now: float, remind_after_days: float, signed: bool,
                 last_reminded: float | None, tz: ZoneInfo) -> bool:
    """An unsigned period reminds once per local day, from ``remind_after_days`` after it ended."""
    if signed or now < period_end + remind_after_days * 86_400.0:
        return False
    if last_reminded is None:
        return True
    return dt.datetime.fromtimestamp(last_reminded, tz).date() < dt.datetime.fromtimestamp(now, tz).date()
