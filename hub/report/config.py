"""The ``report:`` section of the hub config: when the weekly report is made, the log sheet, sign-off reminders.

Chinese school canteens keep a temperature log sheet by hand (晨检 / 午检: a reading of
each cold unit in the morning and the afternoon); the report prints the same sheet from
the sensors, at the times the school chooses. The weekly review (周排查) is signed by the
safety officer; a week left unsigned reminds them after ``remind_after_days``.
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SENSOR_KEY = re.compile(r"^[^/\s]+/[^/\s]+$")


class LogSlot(BaseModel):
    """One column of the paper log sheet: its label and the local time its reading is taken."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=16)
    at: dt.time


def _default_slots() -> list[LogSlot]:
    return [LogSlot(name="上午", at=dt.time(8, 0)), LogSlot(name="下午", at=dt.time(14, 0))]


class ReportConfig(BaseModel):
    """Keys under ``report:`` in the hub's YAML config (docs/reports.md)."""

    model_config = ConfigDict(extra="forbid")

    #: The school's name, printed in the report's title and on every page.
    school: str = Field(default="", max_length=64)
    #: The site (campus, canteen, address) printed with the name on every page; empty: the sites
    #: the school's devices announce.
    site: str = Field(default="", max_length=128)
    #: Make the past week's report automatically every Monday at this local time.
    weekly: bool = True
    weekly_at: dt.time = dt.time(7, 0)
    #: After a hub outage, weeks whose scheduled time passed at most this many days ago are still made.
    catch_up_days: int = Field(default=28, ge=0, le=366)
    #: The route (a tier in notify.yaml) the new report and sign-off reminders are announced on.
    route: str = Field(default="safety_officer", min_length=1)
    #: Remind the safety officer once a day when a week is still unsigned this many days after it ended.
    remind_after_days: float = Field(default=3.0, ge=0)
    #: The log sheet's columns (default 上午 08:00 and 下午 14:00).
    log_sheet: list[LogSlot] = Field(default_factory=_default_slots, max_length=6)
    #: A log-sheet reading is the first one at or after the slot's time, within this many minutes.
    log_sheet_window_min: float = Field(default=30.0, gt=0, le=24 * 60)
    #: Reading interval per sensor key, seconds, for data completeness; unset sensors: inferred from the
    #: busiest hour of the period (the edge's own interval is not announced to the hub).
    intervals_s: dict[str, float] = Field(default_factory=dict)

    @field_validator("intervals_s")
    @classmethod
    def _interval_keys(cls, intervals: dict[str, float]) -> dict[str, float]:
        for key, seconds in intervals.items():
            if not _SENSOR_KEY.match(key):
                raise ValueError(f"intervals_s key {key!r} must be a sensor key 'device/sensor'")
            if seconds <= 0:
                raise ValueError(f"intervals_s {key!r}: the interval must be positive")
        return intervals
