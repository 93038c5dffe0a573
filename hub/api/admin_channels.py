"""Notification channels and routes on the admin page: a form per kind, routes in words, versions, roll back.

Every change is checked as a whole before it is saved (a route left pointing at a
removed channel is refused, naming the field), saved as a new version, audited with
the admin as actor, and in force at once. Answers never carry a secret in full.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from hub.api.deps import AccountsDep, GateDep, NotifySettingsDep, RowId, StateDep, TzDep
from hub.auth.deps import require
from hub.auth.roles import Permission, Role, allows
from hub.auth.store import AccountStore
from hub.auth.users import User
from hub.notify.channel_forms import ChannelForm, describe
from hub.notify.config import RouteConfig
from hub.notify.managed import NAME_PATTERN, NotifySettings
from hub.notify.rota import LOOK_AHEAD_DAYS, DutyCalendar, DutyGap, duty_gaps
from hub.store.settings import SettingsVersion

router = APIRouter(prefix="/api/admin/notify", tags=["notifications"])

Admin = Annotated[User, Depends(require(Permission.ADMIN))]
ChannelName = Annotated[str, PathParam(pattern=NAME_PATTERN, description="the channel's id: a-z, 0-9, _ and -")]
RouteName = Annotated[str, PathParam(pattern=NAME_PATTERN)]


class ChannelPublic(BaseModel):
    name: str
    kind: str
    label: str
    #: The form's fields as saved; secrets masked (``…a1b2``).
    fields: dict[str, object]


class RoutePublic(BaseModel):
    name: str
    always: list[str]
    fallback: list[str]


class VersionPublic(BaseModel):
    id: int
    ts: float
    actor: str
    action: str
    #: What the version changed: ``channels.NAME``, ``routes.NAME`` or a top-level key.
    changes: list[str]


class NotifySettingsPublic(BaseModel):
    #: None: nothing saved yet (alarms reach the web page, the log and the buzzers only).
    version: int | None
    channels: list[ChannelPublic]
    routes: list[RoutePublic]
    #: Routes the escalation policies send to (each must exist).
    required_routes: list[str]
    history: list[VersionPublic]


class RouteUpdate(BaseModel):
    #: Every one of these gets every message.
    always: list[str] = Field(default_factory=list, max_length=20)
    #: Tried in this order until one delivers.
    fallback: list[str] = Field(default_factory=list, max_length=20)


class ShiftForm(BaseModel):
    """One shift as the admin page sends it; checked field by field when saved (``NotifySettings.put_rota``)."""

    #: Weekdays it starts on (mon … sun); empty: every day ``when`` allows.
    days: list[str] = Field(default_factory=list, max_length=7)
    #: school_days / non_school_days / holidays (the school calendar); None: the weekdays alone decide.
    when: str | None = Field(default=None, max_length=20)
    start: str = Field(default="00:00", max_length=5)
    end: str = Field(default="24:00", max_length=5)
    #: Usernames of enabled accounts.
    people: list[str] = Field(default_factory=list, max_length=20)
    roles: list[str] = Field(default_factory=list, max_length=5)


class RotaUpdate(BaseModel):
    #: The route's shifts, in order (empty: no rota, the route pages its own people always).
    shifts: list[ShiftForm] = Field(default_factory=list, max_length=40)


class ShiftPublic(BaseModel):
    days: list[str]
    when: str | None
    start: str
    end: str
    people: list[str]
    roles: list[str]


class DutyGapPublic(BaseModel):
    route: str
    #: ``gap``: no shift covers it; ``nobody``: the shift names no enabled account that may acknowledge.
    kind: str
    start: float
    end: float
    #: The shift at fault (``nobody``), by its place in the route's rota.
    shift: int | None


class RotaRoutePublic(BaseModel):
    name: str
    shifts: list[ShiftPublic]
    #: Paged when no shift covers the minute.
    people: list[str]
    roles: list[str]


class RotaPublic(BaseModel):
    routes: list[RotaRoutePublic]
    #: The stretches of the next ``look_ahead_days`` that a rota pages nobody it names.
    gaps: list[DutyGapPublic]
    look_ahead_days: int


def _version(found: SettingsVersion) -> VersionPublic:
    return VersionPublic(id=found.id, ts=found.ts, actor=found.actor, action=found.action, changes=list(found.changes))


def public_settings(notify: NotifySettings) -> NotifySettingsPublic:
    """The settings in force as the page and the API show them (secrets masked)."""
    config = notify.config()
    latest = notify.latest()
    channels = [] if config is None else [describe(name, spec) for name, spec in config.channels.items()]
    return NotifySettingsPublic(
        version=None if latest is None else latest.id,
        channels=[ChannelPublic(name=c.name, kind=c.kind.value, label=c.label, fields=c.fields) for c in channels],
        routes=[] if config is None else [RoutePublic(name=name, always=list(r.always), fallback=list(r.fallback))
                                          for name, r in config.routes.items()],
        required_routes=notify.required_routes,
        history=[_version(v) for v in notify.history()])


def rota_gaps(notify: NotifySettings, accounts: AccountStore, calendar: DutyCalendar, now: float,
              tz: dt.tzinfo) -> list[DutyGap]:
    """Who is not on duty, ahead: the gaps of every route's rota over the coming days."""
    config = notify.config()
    if config is None:
        return []
    able = [info.user for info in accounts.users()
            if not info.disabled and allows(info.user.role, Permission.ALERT_ACK)]
    roles: set[Role] = {user.role for user in able}
    return duty_gaps({name: route.rota for name, route in config.routes.items()}, dt.datetime.fromtimestamp(now, tz),
                     people={user.username for user in able}, roles=roles, calendar=calendar)


