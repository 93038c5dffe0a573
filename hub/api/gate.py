"""The school calendar and gate duty: day types, overrides, gates and their windows, sweeps, patrols."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from hub.api.deps import HubDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.gate.monitor import GateError, opening_public, sweep_public
from hub.gate.overrides import OverrideSpec, StoredOverride

router = APIRouter(prefix="/api", tags=["gate"], dependencies=[Depends(require(Permission.VIEW))])

CalendarEditor = Annotated[User, Depends(require(Permission.CALENDAR_EDIT))]

#: Longest range /api/calendar/days answers in one call.
MAX_DAYS = 400


def _override_public(stored: StoredOverride) -> dict[str, Any]:
    return {"id": stored.id, **stored.spec.model_dump(mode="json"), "created_by": stored.created_by,
            "created_at": stored.created_at}


@router.get("/calendar/days")
def calendar_days(
    hub: HubDep,
    from_: Annotated[dt.date, Query(alias="from", description="first day (local date)")],
    to: Annotated[dt.date, Query(description="last day, inclusive")],
) -> list[dict[str, Any]]:
    """Each day's type (school day, weekend, holiday, vacation), its holiday name and every group's windows."""
    if to < from_:
        raise HTTPException(status_code=422, detail="to: must not be before from")
    if (to - from_).days >= MAX_DAYS:
        raise HTTPException(status_code=422, detail=f"to: at most {MAX_DAYS} days per request")
    calendar = hub.gate.calendar
    days = []
    day = from_
    while day <= to:
        days.append({"date": day.isoformat(), "weekday": day.isoweekday(), "day_type": calendar.day_type(day),
                     "name": calendar.day_name(day),
                     "openings": {group: [opening_public(o) for o in calendar.openings(group, day)]
                                  for group in calendar.config.groups}})
        day += dt.timedelta(days=1)
    return days


@router.get("/calendar/overrides")
def list_overrides(hub: HubDep) -> list[dict[str, Any]]:
    """Overrides added through the API (the config file's own are in the config)."""
    return [_override_public(o) for o in hub.gate.overrides()]


@router.post("/calendar/overrides", status_code=201)
def add_override(hub: HubDep, user: CalendarEditor, spec: OverrideSpec) -> dict[str, Any]:
    try:
        stored = hub.gate.add_override(spec, user.username, time.time())
    except GateError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    return _override_public(stored)


@router.delete("/calendar/overrides/{override_id}", status_code=204)
def remove_override(hub: HubDep, user: CalendarEditor, override_id: RowId) -> None:
    if not hub.gate.remove_override(override_id, user.username, time.time()):
        raise HTTPException(status_code=404, detail=f"no override {override_id}")


@router.get("/calendar/suggestions")
def suggestions(hub: HubDep) -> list[dict[str, Any]]:
    """Overrides suggested by after-hours openings acknowledged ≥3 times for the same reason near the same time."""
    return [{"gate": s.subject, "group": s.group, "reason": s.reason, "alert_ids": s.alert_ids,
             "override": s.body()} for s in hub.gate.suggestions(time.time())]


@router.get("/gates")
def gates(hub: HubDep) -> list[dict[str, Any]]:
    """Every gate and door: its state, group, the window it is in or the next one, the group's last sweep."""
    return hub.gate.gates(time.time())


@router.get("/gates/sweeps")
def sweeps(
    hub: HubDep,
    group: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[float | None, Query(description="closing time at or after (UTC epoch s)")] = None,
    until: Annotated[float | None, Query(description="closing time before (UTC epoch s)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Closing-time sweep reports, newest first."""
    if group is not None and group not in hub.gate.calendar.config.groups:
        raise HTTPException(status_code=422, detail=f"group: no door group {group!r}")
    return [sweep_public(s) for s in hub.gate.store.sweeps(group, since, until, limit)]


@router.get("/patrols")
def patrols(
    hub: HubDep,
    date: Annotated[dt.date | None, Query(description="local date (default: today)")] = None,
) -> dict[str, Any]:
    """Rounds required and done per route on a day, with the visits that counted."""
    now = time.time()
    day = date or dt.datetime.fromtimestamp(now, hub.gate.calendar.tz).date()
    return {"date": day.isoformat(), "routes": hub.gate.patrol_day(day)}


@router.get("/patrols/visits")
def visits(
    hub: HubDep,
    since: Annotated[float, Query(description="UTC epoch s")],
    until: Annotated[float, Query(description="UTC epoch s")],
) -> list[dict[str, Any]]:
    """The patrol log: every read in [since, until), including tags no checkpoint carries (checkpoint null)."""
    if until <= since:
        raise HTTPException(status_code=422, detail="until: must be after since")
    return hub.gate.visits(since, until)
