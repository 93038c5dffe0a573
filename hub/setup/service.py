"""The admin page's setup, versioned: every change a new version (who, when, what), in force at once.

The component the routes, the CLI and the running hub share. A change is checked as a
whole against the YAML baseline before it is written (nothing half-applied), saved as
the next version of section ``setup`` of ``settings.sqlite3``, audited with the person,
and handed to ``on_change`` with the settings now in force, which the hub gives the rule
engine, the gate duty and the sample register without a restart. ``poll`` finds a
version another process saved (``xiaoan config import``).

A form sends the version it showed: if what it changes was changed since by someone
else, it is refused (409) instead of undoing their change; other changes meanwhile
are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from pydantic import ValidationError

from hub.alerts.config import UnitConfig
from hub.alerts.ports import AuditTrail, Directory
from hub.calendar import DEFAULT_GROUP, NationalYear, SchoolCalendar
from hub.errors import Conflict, FieldError, NotFound
from hub.settings import HubConfig
from hub.setup.model import (
    CheckpointSetup,
    GroupSetup,
    RouteSetup,
    SensorRole,
    SensorSetup,
    SetupDocument,
    TermSetup,
)
from hub.setup.rules import changed_paths, layered, problems_of, revert
from hub.store.settings import SettingsStore, SettingsVersion, StaleVersion

_LOGGER = logging.getLogger(__name__)

SECTION = "setup"

OnChange = Callable[[HubConfig], None]


class DefaultDoors(Protocol):
    """What the gate duty (``hub.gate.monitor.GateMonitor``) says of its default door group."""

    calendar: SchoolCalendar

    def defaults(self) -> dict[str, Any]: ...


def _path(loc: Iterable[object]) -> str:
    return ".".join(str(part) for part in loc)


class SchoolSetup:
    """Sensors named and assigned, terms, holidays and door groups, over the YAML baseline ``base``."""

    def __init__(self, store: SettingsStore, base: HubConfig, directory: Directory, audit: AuditTrail, *,
                 on_change: OnChange | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.base = base
        self.directory = directory
        self.audit = audit
        self.on_change = on_change
        self._clock = clock
        latest = store.latest(SECTION)
        #: The version the running hub uses (``poll`` applies a newer one).
        self.applied: int | None = None if latest is None else latest.id

    # -- reading ---------------------------------------------------------------------------------

    def latest(self) -> SettingsVersion | None:
        return self.store.latest(SECTION)

    def document(self) -> SetupDocument:
        latest = self.latest()
        return SetupDocument() if latest is None else SetupDocument.model_validate(latest.data)

    def effective(self) -> HubConfig:
        """The settings in force; what cannot be applied (a group the YAML lost) is left out, logged."""
        problems: list[tuple[str, str]] = []
        config = layered(self.base, self.document(), problems)
        for path, message in problems:
            _LOGGER.warning("admin page setup: %s: %s (left out)", path, message)
        return config

    def history(self, limit: int = 50) -> list[SettingsVersion]:
        return self.store.history(SECTION, limit)

    def unassigned(self) -> list[dict[str, Any]]:
        """Sensors the devices announced that neither the YAML nor the page has named or assigned."""
        doc = self.document()
        config = layered(self.base, doc)
        in_groups = {m for group in self.base.calendar.groups.values() for m in group.members}
        return [s for s in self.directory.sensors()
                if s["key"] not in doc.sensors and s["key"] not in config.sensors and s["key"] not in in_groups]

    # -- changing --------------------------------------------------------------------------------

    def validate(self, data: dict[str, Any]) -> SetupDocument:
        """The whole document checked, as it would be applied; the first problem raised naming its field."""
        try:
            doc = SetupDocument.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            raise FieldError(_path(first["loc"]), "; ".join(e["msg"] for e in error.errors()[:3])) from None
        problems = problems_of(self.base, doc)
        if problems:
            raise FieldError(problems[0][0], problems[0][1])
        return doc

    def _change(self, paths: tuple[str, ...], seen: int | None, edit: Callable[[dict[str, Any]], dict[str, Any]],
                actor: str, action: str, subject: str) -> SettingsVersion:
        latest = self.latest()
        if seen is not None and latest is not None and seen != latest.id:
            shown = self.store.version(SECTION, seen)
            since = changed_paths(shown.data if shown is not None else {}, latest.data)
            if any(path in since for path in paths):
                raise Conflict("version", f"changed meanwhile (version {latest.id} by {latest.actor}): reload the"
                                          " page and try again · 已被他人修改，请刷新页面后重试")
        data = edit(dict(latest.data) if latest is not None else {})
        return self._save(data, actor, action, subject, expect=None if latest is None else latest.id)

    def _save(self, data: dict[str, Any], actor: str, action: str, subject: str, *,
              expect: int | None) -> SettingsVersion:
        doc = self.validate(data)
        clean = doc.model_dump(mode="json", exclude_defaults=True)
        old = self.latest()
        changes = changed_paths(old.data if old is not None else {}, clean)
        try:
            saved = self.store.save(SECTION, clean, ts=self._clock(), actor=actor, action=action, changes=changes,
                                    expect=expect)
        except StaleVersion as stale:
            raise Conflict("version", str(stale)) from None
        self.audit.append_audit(saved.ts, actor, f"setup.{action}", subject,
                                {"version": saved.id, "changes": list(changes)})
        _LOGGER.info("admin page setup version %d by %s (%s): %s", saved.id, actor, action,
                     ", ".join(changes) or "no change")
        self._apply(saved.id)
        return saved

    def _apply(self, version: int | None) -> None:
        self.applied = version
        if self.on_change is not None:
            self.on_change(self.effective())

    def put_sensor(self, key: str, spec: SensorSetup, actor: str, seen: int | None = None) -> SettingsVersion:
        """Name a sensor and say what it is; it must be one a device announced."""
        if key not in {s["key"] for s in self.directory.sensors()}:
            raise NotFound("sensor", f"no sensor {key!r} (a device announces its sensors when it connects)")
        if spec.role is SensorRole.SAMPLE_CABINET:
            others = [k for k, s in self.document().sensors.items() if s.role is SensorRole.SAMPLE_CABINET and k != key]
            if others:
                raise FieldError(f"sensors.{key}.role", f"{others[0]} is the sample cabinet already: assign it"
                                 " something else first · 已有留样柜，请先更改原留样柜")
        value = spec.model_dump(mode="json", exclude_none=True)

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "sensors": {**(data.get("sensors") or {}), key: value}}

        return self._change((f"sensors.{key}",), seen, edit, actor, "sensor", f"sensor/{key}")

    def put_calendar(self, terms: list[TermSetup], holidays: list[dt.date], actor: str,
                     seen: int | None = None) -> SettingsVersion:
        """The terms (replacing the YAML's) and the extra holidays."""
        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "terms": [t.model_dump(mode="json") for t in terms],
                    "holidays": sorted({day.isoformat() for day in holidays})}

        # Either list changed meanwhile is a conflict: the form shows both.
        return self._change(("terms", "holidays"), seen, edit, actor, "calendar", "calendar")

    def put_group(self, name: str, spec: GroupSetup, actor: str, seen: int | None = None) -> SettingsVersion:
        """A door group's windows (added, or replacing the YAML's group of that name)."""
        value = spec.model_dump(mode="json")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "groups": {**(data.get("groups") or {}), name: value}}

        return self._change((f"groups.{name}",), seen, edit, actor, "group", f"gate-group/{name}")

    def delete_group(self, name: str, actor: str) -> SettingsVersion:
        """A page group no door uses any more."""
        doc = self.document()
        if name not in doc.groups:
            raise NotFound("name", f"no door group {name!r} set on this page")
        users = [key for key, s in doc.sensors.items() if s.role is SensorRole.DOOR and s.group == name]
        if users and name not in self.base.calendar.groups:
            raise Conflict("name", f"doors {', '.join(users)} are in it: assign them elsewhere first")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "groups": {k: v for k, v in (data.get("groups") or {}).items() if k != name}}

        return self._change((f"groups.{name}",), None, edit, actor, "group_removed", f"gate-group/{name}")

    def sensor_names(self) -> dict[str, str]:
        """Each announced sensor's name in force: the page's, the YAML's, the announced one, or its key."""
        config = layered(self.base, self.document())
        names: dict[str, str] = {}
        for found in self.directory.sensors():
            override = config.sensors.get(found["key"])
            names[found["key"]] = (override.name if override else None) or found["name"] or found["key"]
        return names

    def adopt_template(self, name: str, gate: DefaultDoors, actor: str, seen: int | None = None) -> SettingsVersion:
        """The default windows in force as the school's own group ``name``, with the gates they watch in it.

        One version: the group and its doors together, so the gate duty never sees the doors in
        a group that does not exist yet, nor the group without its doors. Each door keeps the
        name it has now, so moving it into the group renames nothing on the pages.
        """
        defaults = gate.defaults()
        if not defaults["enabled"]:
            raise FieldError("name", "the default door group is switched off in the config")
        template = gate.calendar.group(DEFAULT_GROUP)
        try:
            spec = GroupSetup(school_day=template.school_day, other_day=template.other_day,
                              close_grace_s=template.close_grace_s)
        except ValidationError as error:
            # The config file's default group is not bounded like a group set on the page (too many windows).
            where = ".".join(str(part) for part in error.errors()[0]["loc"])
            raise FieldError("name", f"the template's {where} cannot be a group of the page as it is"
                                     f" ({error.errors()[0]['msg']}): set the group's windows yourself"
                                     " · 模板时段超出门组上限，请手动建立门组") from None
        names = self.sensor_names()
        doors = {key: (names.get(key) or key)[:64] for key in defaults["members"]}
        if name in self.document().groups or name in self.base.calendar.groups:
            raise Conflict("name", f"there is a door group {name!r} already: choose another name · 门组名称已存在")
        value = spec.model_dump(mode="json")
        doors_set = {key: SensorSetup(name=label, role=SensorRole.DOOR, group=name).model_dump(mode="json",
                                                                                                exclude_none=True)
                     for key, label in doors.items()}

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "groups": {**(data.get("groups") or {}), name: value},
                    "sensors": {**(data.get("sensors") or {}), **doors_set}}

        paths = (f"groups.{name}", *(f"sensors.{key}" for key in doors))
        return self._change(paths, seen, edit, actor, "group_from_template", f"gate-group/{name}")

    def put_national(self, year: int, table: NationalYear, actor: str, seen: int | None = None) -> SettingsVersion:
        """The year's public holidays and swapped working days as the school confirms or enters them."""
        value = NationalYear(holidays=sorted(set(table.holidays)),
                             workdays=sorted(set(table.workdays))).model_dump(mode="json")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "national": {**(data.get("national") or {}), str(year): value}}

        return self._change((f"national.{year}",), seen, edit, actor, "national", f"calendar/{year}")

    def delete_national(self, year: int, actor: str) -> SettingsVersion:
        """Back to the package's table for the year (or weekends only, for a year it does not know)."""
        if year not in self.document().national:
            raise NotFound("year", f"no table for {year} set on this page")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "national": {k: v for k, v in (data.get("national") or {}).items() if k != str(year)}}

        return self._change((f"national.{year}",), None, edit, actor, "national_removed", f"calendar/{year}")

    def put_checkpoint(self, name: str, spec: CheckpointSetup, actor: str, seen: int | None = None
                       ) -> SettingsVersion:
        """A patrol checkpoint (added, or replacing the YAML's of that name)."""
        value = spec.model_dump(mode="json")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "checkpoints": {**(data.get("checkpoints") or {}), name: value}}

        return self._change((f"checkpoints.{name}",), seen, edit, actor, "checkpoint", f"checkpoint/{name}")

    def delete_checkpoint(self, name: str, actor: str) -> SettingsVersion:
        """A page checkpoint no route visits any more."""
        doc = self.document()
        if name not in doc.checkpoints:
            raise NotFound("name", f"no checkpoint {name!r} set on this page")
        config = layered(self.base, doc)
        users = [r for r, route in config.gate.routes.items() if name in route.checkpoints]
        if users and name not in self.base.gate.checkpoints:
            raise Conflict("name", f"routes {', '.join(users)} visit it: take it off them first"
                                   " · 巡更路线仍包含该点，请先从路线中去掉")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "checkpoints": {k: v for k, v in (data.get("checkpoints") or {}).items() if k != name}}

        return self._change((f"checkpoints.{name}",), None, edit, actor, "checkpoint_removed", f"checkpoint/{name}")

    def put_route(self, name: str, spec: RouteSetup, actor: str, seen: int | None = None) -> SettingsVersion:
        """A patrol route with its day and night round windows (added, or replacing the YAML's of that name)."""
        value = spec.model_dump(mode="json")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "routes": {**(data.get("routes") or {}), name: value}}

        return self._change((f"routes.{name}",), seen, edit, actor, "route", f"patrol-route/{name}")

    def delete_route(self, name: str, actor: str) -> SettingsVersion:
        if name not in self.document().routes:
            raise NotFound("name", f"no patrol route {name!r} set on this page")

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "routes": {k: v for k, v in (data.get("routes") or {}).items() if k != name}}

        return self._change((f"routes.{name}",), None, edit, actor, "route_removed", f"patrol-route/{name}")

    def put_units(self, units: list[UnitConfig], actor: str, seen: int | None = None) -> SettingsVersion:
        """The cold units (a probe and its door), replacing the YAML's ``alerts.units``.

        Each key must be a sensor a device announced, as a sensor named on the page must: a
        typo would otherwise be a unit whose door never opens and whose probe never reads.
        """
        announced = {s["key"] for s in self.directory.sensors()}
        for index, unit in enumerate(units):
            for field, key in (("temperature", unit.temperature), ("door", unit.door)):
                if key not in announced:
                    raise FieldError(f"units.{index}.{field}", f"no sensor {key!r}: a device announces its sensors"
                                     " when it connects · 没有这个传感器（设备连接后才会上报）")
        value = [unit.model_dump(mode="json") for unit in units]

        def edit(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "units": value}

        return self._change(("units",), seen, edit, actor, "units", "units")

    def rollback(self, version_id: int, actor: str) -> SettingsVersion:
        """Undo one change: what version ``version_id`` changed goes back to how it was; the rest stays."""
        target = self.store.version(SECTION, version_id)
        if target is None:
            raise NotFound("version", f"no version {version_id}")
        before = self.store.before(SECTION, version_id)
        latest = self.latest()
        current = latest.data if latest is not None else {}
        data = revert(current, before.data if before is not None else {}, target.data)
        return self._save(data, actor, f"rollback.{version_id}", f"setup-version/{version_id}",
                          expect=None if latest is None else latest.id)

    def replace(self, data: dict[str, Any], actor: str, action: str = "import") -> SettingsVersion:
        """A whole document (``xiaoan config import``), checked like the page's changes."""
        latest = self.latest()
        return self._save(data, actor, action, "setup", expect=None if latest is None else latest.id)

    def export(self) -> dict[str, Any]:
        return self.document().model_dump(mode="json", exclude_defaults=True)

    # -- following other processes ---------------------------------------------------------------

    def poll(self, _now: float = 0.0) -> bool:
        """Apply a version saved elsewhere (the CLI); True when one was applied."""
        latest = self.latest()
        found = None if latest is None else latest.id
        if found == self.applied:
            return False
        _LOGGER.info("admin page setup: version %s saved elsewhere, now in force", found)
        self._apply(found)
        return True
