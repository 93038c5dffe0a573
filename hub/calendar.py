"""The school's calendar: which days are school days, and when each gate or door may be open.

China moves working days around public holidays (调休): a Saturday can be a working
day and a Wednesday a holiday. ``chinesecalendar`` carries the State Council's
table for each year it knows; a school's config can add or override days (the
table for a new year before the package has it, a local holiday), set its term and
vacation dates, and one-off overrides (exam days, open days). Everything here is a
pure function of the configuration and a date or instant.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

_LOGGER = logging.getLogger(__name__)

DayType = Literal["school_day", "weekend", "holiday", "vacation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: The windows a door group may have per day type when set on the admin page (a group of the school's,
#: or the default group's confirmed windows): more is a typo, not a school.
MAX_WINDOWS = 10


class WindowConfig(_Strict):
    """An opening window in local time; ``end`` before ``start`` means it runs past midnight."""

    start: dt.time
    end: dt.time


class Term(_Strict):
    name: str = ""
    start: dt.date
    end: dt.date  # inclusive

    @model_validator(mode="after")
    def _order(self) -> Term:
        if self.end < self.start:
            raise ValueError("a term ends after it starts")
        return self


class DayOverride(_Strict):
    """One date made different: closed (no windows), or special windows for some groups."""

    date: dt.date
    #: ``closed``: no opening at all; ``windows``: the windows below instead of the usual ones;
    #: ``extra_windows``: the windows below as well as the usual ones (an evening event, a delivery);
    #: ``school_day`` / ``no_school``: treat the date as such.
    kind: Literal["closed", "windows", "extra_windows", "school_day", "no_school"]
    #: Door groups affected (empty: all).
    groups: list[str] = Field(default_factory=list)
    windows: list[WindowConfig] = Field(default_factory=list)
    reason: str = ""


class DoorGroup(_Strict):
    """Gates or doors that share opening hours (the main gates, the kitchen back door …)."""

    #: Sensor keys (``device/sensor``) in the group; globs allowed.
    members: list[str] = Field(min_length=1)
    school_day: list[WindowConfig] = Field(default_factory=list)
    #: Windows on weekends, holidays and vacations (e.g. a duty teacher's hour); empty: closed.
    other_day: list[WindowConfig] = Field(default_factory=list)
    #: A gate still open this long after a window closes is an alarm (the closing sweep).
    close_grace_s: float = Field(default=600.0, ge=0)


#: The group every gate or door joins when no configured group names it.
DEFAULT_GROUP = "default"


def _t(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _school_gate_windows() -> list[WindowConfig]:
    """A typical Chinese primary / secondary school's gate hours on a school day.

    Arrival (06:30–08:30), the midday break when day pupils go home for lunch
    (11:30–13:30), and going home (16:30–18:30). A template, not a rule: each
    school confirms or edits it (``calendar.default_group`` or the admin page).
    """
    return [WindowConfig(start=_t(a), end=_t(b)) for a, b in
            (("06:30", "08:30"), ("11:30", "13:30"), ("16:30", "18:30"))]


class DefaultGroup(_Strict):
    """Opening windows for every gate and door no configured group names: watched from the first minute."""

    #: False: a gate or door outside every group is watched by no after-hours rule (a warning on /admin and
    #: /api/health says so).
    enabled: bool = True
    #: Event kinds that join it (of ``gate.door_kinds``). Gates only by default: a ``door`` is as
    #: often a cold-room or kitchen door on a canteen node, opened all morning while cooking; the
    #: held-open rule (``alerts.defaults.door_open_max_s``) watches it from the first minute, and a
    #: building door the gatekeeper answers for joins a door group of its own.
    kinds: list[str] = Field(default_factory=lambda: ["gate"])
    school_day: list[WindowConfig] = Field(default_factory=_school_gate_windows)
    other_day: list[WindowConfig] = Field(default_factory=list)
    close_grace_s: float = Field(default=600.0, ge=0)


class NationalYear(_Strict):
    """One year's State Council table as the school confirmed or entered it: replaces the package's for that year.

    ``holidays``: the days off of the notice (weekend days inside a holiday may be listed or not);
    ``workdays``: the swapped working days (调休上班), usually a Saturday or Sunday. Every other day
    of the year is a working day from Monday to Friday.
    """

    holidays: list[dt.date] = Field(default_factory=list, max_length=60)
    workdays: list[dt.date] = Field(default_factory=list, max_length=20)


class CalendarConfig(_Strict):
    timezone: str = "Asia/Shanghai"
    #: Use the national holiday table of ``chinesecalendar`` for the years it knows.
    national_holidays: bool = True
    #: Extra or corrected days: holidays (no school) and swapped working days (school).
    holidays: list[dt.date] = Field(default_factory=list)
    workdays: list[dt.date] = Field(default_factory=list)
    #: Years whose national table the school confirmed or entered (the admin page): it replaces the
    #: package's for that year, and gives a year the package does not know yet its holidays.
    national_table: dict[int, NationalYear] = Field(default_factory=dict)
    #: Terms in session; outside them it is vacation. Empty: every school day is in term.
    terms: list[Term] = Field(default_factory=list)
    overrides: list[DayOverride] = Field(default_factory=list)
    groups: dict[str, DoorGroup] = Field(default_factory=dict)
    #: The windows of the gates and doors no group names (a school's template until it sets its own).
    default_group: DefaultGroup = Field(default_factory=DefaultGroup)
    #: "Night" for severity: a door opened or a sensor lost at night is more serious.
    night_start: dt.time = dt.time(22, 0)
    night_end: dt.time = dt.time(6, 0)


@dataclass(frozen=True)
class Opening:
    """A concrete window: from ``start`` to ``end`` (aware datetimes)."""

    start: dt.datetime
    end: dt.datetime

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def openings_of(windows: list[WindowConfig], day: dt.date, tz: ZoneInfo) -> list[Opening]:
    """Daily windows made concrete on ``day``; a window whose end is not after its start ends the next day."""
    result = []
    for window in windows:
        start = dt.datetime.combine(day, window.start, tz)
        end_day = day if window.end > window.start else day + dt.timedelta(days=1)
        result.append(Opening(start, dt.datetime.combine(end_day, window.end, tz)))
    return result


def _national_name(day: dt.date) -> str | None:
    """The State Council's name of the holiday a date belongs to (also on its swapped working days)."""
    try:
        import chinese_calendar  # noqa: PLC0415 - optional, as in _national
        _, name = chinese_calendar.get_holiday_detail(day)
    except (ImportError, NotImplementedError):
        return None
    return str(name) if name else None


