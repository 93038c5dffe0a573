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

Problems (a door in a group that does not exist, two sample cabinets) are returned
with the path at fault; ``layered`` leaves such an entry out, so a hub whose YAML lost
a group still starts, and the page refuses to save a document that has any.
"""

from __future__ import annotations

from typing import Any

from hub.calendar import DoorGroup, NationalYear, Term
from hub.gate.config import Checkpoint, GateConfig, RouteConfig
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
    alerts = base.alerts if doc.units is None else base.alerts.model_copy(update={"units": doc.units})
    return base.model_copy(update={"sensors": sensors, "calendar": calendar, "gate": _patrols(base.gate, doc, found),
                                   "samples": base.samples.model_copy(update={"cabinet": cabinet}),
                                   "alerts": alerts, "checks": base.checks if doc.checks is None else doc.checks})


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
    """The YAML's checkpoints and routes with the page's over them; what does not fit is a problem, left out."""
    checkpoints = dict(base.checkpoints)
    owner = {tag.upper(): name for name, c in base.checkpoints.items() if name not in doc.checkpoints for tag in c.tags}
    for name, spec in sorted(doc.checkpoints.items()):
        taken = next(((tag, owner[tag.upper()]) for tag in spec.tags
                      if owner.get(tag.upper(), name) != name), None)
        if taken is not None:
            found.append((f"checkpoints.{name}.tags", f"tag {taken[0]} is on checkpoint {taken[1]} already"
                                                      " · 该标签已属于另一巡更点"))
            continue
        owner.update({tag.upper(): name for tag in spec.tags})
        checkpoints[name] = Checkpoint(name=spec.name, tags=list(spec.tags), sensors=list(spec.sensors))
    routes = {name: route for name, route in base.routes.items() if name not in doc.routes}
    for name, route_spec in sorted(doc.routes.items()):
        unknown = [c for c in route_spec.checkpoints if c not in checkpoints]
        if unknown:
            found.append((f"routes.{name}.checkpoints", f"no checkpoint {', '.join(unknown)}: add it first"
                                                        " · 巡更点不存在，请先添加"))
            continue
        routes[name] = RouteConfig(name=route_spec.name, checkpoints=list(route_spec.checkpoints),
                                   day_rounds=route_spec.day_rounds, night_rounds=route_spec.night_rounds,
                                   days=route_spec.days)
    for name, route in list(routes.items()):
        if name not in doc.routes and any(c not in checkpoints for c in route.checkpoints):
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
