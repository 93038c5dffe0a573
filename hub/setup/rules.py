"""The page's setup laid over the YAML baseline: a pure function of (baseline, document) → settings in force.

- A named sensor gets the name everywhere (pages, messages, reports); a cold unit or a
  sample cabinet its profile, and so the profile's limits. Limits and delays the YAML
  sets for the sensor stay; limits edited on the page (``hub.alerts.limit_edits``) beat both.
- A sample cabinet is the sample register's cabinet (``samples.cabinet``).
- A door joins its group, and leaves any group the YAML listed it in by name.
- Door groups of the page replace a YAML group of the same name (windows, grace); a
  group without any door watches nothing and is left out.
- Terms replace the YAML's once the page sets them; holidays are added to the YAML's.
- A year of the national table confirmed or entered on the page replaces chinesecalendar's
  (and the YAML's) table for that year.
- Patrol checkpoints and routes of the page replace a YAML one of the same name; a route
  naming a checkpoint neither has is left out.
- Cold units (``alerts.units``) and the checklists' section (``checks``) replace the YAML's
  once the page or an import sets them.

Problems (a door in a group that does not exist, two sample cabinets, a cold unit whose
probe or door is another unit's or its own door) are returned
with the path at fault; ``layered`` leaves such an entry out, so a hub whose YAML lost
a group still starts, and the page refuses to save a document that has any.
"""

from __future__ import annotations

from typing import Any

from hub.alerts.config import UnitConfig
from hub.calendar import DoorGroup, NationalYear, Term
from hub.gate.config import Checkpoint, GateConfig, RouteConfig, tag_clashes, unknown_checkpoints
from hub.settings import HubConfig, LimitOverride
from hub.setup.model import FIRST_YEAR, LAST_YEAR, SensorRole, SetupDocument

#: (path, message): a setting the document cannot apply.
Problem = tuple[str, str]


def sensor_key_problem(key: str) -> str | None:
    if key.count("/") != 1 or not all(key.split("/")):
        return f"{key!r} is not a sensor key 'device/sensor'"
    return None


def layered(base: HubConfig, doc: SetupDocument, problems: list[Problem] | None = None) -> HubConfig:
    """The settings in force: ``base`` (the YAML) with ``doc`` (the page) over it."""
    found: list[Problem] = [] if problems is None else problems
    known_groups = set(base.calendar.groups) | set(doc.groups)
    members = {name: [m for m in group.members if m not in doc.sensors] for name, group in base.calendar.groups.items()}
    sensors = dict(base.sensors)
    cabinet = base.samples.cabinet
    cabinets: list[str] = []
    for key, spec in sorted(doc.sensors.items()):
        bad_key = sensor_key_problem(key)
        if bad_key is not None:
            found.append((f"sensors.{key}", bad_key))
            continue
        if spec.role is SensorRole.DOOR and spec.group not in known_groups:
            found.append((f"sensors.{key}.group", f"no door group {spec.group!r}: add it first"))
            continue
        if spec.role is SensorRole.SAMPLE_CABINET:
            cabinets.append(key)
            if len(cabinets) > 1:
                found.append((f"sensors.{key}.role", f"{cabinets[0]} is the sample cabinet already:"
                                                     " assign it something else first"))
                continue
            cabinet = key
        update: dict[str, Any] = {"name": spec.name}
        if spec.profile is not None:
            update["profile"] = spec.profile.value
        sensors[key] = (sensors.get(key) or LimitOverride()).model_copy(update=update)
        if spec.role is SensorRole.DOOR and spec.group is not None:
            members.setdefault(spec.group, []).append(key)
    groups: dict[str, DoorGroup] = {}
    for name in sorted(known_groups):
        if not members.get(name):
            continue
        page = doc.groups.get(name)
        if page is not None:
            groups[name] = DoorGroup(members=members[name], school_day=page.school_day, other_day=page.other_day,
                                     close_grace_s=page.close_grace_s)
        else:
            groups[name] = base.calendar.groups[name].model_copy(update={"members": members[name]})
    calendar = base.calendar.model_copy(update={
        "groups": groups, "national_table": {**base.calendar.national_table, **_national(doc, found)},
        "holidays": sorted(set(base.calendar.holidays) | set(doc.holidays)),
        "terms": base.calendar.terms if doc.terms is None else [Term(name=t.name, start=t.start, end=t.end)
                                                                for t in doc.terms]})
    alerts = base.alerts if doc.units is None else base.alerts.model_copy(update={"units": _units(doc.units, found)})
    return base.model_copy(update={"sensors": sensors, "calendar": calendar, "gate": _patrols(base.gate, doc, found),
                                   "samples": base.samples.model_copy(update={"cabinet": cabinet}),
                                   "alerts": alerts, "checks": base.checks if doc.checks is None else doc.checks})