def public_rota(notify: NotifySettings, gaps: list[DutyGap]) -> RotaPublic:
    """Every route's shifts and fallback people, and the coming week's ``gaps`` (``rota_gaps``)."""
    config = notify.config()
    routes = [] if config is None else [
        RotaRoutePublic(name=name, people=list(route.people), roles=[r.value for r in route.roles],
                        shifts=[ShiftPublic(days=list(s.days), when=s.when.value if s.when else None, start=s.start,
                                            end=s.end, people=list(s.people), roles=[r.value for r in s.roles])
                                for s in route.rota])
        for name, route in config.routes.items()]
    shown = [DutyGapPublic(route=g.route, kind=g.kind.value, start=g.start.timestamp(), end=g.end.timestamp(),
                          shift=g.shift) for g in gaps]
    return RotaPublic(routes=routes, gaps=shown, look_ahead_days=LOOK_AHEAD_DAYS)


def _audit(store: StateDep, user: User, action: str, subject: str, saved: SettingsVersion) -> VersionPublic:
    # What changed, by name: the values may be secrets and the audit log is read by more people.
    store.append_audit(saved.ts, user.username, action, subject, {"version": saved.id, "changes": list(saved.changes)})
    return _version(saved)


@router.get("")
def notify_settings(notify: NotifySettingsDep, _user: Admin) -> NotifySettingsPublic:
    """Channels (secrets masked), routes and the latest versions."""
    return public_settings(notify)


@router.put("/channels/{name}")
def put_channel(notify: NotifySettingsDep, store: StateDep, user: Admin, name: ChannelName,
                form: ChannelForm) -> VersionPublic:
    """Add or change a channel from its kind's form; a secret left empty keeps the saved one."""
    saved = notify.put_channel(name, form, user.username)
    return _audit(store, user, f"notify.{saved.action}", f"channel/{name}", saved)


@router.delete("/channels/{name}")
def delete_channel(notify: NotifySettingsDep, store: StateDep, user: Admin, name: ChannelName) -> VersionPublic:
    """Remove a channel no route uses any more."""
    return _audit(store, user, "notify.channel.removed", f"channel/{name}", notify.delete_channel(name, user.username))


@router.put("/routes/{name}")
def put_route(notify: NotifySettingsDep, store: StateDep, user: Admin, name: RouteName,
              route: RouteUpdate) -> VersionPublic:
    """Which channels a route always uses, and which it tries in order until one delivers."""
    saved = notify.put_route(name, RouteConfig(always=route.always, fallback=route.fallback), user.username)
    return _audit(store, user, "notify.route.changed", f"route/{name}", saved)


@router.post("/versions/{version_id}/rollback")
def rollback(notify: NotifySettingsDep, store: StateDep, user: Admin, version_id: RowId) -> VersionPublic:
    """Undo what one version changed (as a new version); later changes to other settings stay."""
    saved = notify.rollback(version_id, user.username)
    return _audit(store, user, "notify.rollback", f"version/{version_id}", saved)


@router.get("/rota")
def rota(notify: NotifySettingsDep, accounts: AccountsDep, gate: GateDep, tz: TzDep, _user: Admin) -> RotaPublic:
    """Every route's shifts, and the stretches of the coming week its rota leaves nobody on duty."""
    return public_rota(notify, rota_gaps(notify, accounts, gate.calendar, time.time(), tz))


@router.put("/routes/{name}/rota")
def put_rota(notify: NotifySettingsDep, accounts: AccountsDep, store: StateDep, user: Admin, name: RouteName,
             update: RotaUpdate) -> VersionPublic:
    """Replace a route's shifts (who is on duty when); in force for the next message, no restart."""
    saved = notify.put_rota(name, [shift.model_dump() for shift in update.shifts], user.username,
                            known_person=lambda person: accounts.active_user(person) is not None)
    return _audit(store, user, "notify.rota.changed", f"route/{name}", saved)
