"""The school's setup on the admin page: sensors named and assigned, terms, holidays, door groups; versions.

The rules are ``hub.setup``'s; these routes translate HTTP. Every change is checked as
a whole, saved as a new version with the admin's name, audited, and in force at once
(the rule engine, the gate duty and the pages follow without a restart). A form sends
the version it showed (``version``): a change to the same thing by someone else since
is refused (409) rather than undone.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from edge.wire import ID_PATTERN
from hub.api.deps import RowId, SchoolSetupDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.calendar import WindowConfig
from hub.setup.model import GROUP_PATTERN, GroupSetup, SensorRole, SensorSetup, TermSetup
from hub.setup.rules import layered
from hub.setup.service import SchoolSetup
from hub.store.settings import SettingsVersion

router = APIRouter(prefix="/api/admin/setup", tags=["setup"])

Admin = Annotated[User, Depends(require(Permission.ADMIN))]
DevicePart = Annotated[str, PathParam(pattern=ID_PATTERN, max_length=64)]
GroupPart = Annotated[str, PathParam(pattern=GROUP_PATTERN)]
#: The version the form showed (None: no check, the change is made on the newest).
Seen = Annotated[int | None, Field(default=None, ge=0, le=2**63 - 1)]


class SetupVersionPublic(BaseModel):
    id: int
    ts: float
    actor: str
    action: str
    #: What the version changed: ``sensors.KEY``, ``groups.NAME``, ``terms``, ``holidays``.
    changes: list[str]

    @staticmethod
    def of(found: SettingsVersion) -> SetupVersionPublic:
        return SetupVersionPublic(id=found.id, ts=found.ts, actor=found.actor, action=found.action,
                                  changes=list(found.changes))


class SensorPublic(BaseModel):
    key: str
    kind: str
    #: The name the device announced.
    announced: str
    #: The name in force (the page's, the YAML's or the announced one).
    name: str
    role: SensorRole | None = Field(description="what the page made it; null: not set up on the page")
    profile: str = Field(description="the profile in force (its limits): fridge, freezer, sample_fridge or empty")
    group: str | None = Field(description="the door group in force, for doors")
    #: Neither the page nor the YAML names or assigns it: it waits for the admin.
    unassigned: bool


class GroupPublic(BaseModel):
    name: str
    school_day: list[WindowConfig]
    other_day: list[WindowConfig]
    close_grace_s: float
    members: list[str]
    #: Set on this page (False: from the YAML file).
    from_page: bool


class SetupPublic(BaseModel):
    #: None: nothing saved on the page yet (the YAML alone).
    version: int | None
    sensors: list[SensorPublic]
    terms: list[TermSetup] = Field(description="the terms in force")
    #: The terms come from the page (False: from the YAML file).
    terms_from_page: bool
    #: Extra holidays set on the page (the YAML's and the national table's apply as well).
    holidays: list[dt.date]
    groups: list[GroupPublic]
    history: list[SetupVersionPublic]


class SensorUpdate(SensorSetup):
    version: Seen = None


class CalendarUpdate(BaseModel):
    terms: list[TermSetup] = Field(default_factory=list, max_length=12)
    holidays: list[dt.date] = Field(default_factory=list, max_length=366)
    version: Seen = None


class GroupUpdate(GroupSetup):
    version: Seen = None


def public_setup(setup: SchoolSetup) -> SetupPublic:
    """The setup as the page and the API show it."""
    doc = setup.document()
    config = layered(setup.base, doc)
    latest = setup.latest()
    unassigned = {s["key"] for s in setup.unassigned()}
    group_of = {m: name for name, group in config.calendar.groups.items() for m in group.members}
    sensors = []
    for s in setup.directory.sensors():
        key = s["key"]
        page = doc.sensors.get(key)
        override = config.sensors.get(key)
        sensors.append(SensorPublic(
            key=key, kind=s["kind"], announced=s["name"] or "", name=(override.name if override else None)
            or s["name"] or key, role=page.role if page else None,
            profile=(override.profile if override and override.profile else None) or s.get("profile") or "",
            group=group_of.get(key), unassigned=key in unassigned))
    groups = [GroupPublic(name=name, school_day=g.school_day, other_day=g.other_day, close_grace_s=g.close_grace_s,
                          members=list(g.members), from_page=name in doc.groups)
              for name, g in config.calendar.groups.items()]
    # A page group no door has joined yet is shown too (it is left out of the settings in force).
    groups += [GroupPublic(name=name, school_day=g.school_day, other_day=g.other_day, close_grace_s=g.close_grace_s,
                           members=[], from_page=True)
               for name, g in doc.groups.items() if name not in config.calendar.groups]
    return SetupPublic(
        version=None if latest is None else latest.id,
        sensors=sorted(sensors, key=lambda s: (not s.unassigned, s.key)),
        terms=[TermSetup(name=t.name, start=t.start, end=t.end) for t in config.calendar.terms],
        terms_from_page=doc.terms is not None, holidays=list(doc.holidays),
        groups=sorted(groups, key=lambda g: g.name),
        history=[SetupVersionPublic.of(v) for v in setup.history(20)])


@router.get("")
def get_setup(setup: SchoolSetupDep, _user: Admin) -> SetupPublic:
    """Sensors (those waiting to be set up first), terms, holidays, door groups and the latest versions."""
    return public_setup(setup)


def _fields(body: BaseModel, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(body, name) for name in model.model_fields}


@router.put("/sensors/{device}/{sensor}")
def put_sensor(setup: SchoolSetupDep, user: Admin, device: DevicePart, sensor: DevicePart,
               body: SensorUpdate) -> SetupVersionPublic:
    """Name a sensor and say what it is: a cold unit of a profile, a sample cabinet, a door of a group."""
    spec = SensorSetup.model_validate(_fields(body, SensorSetup))
    return SetupVersionPublic.of(setup.put_sensor(f"{device}/{sensor}", spec, user.username, body.version))


@router.put("/calendar")
def put_calendar(setup: SchoolSetupDep, user: Admin, body: CalendarUpdate) -> SetupVersionPublic:
    """The terms (学期; replacing the YAML's) and extra holidays (added to the YAML's and the national table)."""
    return SetupVersionPublic.of(setup.put_calendar(body.terms, body.holidays, user.username, body.version))


@router.put("/groups/{name}")
def put_group(setup: SchoolSetupDep, user: Admin, name: GroupPart, body: GroupUpdate) -> SetupVersionPublic:
    """A door group's opening windows on school days and other days, and its closing grace."""
    spec = GroupSetup.model_validate(_fields(body, GroupSetup))
    return SetupVersionPublic.of(setup.put_group(name, spec, user.username, body.version))


@router.delete("/groups/{name}")
def delete_group(setup: SchoolSetupDep, user: Admin, name: GroupPart) -> SetupVersionPublic:
    """Remove a page group no door is assigned to."""
    return SetupVersionPublic.of(setup.delete_group(name, user.username))


@router.post("/versions/{version_id}/rollback")
def rollback(setup: SchoolSetupDep, user: Admin, version_id: RowId) -> SetupVersionPublic:
    """Undo what one version changed (as a new version); later changes to other things stay."""
    return SetupVersionPublic.of(setup.rollback(version_id, user.username))

