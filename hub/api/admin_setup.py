"""The school's setup on the admin page: sensors, terms, holidays, the national table, door groups, patrols; versions.

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
from hub.alerts.config import UnitConfig
from hub.api.deps import GateDep, RowId, SchoolSetupDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.calendar import HOLIDAY_NAMES_ZH, NationalYear, WindowConfig, package_year
from hub.setup.model import (
    FIRST_YEAR,
    LAST_YEAR,
    CheckpointSetup,
    GroupName,
    GroupSetup,
    RouteSetup,
    SensorRole,
    SensorSetup,
    TermSetup,
)
from hub.setup.rules import layered
from hub.setup.service import SchoolSetup
from hub.store.settings import SettingsVersion

router = APIRouter(prefix="/api/admin/setup", tags=["setup"])

Admin = Annotated[User, Depends(require(Permission.ADMIN))]
DevicePart = Annotated[str, PathParam(pattern=ID_PATTERN, max_length=64)]
#: A group's, checkpoint's or route's name in the path: the same plain, stripped text as in the document
#: (a route's list of checkpoints holds ``GroupName``s, so ``gate `` is saved as ``gate`` or not at all).
GroupPart = Annotated[GroupName, PathParam()]
YearPart = Annotated[int, PathParam(ge=FIRST_YEAR, le=LAST_YEAR)]
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


class NationalPublic(BaseModel):
    """One year's public holidays and swapped working days: the package's, and the school's where it set them."""

    year: int
    #: ``chinesecalendar`` has this year's table (False: the page says so, and the admin enters it).
    known: bool
    package_holidays: list[dt.date]
    package_workdays: list[dt.date]
    #: The holiday each of the package's days belongs to, as staff say it (春节, 国庆节 …).
    names: dict[dt.date, str]
    #: The table confirmed or entered on this page is in force for the year (None: the package's, if any).
    saved: NationalYear | None
    #: The package's table in words: each holiday's days off, then its swapped working days.
    periods: list[str]
    #: The days off and the swapped working days in force.
    holidays: list[dt.date]
    workdays: list[dt.date]


class CheckpointPublic(CheckpointSetup):
    key: str
    from_page: bool


class RoutePublic(BaseModel):
    key: str
    name: str
    checkpoints: list[str]
    day_rounds: list[WindowConfig]
    night_rounds: list[WindowConfig]
    days: str
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
    #: This year's and next year's national table (and any other year set on the page).
    national: list[NationalPublic]
    checkpoints: list[CheckpointPublic]
    routes: list[RoutePublic]
    #: Cold units in force: a probe and its door (a rise while the door is open is one incident).
    units: list[UnitConfig]
    units_from_page: bool
    history: list[SetupVersionPublic]


class SensorUpdate(SensorSetup):
    version: Seen = None


class CalendarUpdate(BaseModel):
    terms: list[TermSetup] = Field(default_factory=list, max_length=12)
    holidays: list[dt.date] = Field(default_factory=list, max_length=366)
    version: Seen = None


class GroupUpdate(GroupSetup):
    version: Seen = None


class NationalUpdate(NationalYear):
    version: Seen = None


class CheckpointUpdate(CheckpointSetup):
    version: Seen = None


class RouteUpdate(RouteSetup):
    version: Seen = None


class UnitsUpdate(BaseModel):
    units: list[UnitConfig] = Field(default_factory=list, max_length=200)
    version: Seen = None


class TemplateAdoption(BaseModel):
    """The default windows taken as the school's own door group, under this name."""

    name: GroupName = "校门"
    version: Seen = None


def national_public(year: int, saved: NationalYear | None) -> NationalPublic:
    """A year's table as the page shows it: the package's days beside the school's."""
    found = package_year(year)
    package, names = found if found is not None else (NationalYear(), {})
    used = saved or package
    named = {day: HOLIDAY_NAMES_ZH.get(name, name) for day, name in names.items()}
    return NationalPublic(year=year, known=found is not None, package_holidays=package.holidays,
                          package_workdays=package.workdays, names=named, periods=periods(package, named),
                          saved=saved, holidays=used.holidays, workdays=used.workdays)


def periods(table: NationalYear, names: dict[dt.date, str]) -> list[str]:
    """``春节 2026-02-15 – 2026-02-23 放假（9 天），2026-02-14、2026-02-28 上班`` per holiday, in date order."""
    runs: list[tuple[str, list[dt.date]]] = []
    for day in sorted(table.holidays):
        name = names.get(day, "")
        if runs and runs[-1][0] == name and (day - runs[-1][1][-1]).days == 1:
            runs[-1][1].append(day)
        else:
            runs.append((name, [day]))
    lines = []
    for name, days in runs:
        swapped = [d.isoformat() for d in table.workdays if names.get(d) == name and abs((d - days[0]).days) < 40]
        span = days[0].isoformat() if len(days) == 1 else f"{days[0].isoformat()} – {days[-1].isoformat()}"
        line = f"{name} {span} 放假（{len(days)} 天）"
        lines.append(line + (f"，{'、'.join(swapped)} 调休上班" if swapped else ""))
    return lines