def _national(day: dt.date) -> bool | None:
    """True: a working day by the State Council's table; False: a holiday or weekend; None: year unknown."""
    try:
        import chinese_calendar  # noqa: PLC0415 - optional: a school may keep its own table
    except ImportError:
        return None
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


#: The package's holiday names as a school's staff say them.
HOLIDAY_NAMES_ZH = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节",
                    "National Day": "国庆节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}


def package_year(year: int) -> tuple[NationalYear, dict[dt.date, str]] | None:
    """The year's holidays and swapped working days from ``chinesecalendar``, with each day's holiday name.

    None: the installed package has no table for that year (the State Council publishes the
    next year's around November; a new package release follows).
    """
    try:
        from chinese_calendar import constants  # noqa: PLC0415 - optional, as in _national
    except ImportError:
        return None
    holidays = sorted(day for day in constants.holidays if day.year == year)
    workdays = sorted(day for day in constants.workdays if day.year == year)
    if not holidays and not workdays:
        return None
    names = {day: str(constants.holidays.get(day) or constants.workdays.get(day)) for day in [*holidays, *workdays]}
    return NationalYear(holidays=holidays, workdays=workdays), names


def _tabled(table: NationalYear, day: dt.date) -> bool:
    """A working day by a confirmed or entered table."""
    if day in table.workdays:
        return True
    return day not in table.holidays and day.weekday() < 5


