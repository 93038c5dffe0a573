"""What a district inspector reads: every school at a glance, and one school's open alarms.

Both are read from the district's ``alarms`` (each school's alarms as they stand, applied
from the forwarded lifecycle records) and ``sites`` (last contact, silent since), always
within the inspector's schools — the scope is part of each query, never a filter after it.

The glance counts alarms by what they say about the school *now*: an alarm whose
condition still holds (``firing`` or ``acknowledged``) of kind ``temperature`` is a
fridge or freezer out of its band, of kind ``check`` a checklist past its deadline, of
kind ``work_order`` a repair past its due time, of kind ``device`` a device that stopped
reporting; every alarm someone still has to act on (to acknowledge, close or verify)
counts as open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hub.alerts.kinds import ACTIVE_STATES, OPEN_STATES, AlertState
from hub.district.inspectors import Inspector
from hub.district.store import DistrictStore

#: States whose condition still holds at the school (pending is no alarm yet and is never forwarded as one).
_HOLDING = [s.value for s in ACTIVE_STATES if s is not AlertState.PENDING]
_OPEN = [s.value for s in OPEN_STATES]
#: Each school with its alarms counted: every open one, the unacknowledged, and by kind those still holding.
_GLANCE = (
    b"SELECT s.site, s.name, s.last_contact, s.silent_since, count(a.alert_id),"
    b" count(a.alert_id) FILTER (WHERE a.state = 'firing'),"
    b" count(a.alert_id) FILTER (WHERE a.state = ANY(%(holding)s) AND a.body->>'kind' = 'temperature'),"
    b" count(a.alert_id) FILTER (WHERE a.state = ANY(%(holding)s) AND a.body->>'kind' = 'check'),"
    b" count(a.alert_id) FILTER (WHERE a.state = ANY(%(holding)s) AND a.body->>'kind' = 'work_order'),"
    b" count(a.alert_id) FILTER (WHERE a.state = ANY(%(holding)s) AND a.body->>'kind' = 'device')"
    b" FROM sites s LEFT JOIN alarms a ON a.site = s.site AND a.state = ANY(%(open)s)"
    b" WHERE %(all_sites)s OR s.site = ANY(%(sites)s)"
    b" GROUP BY s.site ORDER BY s.silent_since IS NULL, count(a.alert_id) DESC, s.site")
#: One school's open alarms listed at most (newest first); the school's own hub has the rest.
MAX_ALARMS = 500


@dataclass(frozen=True)
class SchoolGlance:
    site: str
    name: str
    last_contact: dt.datetime | None
    #: Set once the school has not been heard from for ``silent_after_s`` (its WAN link, or its hub, is down).
    silent_since: dt.datetime | None
    #: Alarms someone still has to acknowledge, close or verify.
    open_alarms: int
    #: Alarms nobody has acknowledged yet.
    unacknowledged: int
    #: Fridges and freezers out of their band now.
    cold_out_of_band: int
    overdue_checks: int
    overdue_orders: int
    offline_devices: int


def schools(store: DistrictStore, inspector: Inspector) -> list[SchoolGlance]:
    """Every school of the inspector at a glance: silent ones first, then the most open alarms."""
    scope = {"holding": _HOLDING, "open": _OPEN, "all_sites": inspector.all_sites, "sites": sorted(inspector.sites)}
    with store.pool.connection() as db:
        rows = db.execute(_GLANCE, scope).fetchall()
    return [SchoolGlance(str(r[0]), str(r[1]), r[2], r[3], *(int(str(n)) for n in r[4:]))  # type: ignore[arg-type]
            for r in rows]


@dataclass(frozen=True)
class SchoolAlarm:
    alert_id: int
    kind: str
    state: str
    severity: str
    message: str
    started_at: float
    updated_at: float
    acked_by: str | None


def school_alarms(store: DistrictStore, site: str) -> list[SchoolAlarm]:
    """One school's open alarms, newest first (the caller has checked the inspector may see ``site``)."""
    with store.pool.connection() as db:
        rows = db.execute(
            "SELECT alert_id, body FROM alarms WHERE site = %s AND state = ANY(%s) ORDER BY updated_at DESC"
            " LIMIT %s", (site, _OPEN, MAX_ALARMS)).fetchall()
    found = []
    for alert_id, body in rows:
        b: dict[str, Any] = body  # type: ignore[assignment]
        found.append(SchoolAlarm(int(str(alert_id)), str(b.get("kind", "")), str(b.get("state", "")),
                                 str(b.get("severity", "")), str(b.get("message", "")),
                                 float(b.get("started_at") or 0.0), float(b.get("updated_at") or 0.0),
                                 str(b["acked_by"]) if b.get("acked_by") else None))
    return found


def site_name(store: DistrictStore, site: str) -> str | None:
    with store.pool.connection() as db:
        row = db.execute("SELECT name FROM sites WHERE site = %s", (site,)).fetchone()
    return None if row is None else str(row[0])

