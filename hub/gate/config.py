"""The gate-duty part of the hub config: which events are gates, how severe, checkpoints and patrol routes.

The opening windows themselves are the calendar's (``calendar.groups``); this is
what the gatekeeper's duty adds on top: patrol checkpoints with their RFID/NFC tags
or buttons, routes with the round windows that each require one complete round,
and the severities by day and by night.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.alerts.kinds import Severity
from hub.calendar import WindowConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Checkpoint(_Strict):
    """A place a patrol must visit: a tag fixed there, or a reader / button installed there."""

    name: str = ""
    #: Tag ids (as the reader prints them; compared case-insensitively) fixed at this checkpoint.
    tags: list[str] = Field(default_factory=list)
    #: Sensor keys (``device/sensor``) of a reader or button at this checkpoint: any read there is a visit.
    sensors: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _identified(self) -> Checkpoint:
        if not self.tags and not self.sensors:
            raise ValueError("a checkpoint needs tags or sensors that identify a visit")
        if any(key.count("/") != 1 for key in self.sensors):
            raise ValueError("sensors are 'device/sensor' keys")
        return self


class RouteConfig(_Strict):
    """A patrol route: its checkpoints and the windows in which one complete round is due."""

    name: str = ""
    checkpoints: list[str] = Field(min_length=1)
    #: Rounds by day and by night; each window requires every checkpoint visited within it.
    #: A window whose end is before its start runs past midnight.
    day_rounds: list[WindowConfig] = Field(default_factory=list)
    night_rounds: list[WindowConfig] = Field(default_factory=list)
    #: ``every_day`` (the gate room is staffed all year) or only ``school_days``.
    days: Literal["every_day", "school_days"] = "every_day"

    @property
    def rounds(self) -> list[WindowConfig]:
        return [*self.day_rounds, *self.night_rounds]


def tag_clashes(checkpoints: Mapping[str, Checkpoint]) -> dict[str, tuple[str, str]]:
    """Checkpoints (in the mapping's order) with a tag an earlier one has: name → (tag, the earlier one's name).

    The one check of the YAML (``GateConfig``) and the admin page (``hub.setup.rules``): a tag
    on two checkpoints would make a visit count for whichever the hub looked at last. A
    checkpoint found clashing claims none of its tags, so the next one is judged without it.
    """
    owner: dict[str, str] = {}
    clashes: dict[str, tuple[str, str]] = {}
    for name, checkpoint in checkpoints.items():
        taken = next(((tag, owner[tag.upper()]) for tag in checkpoint.tags if owner.get(tag.upper(), name) != name),
                     None)
        if taken is not None:
            clashes[name] = taken
            continue
        owner.update({tag.upper(): name for tag in checkpoint.tags})
    return clashes


def unknown_checkpoints(routes: Mapping[str, RouteConfig], checkpoints: Container[str]) -> dict[str, list[str]]:
    """Routes naming a checkpoint there is none of: route → those names (shared like ``tag_clashes``)."""
    found: dict[str, list[str]] = {}
    for name, route in routes.items():
        unknown = [c for c in route.checkpoints if c not in checkpoints]
        if unknown:
            found[name] = unknown
    return found


class GateConfig(_Strict):
    #: Event kinds that are gates or doors under the calendar's opening windows.
    door_kinds: list[str] = Field(default_factory=lambda: ["gate", "door"])
    #: Event kind of a tamper switch (state ``ok``/``cleared``/``closed`` clears it).
    tamper_kind: str = "tamper"
    #: Event kind of a patrol visit (a tag read or a checkpoint button).
    patrol_kind: str = "patrol"
    #: Severities of after-hours openings, a sensor lost or tampered with, and missed rounds.
    night_severity: Severity = Severity.CRITICAL
    day_severity: Severity = Severity.WARNING
    #: After a hub outage, closing sweeps and patrol rounds are caught up for at most this long.
    catch_up_s: float = Field(default=86400.0, ge=0)
    #: GB/T 29315-2022 expects key areas patrolled at least this many times a day (warned about at start).
    min_rounds_per_day: int = Field(default=5, ge=0)
    checkpoints: dict[str, Checkpoint] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> GateConfig:
        for name, unknown in unknown_checkpoints(self.routes, self.checkpoints).items():
            raise ValueError(f"route {name!r} names unknown checkpoints: {', '.join(unknown)}")
        for name, (tag, other) in tag_clashes(self.checkpoints).items():
            raise ValueError(f"tag {tag!r} is on both checkpoints {other!r} and {name!r}")
        return self
