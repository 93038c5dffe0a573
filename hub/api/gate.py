"""The school calendar and gate duty: day types, overrides, gates and their windows, sweeps, patrols."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from hub.api.deps import GateDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.calendar import WindowConfig
from hub.errors import FieldError, NotFound
from hub.gate.monitor import opening_public, sweep_public
from hub.gate.overrides import DefaultWindows, OverrideSpec, StoredOverride

router = APIRouter(prefix="/api", tags=["gate"], dependencies=[Depends(require(Permission.VIEW))])

CalendarEditor = Annotated[User, Depends(require(Permission.CALENDAR_EDIT))]
Admin = Annotated[User, Depends(require(Permission.ADMIN))]

#: Longest range /api/calendar/days answers in one call.
MAX_DAYS = 400


class OpeningPublic(BaseModel):
    """A window made concrete on a day: local times and the UTC epoch seconds they fall on."""

    start: str
    end: str
    start_ts: float
    end_ts: float


class CalendarDayPublic(BaseModel):
    date: str
    weekday: int = Field(description="1 = Monday … 7 = Sunday")
    day_type: str = Field(description="school_day, weekend, holiday or vacation")
    name: str | None = Field(description="the holiday's or the override's name")
    openings: dict[str, list[OpeningPublic]] = Field(description="door group → its windows that day")


class OverridePublic(OverrideSpec):
    """An override made through the API: the spec as posted, who made it and when."""

    id: int
    created_by: str
    created_at: float

    @classmethod
    def of(cls, stored: StoredOverride) -> OverridePublic:
        return cls(id=stored.id, created_by=stored.created_by, created_at=stored.created_at,
                   **stored.spec.model_dump())


class SuggestedWindow(BaseModel):
    start: str = Field(description="HH:MM, local")
    end: str


class SuggestedOverride(BaseModel):
    """A ready-to-post body for POST /api/calendar/overrides."""

    kind: Literal["extra_window"]
    groups: list[str]
    days: str
    reason: str
    windows: list[SuggestedWindow]


class SuggestionPublic(BaseModel):
    gate: str
    group: str
    reason: str
    alert_ids: list[int]
    override: SuggestedOverride


class DefaultsPublic(BaseModel):
    """The default door group: its windows in force, whether an admin confirmed them, who relies on them."""

    enabled: bool
    school_day: list[WindowConfig]
    other_day: list[WindowConfig]
    members: list[str] = Field(description="gates and doors no configured group names, watched by these windows")
    in_use: bool = Field(description="some gate or door is watched only by these windows")
    confirmed: bool = Field(description="false: a template until an admin confirms or edits it")
    confirmed_by: str | None
    confirmed_at: float | None
    unwatched: list[str] = Field(description="gates and doors no after-hours rule watches")


class DefaultsConfirm(BaseModel):
    """Confirm the default windows as they are (no body, or ``windows`` null), or as edited."""

    windows: DefaultWindows | None = None


class SweptDoorPublic(BaseModel):
    state: str
    since: float | None
    name: str


class SweepPublic(BaseModel):
    """A closing-time sweep: each door of the group as it stood at closing time."""

    id: int
    group: str
    closing_at: float
    swept_at: float
    states: dict[str, SweptDoorPublic] = Field(description="sensor key → its state at closing time")
    not_closed: int


class GatePublic(BaseModel):
    key: str
    name: str
    kind: str
    device: str
    state: str
    since: float | None
    group: str | None
    window_now: OpeningPublic | None
    window_next: OpeningPublic | None
    last_sweep: SweepPublic | None


class VisitPublic(BaseModel):
    id: int
    ts: float
    checkpoint: str | None = Field(description="null: a tag no checkpoint carries")
    tag: str
    sensor: str
    device: str
    input: str


class RoundPublic(OpeningPublic):
    night: bool
    complete: bool
    missing: list[str]
    over: bool


class PatrolRoutePublic(BaseModel):
    route: str
    name: str
    checkpoints: list[str]
    required: int
    done: int
    rounds: list[RoundPublic]
    visits: list[VisitPublic]


class PatrolDayPublic(BaseModel):
    date: str
    routes: list[PatrolRoutePublic]


@router.get("/calendar/days")
def calendar_days(
    gate: GateDep,
    from_: Annotated[dt.date, Query(alias="from", description="first day (local date)")],
    to: Annotated[dt.date, Query(description="last day, inclusive")],
) -> list[CalendarDayPublic]:
    """Each day's type (school day, weekend, holiday, vacation), its holiday name and every group's windows."""
    if to < from_:
        raise FieldError("to", "must not be before from")
    if (to - from_).days >= MAX_DAYS:
        raise FieldError("to", f"at most {MAX_DAYS} days per request")
    calendar = gate.calendar
    days = []
    day = from_
    while day <= to:
        days.append(CalendarDayPublic.model_validate(
            {"date": day.isoformat(), "weekday": day.isoweekday(), "day_type": calendar.day_type(day),
             "name": calendar.day_name(day),
             "openings": {group: [opening_public(o) for o in calendar.openings(group, day)]
                          for group in calendar.group_names()}}))
        day += dt.timedelta(days=1)
    return days


@router.get("/calendar/overrides")
def list_overrides(gate: GateDep) -> list[OverridePublic]:
    """Overrides added through the API (the config file's own are in the config)."""
    return [OverridePublic.of(o) for o in gate.overrides()]


@router.post("/calendar/overrides", status_code=201)
def add_override(gate: GateDep, user: CalendarEditor, spec: OverrideSpec) -> OverridePublic:
    return OverridePublic.of(gate.add_override(spec, user.username, time.time()))


@router.delete("/calendar/overrides/{override_id}", status_code=204)
def remove_override(gate: GateDep, user: CalendarEditor, override_id: RowId) -> None:
    if not gate.remove_override(override_id, user.username, time.time()):
        raise NotFound("override_id", f"no override {override_id}")


@router.get("/calendar/defaults")
def defaults(gate: GateDep) -> DefaultsPublic:
    """The default door group's windows and whether they are still the unconfirmed template."""
    return DefaultsPublic.model_validate(gate.defaults())


@router.post("/calendar/defaults/confirm")
def confirm_defaults(gate: GateDep, user: Admin, request: DefaultsConfirm | None = None) -> DefaultsPublic:
    """An admin confirms the default windows (or sets them); stored, audited, in force at once."""
    gate.confirm_defaults(request.windows if request else None, user.username, time.time())
    return DefaultsPublic.model_validate(gate.defaults())


@router.get("/calendar/suggestions")
def suggestions(gate: GateDep) -> list[SuggestionPublic]:
    """Overrides suggested by after-hours openings acknowledged ≥3 times for the same reason near the same time."""
    return [SuggestionPublic.model_validate({"gate": s.subject, "group": s.group, "reason": s.reason,
                                             "alert_ids": s.alert_ids, "override": s.body()})
            for s in gate.suggestions(time.time())]


@router.get("/gates")
def gates(gate: GateDep) -> list[GatePublic]:
    """Every gate and door: its state, group, the window it is in or the next one, the group's last sweep."""
    return [GatePublic.model_validate(g) for g in gate.gates(time.time())]


@router.get("/gates/sweeps")
def sweeps(
    gate: GateDep,
    group: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[float | None, Query(description="closing time at or after (UTC epoch s)")] = None,
    until: Annotated[float | None, Query(description="closing time before (UTC epoch s)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SweepPublic]:
    """Closing-time sweep reports, newest first."""
    if group is not None and group not in gate.calendar.group_names():
        raise FieldError(None, f"group: no door group {group!r}")
    return [SweepPublic.model_validate(sweep_public(s)) for s in gate.store.sweeps(group, since, until, limit)]


@router.get("/patrols")
def patrols(
    gate: GateDep,
    date: Annotated[dt.date | None, Query(description="local date (default: today)")] = None,
) -> PatrolDayPublic:
    """Rounds required and done per route on a day, with the visits that counted."""
    now = time.time()
    day = date or dt.datetime.fromtimestamp(now, gate.calendar.tz).date()
    return PatrolDayPublic.model_validate({"date": day.isoformat(), "routes": gate.patrol_day(day)})


@router.get("/patrols/visits")
def visits(
    gate: GateDep,
    since: Annotated[float, Query(description="UTC epoch s")],
    until: Annotated[float, Query(description="UTC epoch s")],
) -> list[VisitPublic]:
    """The patrol log: every read in [since, until), including tags no checkpoint carries (checkpoint null)."""
    if until <= since:
        raise FieldError("until", "must be after since")
    return [VisitPublic.model_validate(v) for v in gate.visits(since, until)]
