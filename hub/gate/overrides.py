"""Calendar overrides made at run time (API), merged over the configured calendar.

A one-off date (an exam day closed, an open evening's extra window) is a
``DayOverride`` of the calendar; a recurring extra window for a group (the milk
delivery at 05:40 every school day, first acknowledged as "delivery" three times)
is added to that group's daily windows. Both live in the gate store and the
``SchoolCalendar`` is rebuilt from config + overrides whenever one changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.calendar import (
    DEFAULT_GROUP,
    MAX_WINDOWS,
    CalendarConfig,
    DayOverride,
    DefaultGroup,
    DoorGroup,
    SchoolCalendar,
    WindowConfig,
)

OverrideKind = Literal["closed", "windows", "extra_windows", "school_day", "no_school", "extra_window"]


class OverrideSpec(BaseModel):
    """What an override changes; ``extra_window`` is recurring, every other kind is for one ``date``."""

    model_config = ConfigDict(extra="forbid")

    kind: OverrideKind
    date: dt.date | None = None
    #: Door groups affected (empty: all, for dated kinds; ``extra_window`` needs at least one).
    groups: list[str] = Field(default_factory=list, max_length=50)
    windows: list[WindowConfig] = Field(default_factory=list, max_length=10)
    #: ``extra_window`` only: the days the window is added to.
    days: Literal["school_day", "other_day", "every_day"] = "school_day"
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _shape(self) -> OverrideSpec:
        if self.kind == "extra_window":
            if self.date is not None:
                raise ValueError("date: an extra_window recurs; for one date use kind extra_windows")
            if not self.groups:
                raise ValueError("groups: an extra_window needs the group(s) it opens")
        elif self.date is None:
            raise ValueError(f"date: a {self.kind} override is for one date")
        if self.kind in ("windows", "extra_windows", "extra_window") and not self.windows:
            raise ValueError(f"windows: a {self.kind} override needs at least one window")
        if self.kind not in ("windows", "extra_windows", "extra_window") and self.windows:
            raise ValueError(f"windows: a {self.kind} override takes no windows")
        return self


@dataclass(frozen=True)
class StoredOverride:
    id: int
    spec: OverrideSpec
    created_by: str
    created_at: float


class DefaultWindows(BaseModel):
    """The default group's windows as an admin set or confirmed them on the page (they beat the config file)."""

    model_config = ConfigDict(extra="forbid")

    school_day: list[WindowConfig] = Field(default_factory=list, max_length=MAX_WINDOWS)
    other_day: list[WindowConfig] = Field(default_factory=list, max_length=MAX_WINDOWS)


@dataclass(frozen=True)
class DefaultConfirmation:
    """An admin's confirmation of the default group's windows (as they were, or edited)."""

    id: int
    windows: DefaultWindows
    confirmed_by: str
    confirmed_at: float


def default_windows(base: CalendarConfig) -> DefaultWindows:
    """The default group's windows as the config file sets them."""
    group = base.default_group
    return DefaultWindows(school_day=group.school_day, other_day=group.other_day)


def merge(base: CalendarConfig, overrides: list[OverrideSpec],
          confirmed: DefaultWindows | None = None) -> CalendarConfig:
    """The calendar config with run-time overrides (and confirmed default windows) applied; the base is unchanged."""
    day_overrides = list(base.overrides)
    groups = {name: group.model_copy(deep=True) for name, group in base.groups.items()}
    default: DefaultGroup = base.default_group.model_copy(deep=True)
    if confirmed is not None:
        default.school_day, default.other_day = list(confirmed.school_day), list(confirmed.other_day)
    for spec in overrides:
        if spec.kind != "extra_window":
            assert spec.date is not None
            day_overrides.append(DayOverride(date=spec.date, kind=spec.kind, groups=spec.groups,
                                             windows=spec.windows, reason=spec.reason))
            continue
        for name in spec.groups:
            group: DefaultGroup | DoorGroup | None = groups.get(name)
            if group is None and name == DEFAULT_GROUP:
                group = default
            if group is None:
                continue  # a group removed from the config since: the override no longer applies
            if spec.days in ("school_day", "every_day"):
                group.school_day = [*group.school_day, *spec.windows]
            if spec.days in ("other_day", "every_day"):
                group.other_day = [*group.other_day, *spec.windows]
    return base.model_copy(update={"overrides": day_overrides, "groups": groups, "default_group": default})


def school_calendar(base: CalendarConfig, overrides: list[StoredOverride],
                    confirmed: DefaultConfirmation | None = None) -> SchoolCalendar:
    """The school's calendar as in force: the configured one with what was set through the API."""
    return SchoolCalendar(merge(base, [o.spec for o in overrides], confirmed.windows if confirmed else None))