def _units(units: list[UnitConfig], found: list[Problem]) -> list[UnitConfig]:
    """The page's cold units each with its own probe and its own door; a unit that is not is a problem, left out.

    The rule engine keys a unit both ways (probe → door, door → probe): a probe in two units
    or a door of two probes would silently keep the last one, and a probe that is its own
    door would tie a reading to itself.
    """
    kept: list[UnitConfig] = []
    probes: dict[str, int] = {}
    doors: dict[str, int] = {}
    for index, unit in enumerate(units):
        bad = [(field, message) for field, key in (("temperature", unit.temperature), ("door", unit.door))
               if (message := sensor_key_problem(key)) is not None]
        if unit.temperature == unit.door:
            bad.append(("door", f"{unit.door} is the unit's probe: a unit's door is another sensor"
                                " · 门磁不能与温度探头相同"))
        elif unit.temperature in probes or unit.temperature in doors:
            other = probes.get(unit.temperature, doors.get(unit.temperature))
            bad.append(("temperature", f"{unit.temperature} is in unit {other} already · 该探头已属于另一冷藏设备"))
        elif unit.door in doors or unit.door in probes:
            other = doors.get(unit.door, probes.get(unit.door))
            bad.append(("door", f"{unit.door} is the door of unit {other} already · 该门磁已属于另一冷藏设备"))
        if bad:
            found.extend((f"units.{index}.{field}", message) for field, message in bad)
            continue
        probes[unit.temperature] = index
        doors[unit.door] = index
        kept.append(unit)
    return kept


def _national(doc: SetupDocument, found: list[Problem]) -> dict[int, NationalYear]:
    """The years the page confirmed or entered whose days all fall in the year."""
    tables: dict[int, NationalYear] = {}
    for year, table in sorted(doc.national.items()):
        if not FIRST_YEAR <= year <= LAST_YEAR:
            found.append((f"national.{year}", f"a year from {FIRST_YEAR} to {LAST_YEAR}"))
            continue
        stray = [(field, day) for field in ("holidays", "workdays") for day in getattr(table, field)
                 if day.year != year]
        if stray:
            field, day = stray[0]
            found.append((f"national.{year}.{field}", f"{day.isoformat()} is not in {year} · 日期不在 {year} 年内"))
            continue
        both = sorted(set(table.holidays) & set(table.workdays))
        if both:
            found.append((f"national.{year}.workdays", f"{both[0].isoformat()} is both a holiday and a working day"
                                                       " · 同一天既是假日又是调休上班日"))
            continue
        tables[year] = table
    return tables


def _patrols(base: GateConfig, doc: SetupDocument, found: list[Problem]) -> GateConfig:
    """The YAML's checkpoints and routes with the page's over them; what does not fit is a problem, left out.

    Checked by the gate config's own checks (``tag_clashes``, ``unknown_checkpoints``): the
    YAML's checkpoints the page leaves alone come first, so a page checkpoint with one of
    their tags is the one at fault.
    """
    page = {name: Checkpoint(name=spec.name, tags=list(spec.tags), sensors=list(spec.sensors))
            for name, spec in sorted(doc.checkpoints.items())}
    kept = {name: c for name, c in base.checkpoints.items() if name not in page}
    clashes = tag_clashes({**kept, **page})
    for name, (tag, other) in clashes.items():
        found.append((f"checkpoints.{name}.tags", f"tag {tag} is on checkpoint {other} already"
                                                  " · 该标签已属于另一巡更点"))
    checkpoints = {**base.checkpoints, **{name: c for name, c in page.items() if name not in clashes}}
    page_routes = {name: RouteConfig(name=spec.name, checkpoints=list(spec.checkpoints), day_rounds=spec.day_rounds,
                                     night_rounds=spec.night_rounds, days=spec.days)
                   for name, spec in sorted(doc.routes.items())}
    routes = {**{name: r for name, r in base.routes.items() if name not in page_routes}, **page_routes}
    for name, unknown in unknown_checkpoints(routes, checkpoints).items():
        if name in page_routes:
            found.append((f"routes.{name}.checkpoints", f"no checkpoint {', '.join(unknown)}: add it first"
                                                        " · 巡更点不存在，请先添加"))
        else:
            found.append((f"routes.{name}.checkpoints", "a checkpoint of this route is gone"))
        del routes[name]
    return base.model_copy(update={"checkpoints": checkpoints, "routes": routes})


def problems_of(base: HubConfig, doc: SetupDocument) -> list[Problem]:
    """What of ``doc`` cannot be applied over ``base`` (empty: all of it can)."""
    found: list[Problem] = []
    layered(base, doc, found)
    return found


#: Sections of the document whose entries change one by one (``sensors.KEY``, ``groups.NAME``).
_NESTED = ("sensors", "groups", "national", "checkpoints", "routes")


def changed_paths(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs: one sensor, one group, or ``terms`` / ``holidays`` as a whole."""
    paths: list[str] = []
    for key in sorted(set(old) | set(new)):
        if key in _NESTED:
            before, after = old.get(key) or {}, new.get(key) or {}
            paths += [f"{key}.{name}" for name in sorted(set(before) | set(after))
                      if before.get(name) != after.get(name)]
        elif old.get(key) != new.get(key):
            paths.append(key)
    return paths


def revert(current: dict[str, Any], before: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """``current`` with what ``target`` changed (against ``before``) put back as it was in ``before``."""
    out = {key: (dict(value) if key in _NESTED and isinstance(value, dict) else value)
           for key, value in current.items()}
    for path in changed_paths(before, target):
        head, _, name = path.partition(".")
        if name:
            section = out.setdefault(head, {})
            if name in (before.get(head) or {}):
                section[name] = before[head][name]
            else:
                section.pop(name, None)
        elif head in before:
            out[head] = before[head]
        else:
            out.pop(head, None)
    return out