class SchoolCalendar:
    def __init__(self, config: CalendarConfig) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone)
        self._holidays = set(config.holidays)
        self._workdays = set(config.workdays)
        self._overrides: dict[dt.date, list[DayOverride]] = {}
        for override in config.overrides:
            self._overrides.setdefault(override.date, []).append(override)
        self._warned_years: set[int] = set()

    # -- days ----------------------------------------------------------------------------------

    def day_type(self, day: dt.date) -> DayType:
        for override in self._overrides.get(day, []):
            if not override.groups and override.kind == "school_day":
                return "school_day"
            if not override.groups and override.kind in ("no_school", "closed"):
                return "holiday"
        if day in self._workdays:
            working = True
        elif day in self._holidays:
            return "holiday"
        else:
            working = self._working(day)
            if not working:
                return "weekend" if day.weekday() >= 5 else "holiday"
        if self.config.terms and not any(t.start <= day <= t.end for t in self.config.terms):
            return "vacation"
        return "school_day" if working else "holiday"

    def _working(self, day: dt.date) -> bool:
        """A working day by the year's national table: the school's (the admin page), else the package's."""
        table = self.config.national_table.get(day.year)
        if table is not None:
            return _tabled(table, day)
        national = _national(day) if self.config.national_holidays else None
        if national is not None:
            return national
        if self.config.national_holidays and day.year not in self._warned_years:
            self._warned_years.add(day.year)
            _LOGGER.warning("no national holiday table for %s: enter its holidays and swapped working days on the"
                            " admin page (or in the calendar config); weekends only until then", day.year)
        return day.weekday() < 5

    def is_school_day(self, day: dt.date) -> bool:
        return self.day_type(day) == "school_day"

    def is_holiday(self, day: dt.date) -> bool:
        """A public holiday (or the school's own), or a day of a vacation — its weekends too.

        An ordinary weekend in term is not one; a swapped working day (调休) is a school day.
        What a rota's ``on: holidays`` shift (the safety officer's deputy) follows.
        """
        kind = self.day_type(day)
        if kind in ("holiday", "vacation"):
            return True
        terms = self.config.terms
        return kind == "weekend" and bool(terms) and not any(t.start <= day <= t.end for t in terms)

    def day_name(self, day: dt.date) -> str | None:
        """Why a day is special: an override's reason, or the national holiday it belongs to."""
        for override in self._overrides.get(day, []):
            if override.reason:
                return override.reason
        return _national_name(day) if self.config.national_holidays else None

    # -- windows -------------------------------------------------------------------------------

    def group_of(self, sensor_key: str) -> str | None:
        """The configured group naming a sensor (None: none does; see ``group_for_door``)."""
        for name, group in self.config.groups.items():
            if any(fnmatch.fnmatchcase(sensor_key, pattern) for pattern in group.members):
                return name
        return None

    def group_for_door(self, sensor_key: str, kind: str) -> str | None:
        """The group whose windows watch a gate or door: its configured one, else the default group.

        None when no group names the sensor and the default group is switched off or does not
        take its kind: a gate or door no after-hours rule watches.
        """
        found = self.group_of(sensor_key)
        default = self.config.default_group
        if found is None and default.enabled and kind in default.kinds:
            return DEFAULT_GROUP
        return found

    def group_names(self) -> list[str]:
        """The configured groups, then the default group (when enabled)."""
        names = list(self.config.groups)
        if self.config.default_group.enabled and DEFAULT_GROUP not in self.config.groups:
            names.append(DEFAULT_GROUP)
        return names

    def group(self, name: str) -> DoorGroup:
        """A group's windows by name; the default group's are ``calendar.default_group``'s. KeyError: no such group."""
        found = self.config.groups.get(name)
        if found is not None:
            return found
        default = self.config.default_group
        if name == DEFAULT_GROUP and default.enabled:
            return DoorGroup(members=["*"], school_day=default.school_day, other_day=default.other_day,
                             close_grace_s=default.close_grace_s)
        raise KeyError(name)

    def openings(self, group_name: str, day: dt.date) -> list[Opening]:
        """The windows of one group that begin on ``day`` (a window may end the next day)."""
        group = self.group(group_name)
        windows = group.school_day if self.is_school_day(day) else group.other_day
        for override in self._overrides.get(day, []):
            if override.groups and group_name not in override.groups:
                continue
            if override.kind == "closed":
                windows = []
            elif override.kind == "windows":
                windows = override.windows
            elif override.kind == "extra_windows":
                windows = [*windows, *override.windows]
        return openings_of(windows, day, self.tz)

    def opening_at(self, group_name: str, instant: float) -> Opening | None:
        """The window a moment falls in, or None: after hours."""
        local = dt.datetime.fromtimestamp(instant, self.tz)
        # A window that crossed midnight began the day before.
        for day in (local.date() - dt.timedelta(days=1), local.date()):
            for opening in self.openings(group_name, day):
                if opening.contains(local):
                    return opening
        return None

    def closings_between(self, group_name: str, since: float, until: float) -> list[dt.datetime]:
        """Closing times (window ends) in (since, until]: when the closing sweep runs."""
        start = dt.datetime.fromtimestamp(since, self.tz)
        end = dt.datetime.fromtimestamp(until, self.tz)
        found: list[dt.datetime] = []
        day = start.date() - dt.timedelta(days=1)
        while day <= end.date():
            found.extend(o.end for o in self.openings(group_name, day) if start < o.end <= end)
            day += dt.timedelta(days=1)
        return sorted(found)

    def is_night(self, instant: float) -> bool:
        now = dt.datetime.fromtimestamp(instant, self.tz).time()
        start, end = self.config.night_start, self.config.night_end
        return now >= start or now < end if start > end else start <= now < end