def public_setup(setup: SchoolSetup, today: dt.date | None = None) -> SetupPublic:
    """The setup as the page and the API show it (``today``: whose year and the next the national table shows)."""
    doc = setup.document()
    year = (today or dt.date.today()).year
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
        national=[national_public(y, doc.national.get(y)) for y in sorted({year, year + 1, *doc.national})],
        checkpoints=[CheckpointPublic(key=key, name=c.name or key, tags=c.tags, sensors=c.sensors,
                                      from_page=key in doc.checkpoints)
                     for key, c in sorted(config.gate.checkpoints.items())],
        routes=[RoutePublic(key=key, name=r.name or key, checkpoints=r.checkpoints, day_rounds=r.day_rounds,
                            night_rounds=r.night_rounds, days=r.days, from_page=key in doc.routes)
                for key, r in sorted(config.gate.routes.items())],
        units=list(config.alerts.units), units_from_page=doc.units is not None,
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


@router.get("/national/{year}")
def get_national(setup: SchoolSetupDep, _user: Admin, year: YearPart) -> NationalPublic:
    """A year's public holidays and swapped working days: chinesecalendar's, and the school's if set."""
    return national_public(year, setup.document().national.get(year))


@router.put("/national/{year}")
def put_national(setup: SchoolSetupDep, user: Admin, year: YearPart, body: NationalUpdate) -> SetupVersionPublic:
    """Confirm or correct a year's table, or enter it for a year the package does not know yet."""
    table = NationalYear.model_validate(_fields(body, NationalYear))
    return SetupVersionPublic.of(setup.put_national(year, table, user.username, body.version))


@router.delete("/national/{year}")
def delete_national(setup: SchoolSetupDep, user: Admin, year: YearPart) -> SetupVersionPublic:
    """Back to the package's table for the year."""
    return SetupVersionPublic.of(setup.delete_national(year, user.username))


@router.put("/checkpoints/{name}")
def put_checkpoint(setup: SchoolSetupDep, user: Admin, name: GroupPart, body: CheckpointUpdate) -> SetupVersionPublic:
    """A patrol checkpoint: its name, the tags fixed there, the readers or buttons installed there."""
    spec = CheckpointSetup.model_validate(_fields(body, CheckpointSetup))
    return SetupVersionPublic.of(setup.put_checkpoint(name, spec, user.username, body.version))


@router.delete("/checkpoints/{name}")
def delete_checkpoint(setup: SchoolSetupDep, user: Admin, name: GroupPart) -> SetupVersionPublic:
    return SetupVersionPublic.of(setup.delete_checkpoint(name, user.username))


@router.put("/routes/{name}")
def put_route(setup: SchoolSetupDep, user: Admin, name: GroupPart, body: RouteUpdate) -> SetupVersionPublic:
    """A patrol route: its checkpoints in order, its day and night round windows, every day or school days."""
    spec = RouteSetup.model_validate(_fields(body, RouteSetup))
    return SetupVersionPublic.of(setup.put_route(name, spec, user.username, body.version))


@router.delete("/routes/{name}")
def delete_route(setup: SchoolSetupDep, user: Admin, name: GroupPart) -> SetupVersionPublic:
    return SetupVersionPublic.of(setup.delete_route(name, user.username))


@router.put("/units")
def put_units(setup: SchoolSetupDep, user: Admin, body: UnitsUpdate) -> SetupVersionPublic:
    """The cold units (a probe and its door), replacing the config file's ``alerts.units``."""
    return SetupVersionPublic.of(setup.put_units(body.units, user.username, body.version))


@router.post("/groups-from-template")
def adopt_template(setup: SchoolSetupDep, gate: GateDep, user: Admin, body: TemplateAdoption) -> SetupVersionPublic:
    """The default windows in force as the school's own door group, with every gate they watch moved into it."""
    return SetupVersionPublic.of(setup.adopt_template(body.name, gate, user.username, body.version))


@router.post("/versions/{version_id}/rollback")
def rollback(setup: SchoolSetupDep, user: Admin, version_id: RowId) -> SetupVersionPublic:
    """Undo what one version changed (as a new version); later changes to other things stay."""
    return SetupVersionPublic.of(setup.rollback(version_id, user.username))

