"""The weekly district compliance table (区县每周食品安全汇总): a row per school, from what the schools forwarded.

Two sources, both already at the district:

- ``alarms`` — each school's alarms as their lifecycle records left them. An alarm
  *fired* in the week counts; it was **acknowledged on time** when someone at the school
  acknowledged it within ``ack_on_time_s`` of firing (the district's setting: 10 min
  by default, when the hub's default escalation pages the next person). Alarms of kind
  ``check`` are checklists past their deadline, of kind ``work_order`` repairs past
  their due time. The hours a fridge or freezer was out of its band are the overlap of
  the week with each temperature alarm, from firing to resolving (or to now).
- the **audit log** (``records`` of kind ``audit``): ``check.submit`` entries with their
  ``late`` and ``too_fast`` flags, ``sample.logged`` entries that opened a meal's record
  and the dishes accepted under the minimum weight with a reason (``short_reason``),
  ``sample.discarded`` before their 48 h, ``order.report`` and ``order.accept``.

Every figure is a count a school can check against its own hub: the same alarms, the
same audit entries. A school whose link was down shows only what has arrived; its
``last_contact`` says so. The inspector's scope is part of the query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.district.inspectors import Inspector
from hub.district.store import DistrictStore
from hub.district.wire import RecordKind

#: An ISO week of this century, as the school hub's weekly records name them.
WEEK_PATTERN = r"^20\d{2}-W(0[1-9]|[1-4]\d|5[0-3])$"


def monday_of(week: str) -> dt.date:
    """The Monday of ``2026-W49``; raises ``ValueError`` for a week the year does not have (``2025-W53``)."""
    year, number = week.split("-W")
    return dt.date.fromisocalendar(int(year), int(number), 1)


def week_key(day: dt.date) -> str:
    """The ISO week holding ``day``, as the routes and pages name it (``2026-W49``)."""
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def week_span(week: str, tz: ZoneInfo) -> tuple[float, float]:
    """Monday 00:00 to the next Monday 00:00 of ``2026-W49`` in the district's time zone, as epoch seconds.

    Raises ``ValueError`` for a week the year does not have (``2025-W53``).
    """
    start = dt.datetime.combine(monday_of(week), dt.time(), tz)
    return start.timestamp(), (start + dt.timedelta(days=7)).timestamp()


@dataclass(frozen=True)
class SchoolWeek:
    site: str
    name: str
    last_contact: dt.datetime | None
    #: Alarms that fired in the week, of any kind.
    alarms: int
    #: … of which acknowledged within ``ack_on_time_s`` of firing.
    acknowledged_on_time: int
    #: … of which nobody has acknowledged yet.
    never_acknowledged: int
    #: Hours fridges and freezers spent out of their band in the week (temperature alarms, summed over units).
    cold_hours_out_of_band: float
    checks_submitted: int
    checks_late: int
    #: Checklists ticked faster than a person can look (the hub's ``too_fast``).
    checks_too_fast: int
    #: Checklists that went past their deadline unsubmitted (alarms of kind ``check``).
    checks_overdue: int
    #: Meals whose samples were logged (a meal's record opened).
    sample_meals: int
    #: Dishes accepted under the minimum weight, with the reason given.
    sample_dishes_light: int
    samples_discarded_early: int
    orders_reported: int
    orders_accepted: int
    #: Work orders that went past their due time (alarms of kind ``work_order``).
    orders_overdue: int


_TABLE = b"""
SELECT s.site, s.name, s.last_contact,
       coalesce(al.alarms, 0), coalesce(al.on_time, 0), coalesce(al.never, 0), coalesce(al.cold_s, 0) / 3600.0,
       coalesce(au.submitted, 0), coalesce(au.late, 0), coalesce(au.too_fast, 0), coalesce(al.checks, 0),
       coalesce(au.meals, 0), coalesce(au.light, 0), coalesce(au.early, 0),
       coalesce(au.reported, 0), coalesce(au.accepted, 0), coalesce(al.orders, 0)
FROM sites s
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE fired >= %(start)s) AS alarms,
           count(*) FILTER (WHERE fired >= %(start)s AND acked - fired <= %(on_time)s) AS on_time,
           count(*) FILTER (WHERE fired >= %(start)s AND acked IS NULL) AS never,
           count(*) FILTER (WHERE fired >= %(start)s AND kind = 'check') AS checks,
           count(*) FILTER (WHERE fired >= %(start)s AND kind = 'work_order') AS orders,
           sum(greatest(0, least(coalesce(resolved, %(now)s), %(end)s) - greatest(fired, %(start)s)))
               FILTER (WHERE kind = 'temperature') AS cold_s
    FROM (SELECT (body->>'fired_at')::float8 AS fired, (body->>'acked_at')::float8 AS acked,
                 (body->>'resolved_at')::float8 AS resolved, body->>'kind' AS kind
          FROM alarms WHERE site = s.site) a
    WHERE fired < %(end)s AND (fired >= %(start)s OR coalesce(resolved, %(now)s) > %(start)s)
) al ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE action = 'check.submit') AS submitted,
           count(*) FILTER (WHERE action = 'check.submit' AND detail->>'late' = 'true') AS late,
           count(*) FILTER (WHERE action = 'check.submit' AND detail->>'too_fast' = 'true') AS too_fast,
           count(*) FILTER (WHERE action = 'sample.logged' AND detail->>'created' = 'true') AS meals,
           coalesce(sum((SELECT count(*) FROM jsonb_array_elements(detail->'dishes') d
                         WHERE coalesce(d->>'short_reason', '') <> ''))
                    FILTER (WHERE action = 'sample.logged'), 0) AS light,
           count(*) FILTER (WHERE action = 'sample.discarded' AND detail->>'early' = 'true') AS early,
           count(*) FILTER (WHERE action = 'order.report') AS reported,
           count(*) FILTER (WHERE action = 'order.accept') AS accepted
    FROM (SELECT body->>'action' AS action, (body->>'detail')::jsonb AS detail
          FROM records WHERE site = s.site AND kind = %(audit)s AND ts >= %(start)s AND ts < %(end)s) e
) au ON true
WHERE %(all_sites)s OR s.site = ANY(%(sites)s)
ORDER BY s.site
"""


def weekly_table(store: DistrictStore, inspector: Inspector, start: float, end: float, now: float,
                 ack_on_time_s: float) -> list[SchoolWeek]:
    """One row per school of the inspector for the week ``[start, end)``, by site id."""
    params = {"start": start, "end": end, "now": min(now, end), "on_time": ack_on_time_s,
              "audit": RecordKind.AUDIT.value, "all_sites": inspector.all_sites, "sites": sorted(inspector.sites)}
    with store.pool.connection() as db:
        rows = db.execute(_TABLE, params).fetchall()
    return [SchoolWeek(str(r[0]), str(r[1]), r[2], int(str(r[3])), int(str(r[4])),  # type: ignore[arg-type]
                       int(str(r[5])), round(float(str(r[6])), 2), *(int(str(n)) for n in r[7:]))
            for r in rows]
