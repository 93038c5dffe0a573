"""Notification channels and routes on the admin page: a form per kind, routes in words, versions, roll back.

Every change is checked as a whole before it is saved (a route left pointing at a
removed channel is refused, naming the field), saved as a new version, audited with
the admin as actor, and in force at once. Answers never carry a secret in full.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from hub.api.deps import NotifySettingsDep, RowId, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.notify.channel_forms import ChannelForm, describe
from hub.notify.config import RouteConfig
from hub.notify.managed import NAME_PATTERN, NotifySettings
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

