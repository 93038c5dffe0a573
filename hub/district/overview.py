"""What a district inspector reads: every school at a glance, one school's open alarms, its audit copy.

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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hub.alerts.kinds import ACTIVE_STATES, OPEN_STATES, AlertState
from hub.audit import AuditEntry, verify_chain
from hub.district.inspectors import Inspector
from hub.district.store import DistrictStore
from hub.district.wire import RecordKind

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


#: Problems of a school's audit copy listed at most (the first ones: later ones often follow from them).
MAX_PROBLEMS = 20
#: Entries read from PostgreSQL per round trip while the chain is walked.
_CHAIN_PAGE = 2000


@dataclass(frozen=True)
class AuditCopy:
    """The district's copy of a school's audit log, checked as ``xiaoan audit verify`` checks the school's own.

    Entries still in the school's outbox (a link that is down) are no problem: the copy
    just ends earlier. Entries missing *between* others, an entry that does not follow
    the one before it, or one whose content no longer matches its hash are problems.
    An entry the school changes after forwarding it is not stored again (the district
    keeps what it received first), so the copy stays what it was; the school's new
    entries then no longer follow it.
    """

    entries: int
    last_id: int
    last_hash: str
    last_at: float | None
    intact: bool
    problems: list[str]
    #: Where the hash asked about (say, the head printed on a signed weekly report) is in the copy, if it is.
    hash_at_id: int | None = None


def audit_copy(store: DistrictStore, site: str, find_hash: str | None = None) -> AuditCopy:
    """Walk a school's forwarded audit entries in id order, checking the chain (the caller has checked the scope)."""
    count, last_id, last_hash, last_at, found_at = 0, 0, "", None, None

    def entries() -> Iterator[AuditEntry]:
        nonlocal count, last_id, last_hash, last_at, found_at
        after = ""
        with store.pool.connection() as db:
            while True:
                # The key is the id in 19 digits: the primary key's own order is the chain's.
                rows = db.execute(
                    "SELECT key, body FROM records WHERE site = %s AND kind = %s AND key > %s"
                    " ORDER BY key LIMIT %s", (site, RecordKind.AUDIT.value, after, _CHAIN_PAGE)).fetchall()
                for _key, body in rows:
                    b: dict[str, Any] = body  # type: ignore[assignment]
                    entry = AuditEntry(id=int(b["id"]), ts=float(b["ts"]), actor=str(b["actor"]),
                                       action=str(b["action"]), subject=str(b["subject"]), detail=str(b["detail"]),
                                       prev_hash=str(b["prev_hash"]), hash=str(b["hash"]))
                    count, last_id, last_hash, last_at = count + 1, int(b["id"]), entry.hash, entry.ts
                    if find_hash is not None and entry.hash == find_hash:
                        found_at = last_id
                    yield entry
                if len(rows) < _CHAIN_PAGE:
                    return
                after = str(rows[-1][0])

    problems = verify_chain(entries())
    return AuditCopy(count, last_id, last_hash, last_at, not problems, problems[:MAX_PROBLEMS], found_at)
