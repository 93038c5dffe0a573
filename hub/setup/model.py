"""What the admin page sets up, as one versioned document (section ``setup`` of ``settings.sqlite3``).

The YAML file given at start (``XIAOAN_CONFIG``) stays the baseline; this document is laid
over it (``hub.setup.rules``): a sensor's name and what it is, the terms (replacing the
file's when set), extra holidays (added to the file's) and door groups with their windows
(replacing a group of the same name in the file).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from edge.wire import PlainText
from hub.alerts.config import UnitConfig
from hub.calendar import MAX_WINDOWS, NationalYear, WindowConfig
from hub.checks.config import ChecksConfig

#: A name typed on the page: one plain line (no control or direction characters), shown to staff.
Name = Annotated[PlainText, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
#: A door group's name: plain text without ``/`` (it is a path segment of the API), Chinese welcome.
GROUP_PATTERN = r"^[^/]{1,32}$"
GroupName = Annotated[PlainText, StringConstraints(pattern=GROUP_PATTERN, strip_whitespace=True)]
#: A patrol route's round windows per day or per night: 24 is a round every hour.
MAX_ROUNDS = 24
#: The years a school's national table may be given for (the package's range, and some to come).
FIRST_YEAR, LAST_YEAR = 2004, 2100
#: A sensor key ``device/sensor`` as a checkpoint names its reader or button.
_ID = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
SensorKey = Annotated[str, StringConstraints(pattern=rf"^{_ID}/{_ID}$")]
#: A tag id as the reader prints it (hex, digits, letters).
TagId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:_\-]{1,64}$", strip_whitespace=True)]


class SensorRole(StrEnum):
    """What a sensor is at this school."""

    COLD_UNIT = "cold_unit"  # 冷藏/冷冻设备的温度探头: the profile's limits
    SAMPLE_CABINET = "sample_cabinet"  # 留样柜: sample-fridge limits and the sample register's cabinet watch
    DOOR = "door"  # 门/校门: a door group's opening windows
    OTHER = "other"  # named only


class ColdProfile(StrEnum):
    """The cold units' profiles (hub.settings.DEFAULT_PROFILES): each brings its limits."""

    FRIDGE = "fridge"  # 冷藏 0–8 °C
    FREEZER = "freezer"  # 冷冻 ≤ -12 °C
    SAMPLE_FRIDGE = "sample_fridge"  # 留样冰箱 0–8 °C


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SensorSetup(_Strict):
    """One sensor as the admin named and assigned it."""

    name: Name
    role: SensorRole
    #: A cold unit's profile (a sample cabinet is always ``sample_fridge``).
    profile: ColdProfile | None = None
    #: A door's group.
    group: GroupName | None = None

    @model_validator(mode="after")
    def _fits_role(self) -> SensorSetup:
        if self.role is SensorRole.COLD_UNIT and self.profile is None:
            raise ValueError("profile: a cold unit needs its kind (fridge, freezer or sample_fridge)")
        if self.role is SensorRole.DOOR and self.group is None:
            raise ValueError("group: a door needs its door group")
        if self.role is SensorRole.SAMPLE_CABINET:
            self.profile = ColdProfile.SAMPLE_FRIDGE
        if self.role not in (SensorRole.COLD_UNIT, SensorRole.SAMPLE_CABINET):
            self.profile = None
        if self.role is not SensorRole.DOOR:
            self.group = None
        return self


class TermSetup(_Strict):
    """A term in session (学期); outside every term it is vacation."""

    name: Annotated[PlainText, StringConstraints(max_length=64, strip_whitespace=True)] = ""
    start: dt.date
    end: dt.date  # inclusive

    @model_validator(mode="after")
    def _order(self) -> TermSetup:
        if self.end < self.start:
            raise ValueError("end: the term ends before it starts")
        return self


class GroupSetup(_Strict):
    """A door group's opening windows (its members are the doors assigned to it)."""

    school_day: list[WindowConfig] = Field(default_factory=list, max_length=MAX_WINDOWS)
    other_day: list[WindowConfig] = Field(default_factory=list, max_length=MAX_WINDOWS)
    #: A gate still open this long after a window closes is an alarm.
    close_grace_s: float = Field(default=600.0, ge=0, le=86400)


class CheckpointSetup(_Strict):
    """A patrol checkpoint: the tags fixed there and the readers or buttons installed there."""

    name: Name
    tags: list[TagId] = Field(default_factory=list, max_length=20)
    sensors: list[SensorKey] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _identified(self) -> CheckpointSetup:
        if not self.tags and not self.sensors:
            raise ValueError("tags: a checkpoint needs a tag or a reader that identifies a visit · 请填写标签或读卡器")
        return self


class RouteSetup(_Strict):
    """A patrol route: its checkpoints and the windows in which one complete round is due."""

    name: Name
    checkpoints: list[GroupName] = Field(min_length=1, max_length=50)
    day_rounds: list[WindowConfig] = Field(default_factory=list, max_length=MAX_ROUNDS)
    night_rounds: list[WindowConfig] = Field(default_factory=list, max_length=MAX_ROUNDS)
    days: Literal["every_day", "school_days"] = "every_day"

    @model_validator(mode="after")
    def _rounds(self) -> RouteSetup:
        if len(set(self.checkpoints)) != len(self.checkpoints):
            raise ValueError("checkpoints: a checkpoint is listed twice")
        for field, windows in (("day_rounds", self.day_rounds), ("night_rounds", self.night_rounds)):
            if any(w.start == w.end for w in windows):
                raise ValueError(f"{field}: a round window ends when it starts")
        return self


class SetupDocument(_Strict):
    """The whole page-edited setup: what one version of the section holds."""

    sensors: dict[str, SensorSetup] = Field(default_factory=dict)
    #: None: the YAML's terms; a list (even empty) replaces them.
    terms: list[TermSetup] | None = None
    #: Extra days without school, added to the YAML's and the national table's.
    holidays: list[dt.date] = Field(default_factory=list, max_length=366)
    #: Keyed by name: plain, stripped text like a route's list of checkpoints (``GroupName``).
    groups: dict[GroupName, GroupSetup] = Field(default_factory=dict)
    #: Years of the national table confirmed or entered on the page (replacing chinesecalendar's for that year).
    national: dict[int, NationalYear] = Field(default_factory=dict, max_length=20)
    #: Patrol checkpoints and routes, replacing a YAML one of the same name.
    checkpoints: dict[GroupName, CheckpointSetup] = Field(default_factory=dict, max_length=100)
    routes: dict[GroupName, RouteSetup] = Field(default_factory=dict, max_length=20)
    #: None: the YAML's cold units (probe and door, ``alerts.units``); a list (even empty) replaces them.
    units: list[UnitConfig] | None = Field(default=None, max_length=200)
    #: None: the YAML's checklists and work-order times (``checks``); set: replaces them.
    checks: ChecksConfig | None = None
