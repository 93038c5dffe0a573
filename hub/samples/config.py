"""The ``samples:`` section of the hub config: every number the food-sample rules use.

Defaults follow GB 31654-2021 and 学校食品安全与营养健康管理规定 (2019): at least
125 g of every dish, kept at least 48 hours in a dedicated cabinet at 0–8 °C. Some
provinces ask for 100 g or 200 g, or 72 hours: change the numbers here, not the code.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: The meal an ad-hoc occasion (a banquet, an outing's packed lunch) is logged under.
EVENT_MEAL = "event"
#: Printed before the code in the QR code, so a scanner pattern can tell sample labels from product barcodes.
LABEL_PREFIX = "LY-"
MEAL_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_SENSOR_KEY = re.compile(r"^[^/\s]+/[^/\s]+$")

#: Chinese names of the usual meals, for labels, messages and the daily record.
MEAL_NAMES_ZH: dict[str, str] = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐", "snack": "加餐",
                                 EVENT_MEAL: "活动餐"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MealConfig(_Strict):
    """One regular meal: when it is served, and how long after that its samples must be on record."""

    #: Local time the meal is served (samples are taken as it is served).
    serve_at: dt.time
    #: Minutes after ``serve_at`` by which the samples must be logged; unset: ``log_within_min``.
    log_within_min: float | None = Field(default=None, gt=0, le=24 * 60)
    #: Name on labels and in the daily record (default: 早餐 / 午餐 / 晚餐 …).
    name: str = Field(default="", max_length=32)
    #: Alarm when this meal's samples are missing (a meal some days skip can turn it off).
    check_missing: bool = True


def _default_meals() -> dict[str, MealConfig]:
    return {"breakfast": MealConfig(serve_at=dt.time(7, 0)), "lunch": MealConfig(serve_at=dt.time(11, 30)),
            "dinner": MealConfig(serve_at=dt.time(17, 30))}


class SamplesConfig(_Strict):
    """Keys under ``samples:`` in the hub's YAML config (docs/samples.md)."""

    #: Minimum amount of each dish, in grams (GB 31654-2021: 125 g).
    min_weight_g: float = Field(default=125.0, gt=0, le=5000)
    #: Hours each sample is kept after it was placed (at least 48 h).
    retention_h: float = Field(default=48.0, gt=0, le=24 * 30)
    #: The regular meals by key; scans and buttons name these keys. ``event`` is always accepted too.
    meals: dict[str, MealConfig] = Field(default_factory=_default_meals)
    #: Default minutes after serving by which a meal's samples must be logged.
    log_within_min: float = Field(default=60.0, gt=0, le=24 * 60)
    #: Days the canteen is open although the school calendar says no school (a weekend exam, a boarding week).
    canteen_open_days: list[dt.date] = Field(default_factory=list)
    #: Days the canteen is closed although it is a school day (an outing, a kitchen repair).
    canteen_closed_days: list[dt.date] = Field(default_factory=list)
    #: Sensor key (``device/sensor``) of the sample cabinet's probe; empty: no cabinet watch.
    cabinet: str = ""
    #: A station (``device``, or ``device/sensor`` of its buttons or scanner) → its cabinet, where there are several.
    station_cabinets: dict[str, str] = Field(default_factory=dict)
    #: The band the cabinet must hold while samples are in it, °C.
    cabinet_low: float = 0.0
    cabinet_high: float = 8.0
    #: Out-of-band spells shorter than this do not compromise samples (0: any reading outside the band does).
    excursion_grace_s: float = Field(default=0.0, ge=0)
    #: How often the cabinet's readings are checked against the samples held, seconds.
    cabinet_check_s: float = Field(default=60.0, gt=0)
    #: A scan within this many minutes of a meal button press joins that meal's record.
    station_window_min: float = Field(default=30.0, gt=0, le=24 * 60)
    #: Pre-printed box label codes → dish names (scans of other codes are matched to hub-printed labels).
    dish_codes: dict[str, str] = Field(default_factory=dict)
    #: Also raise the "may be discarded" notice as an alert (kind ``sample_notice``, severity ``info``);
    #: map that kind to a quiet policy under ``alerts.policy_for_kind``. Off: the notice is on the record,
    #: in the audit trail and in ``GET /api/samples?state=due``.
    notify_discardable: bool = False
    #: A TrueType font with Chinese glyphs for labels; unset: Debian's fonts-wqy-zenhei.
    label_font: Path | None = None
    #: Label size in millimetres (width, height): one label per page, for a label printer.
    label_size_mm: tuple[float, float] = (60.0, 40.0)

    @field_validator("meals")
    @classmethod
    def _meal_keys(cls, meals: dict[str, MealConfig]) -> dict[str, MealConfig]:
        for key in meals:
            if not re.match(MEAL_PATTERN, key):
                raise ValueError(f"meal key {key!r} must be lower-case letters, digits and _")
            if key == EVENT_MEAL:
                raise ValueError(f"{EVENT_MEAL!r} is the built-in ad-hoc meal; it has no serving time")
        return meals

    @field_validator("cabinet")
    @classmethod
    def _cabinet_key(cls, key: str) -> str:
        if key and not _SENSOR_KEY.match(key):
            raise ValueError(f"cabinet {key!r} must be a sensor key 'device/sensor'")
        return key

    @field_validator("station_cabinets")
    @classmethod
    def _station_cabinet_keys(cls, mapping: dict[str, str]) -> dict[str, str]:
        for station, cabinet in mapping.items():
            if not _SENSOR_KEY.match(cabinet):
                raise ValueError(f"station {station!r}: cabinet {cabinet!r} must be a sensor key 'device/sensor'")
        return mapping

    @model_validator(mode="after")
    def _band(self) -> SamplesConfig:
        if self.cabinet_low >= self.cabinet_high:
            raise ValueError("cabinet_low must be below cabinet_high")
        if self.label_size_mm[0] < 20 or self.label_size_mm[1] < 20:
            raise ValueError("label_size_mm: a label needs at least 20 × 20 mm for its code and text")
        return self

    # -- derived -------------------------------------------------------------------------------

    @property
    def retention_s(self) -> float:
        return self.retention_h * 3600.0

    def meal_name(self, meal: str) -> str:
        configured = self.meals.get(meal)
        if configured is not None and configured.name:
            return configured.name
        return MEAL_NAMES_ZH.get(meal, meal)

    def log_within_s(self, meal: str) -> float:
        configured = self.meals[meal].log_within_min
        return (configured if configured is not None else self.log_within_min) * 60.0

    def cabinet_for(self, station: str) -> str:
        """The cabinet a station's samples go in: by sensor key, then by device, then the default."""
        device = station.split("/", 1)[0]
        return self.station_cabinets.get(station) or self.station_cabinets.get(device) or self.cabinet
