"""The page's setup laid over the YAML baseline: a pure function of (baseline, document) → settings in force.

- A named sensor gets the name everywhere (pages, messages, reports); a cold unit or a
  sample cabinet its profile, and so the profile's limits. Limits and delays the YAML
  sets for the sensor stay; limits edited on the page (``hub.alerts.limit_edits``) beat both.
- A sample cabinet is the sample register's cabinet (``samples.cabinet``).
- A door joins its group, and leaves any group the YAML listed it in by name.
- Door groups of the page replace a YAML group of the same name (windows, grace); a
  group without any door watches nothing and is left out.
- Terms replace the YAML's once the page sets them; holidays are added to the YAML's.

Problems (a door in a group that does not exist, two sample cabinets) are returned
with the path at fault; ``layered`` leaves such an entry out, so a hub whose YAML lost
a group still starts, and the page refuses to save a document that has any.
"""

from __future__ import annotations

from typing import Any

from hub.calendar import DoorGroup, Term
from hub.settings import HubConfig, LimitOverride
from hub.setup.model import SensorRole, SetupDocument

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
        "groups": groups,
        "holidays": sorted(set(base.calendar.holidays) | set(doc.holidays)),
        "terms": base.calendar.terms if doc.terms is None else [Term(name=t.name, start=t.start, end=t.end)
                                                                for t in doc.terms]})
    return base.model_copy(update={"sensors": sensors, "calendar": calendar,
                                   "samples": base.samples.model_copy(update={"cabinet": cabinet})})


def problems_of(base: HubConfig, doc: SetupDocument) -> list[Problem]:
    """What of ``doc`` cannot be applied over ``base`` (empty: all of it can)."""
    found: list[Problem] = []
    layered(base, doc, found)
    return found


#: Sections of the document whose entries change one by one (``sensors.KEY``, ``groups.NAME``).
_NESTED = ("sensors", "groups")


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
