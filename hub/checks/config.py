"""The ``checks:`` section of the hub config: the checklists' templates and the work orders' due times.

The defaults are what a Chinese school canteen and gate are asked to check (SAMR Order 60,
2022: 日管控、周排查、月调度; GB 31654-2021 for the kitchen; GB/T 29315-2022 for the gate).
A school edits the items here; a completed checklist keeps the template it was filled
with, so changing a template never rewrites an old record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.auth.roles import Role
from hub.checks.kinds import AutoSource, Cadence, DayRule, ItemKind, Urgency

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemConfig(_Strict):
    """One line of a checklist."""

    key: str = Field(pattern=KEY_PATTERN)
    text: str = Field(min_length=1, max_length=120)
    #: The heading it is listed under (晨检、环境、原料 …).
    section: str = Field(default="", max_length=40)
    kind: ItemKind = ItemKind.YES_NO
    #: A number item's accepted range (either end may be open) and unit.
    low: float | None = None
    high: float | None = None
    unit: str = Field(default="", max_length=10)
    #: ★ a key item: a failure is urgent.
    key_item: bool = False
    #: Answered from the hub's own data (the person confirms, or overrides with a reason).
    auto: AutoSource | None = None
    #: A photo taken on the spot is required with the answer (the page opens the camera, not the gallery).
    photo: bool = False
    #: A choice item's options (e.g. 正常 / 轻微异常 / 严重异常), and those of them that count as a failure.
    options: list[str] = Field(default_factory=list, max_length=20)
    fail_options: list[str] = Field(default_factory=list, max_length=20)
    #: Where on the route the line is checked (a place with a QR code): it is answered only on the page the
    #: place's code opens, and the scan's place and time are kept with it. Empty: on the checklist itself.
    place: str = Field(default="", max_length=60)

    @model_validator(mode="after")
    def _range(self) -> ItemConfig:
        if self.kind is not ItemKind.NUMBER and (self.low is not None or self.high is not None):
            raise ValueError(f"item {self.key!r}: only a number item has low/high")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"item {self.key!r}: low must not be above high")
        if self.kind is ItemKind.CHOICE:
            if len(self.options) < 2:
                raise ValueError(f"item {self.key!r}: a choice item needs at least two options")
            if any(not option.strip() or len(option) > 40 for option in self.options):
                raise ValueError(f"item {self.key!r}: each option is 1 to 40 characters")
            if len(set(self.options)) != len(self.options):
                raise ValueError(f"item {self.key!r}: options repeat")
            if not set(self.fail_options) <= set(self.options):
                raise ValueError(f"item {self.key!r}: fail_options must be among the options")
        elif self.options or self.fail_options:
            raise ValueError(f"item {self.key!r}: only a choice item has options")
        return self


class TemplateConfig(_Strict):
    """A checklist: its items, how often it is due, by when, on which days, and whose duty it is."""

    name: str = Field(min_length=1, max_length=60)
    cadence: Cadence
    #: Local time by which it must be done on its due day.
    due_by: dt.time
    days: DayRule = DayRule.SCHOOL
    #: The role whose duty it is (shown on that role's page first); None: anyone's.
    role: Role | None = None
    place: str = Field(default="", max_length=60)
    items: list[ItemConfig] = Field(min_length=1, max_length=200)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[ItemConfig]) -> list[ItemConfig]:
        keys = [item.key for item in items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"item keys repeat: {sorted({k for k in keys if keys.count(k) > 1})}")
        return items

    def version(self) -> str:
        """A short hash of the template: a record names the version it was filled with."""
        text = json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def item(self, key: str) -> ItemConfig | None:
        return next((item for item in self.items if item.key == key), None)


def _yes(key: str, text: str, section: str, **extra: object) -> ItemConfig:
    return ItemConfig.model_validate({"key": key, "text": text, "section": section, **extra})


def _canteen_daily() -> TemplateConfig:
    return TemplateConfig(name="每日食品安全检查记录", cadence=Cadence.DAILY, due_by=dt.time(14, 0),
                          days=DayRule.CANTEEN, role=Role.CANTEEN_MANAGER, place="食堂", items=[
        _yes("morning_health", "从业人员晨检合格，无发热、腹泻、手部伤口", "晨检", key_item=True),
        _yes("health_certs", "从业人员健康证在有效期内", "晨检"),
        _yes("clean_floor", "操作间地面、台面清洁，无积水", "环境"),
        _yes("pest_control", "防蝇、防鼠设施完好", "环境"),
        _yes("receiving", "原料进货查验、索证索票齐全，无过期变质原料", "原料", key_item=True),
        _yes("raw_cooked_apart", "生熟分开，容器标识清楚", "加工"),
        _yes("core_temp", "熟食中心温度", "加工", kind="number", low=70, unit="°C", key_item=True),
        _yes("samples_kept", "留样齐全（每餐每样≥125 g，冷藏≥48 h）", "留样", auto="samples", key_item=True),
        _yes("fridges", "冷藏设备温度 0–8 °C", "冷藏冷冻", auto="fridges", key_item=True),
        _yes("freezers", "冷冻设备温度 ≤ -12 °C", "冷藏冷冻", auto="freezers"),
        _yes("bright_kitchen", "明厨亮灶摄像设备运行正常", "设备"),
        _yes("tableware", "餐用具清洗消毒并保洁存放", "消毒", key_item=True),
    ])


def _canteen_weekly() -> TemplateConfig:
    return TemplateConfig(name="每周食品安全排查治理报告", cadence=Cadence.WEEKLY, due_by=dt.time(17, 0),
                          days=DayRule.CANTEEN, role=Role.SAFETY_OFFICER, place="食堂", items=[
        _yes("daily_records", "本周每日检查记录完整", "记录"),
        _yes("hazards_closed", "上周发现的隐患已整改", "整改"),
        _yes("suppliers", "供货商资质在有效期内", "原料"),
        _yes("additives", "食品添加剂专人专柜、记录完整", "原料"),
        _yes("equipment", "冷藏冷冻、消毒、排烟设备运行正常", "设备"),
        _yes("fire_kitchen", "厨房燃气、消防器材完好", "消防", key_item=True),
        _yes("summary", "本周排查发现的问题与措施", "小结", kind="text"),
    ])


def _school_monthly() -> TemplateConfig:
    return TemplateConfig(name="月度安全总查（食品安全调度）", cadence=Cadence.MONTHLY, due_by=dt.time(17, 0),
                          role=Role.SAFETY_OFFICER, place="全校", items=[
        _yes("weekly_reports", "本月每周排查报告齐全", "记录"),
        _yes("open_orders", "逾期未整改工单已督办", "整改"),
        _yes("fire_equipment", "消防器材、疏散通道、应急照明完好", "消防", key_item=True),
        _yes("electrical", "配电箱、线路无老化裸露", "用电"),
        _yes("buildings", "校舍、围墙、护栏无安全隐患", "校舍"),
        _yes("meeting", "食品安全调度会议已召开，纪要存档", "调度"),
        _yes("minutes", "本月主要问题与下月措施", "小结", kind="text"),
    ])


def _daily_patrol() -> TemplateConfig:
    return TemplateConfig(name="安全工作组日巡视", cadence=Cadence.DAILY, due_by=dt.time(17, 30),
                          role=Role.SAFETY_OFFICER, place="校园", items=[
        _yes("gate_staffed", "门卫室有人值守，来访登记完整", "门岗", key_item=True),
        _yes("corridors", "楼道、楼梯畅通，无拥挤踩踏隐患", "教学楼"),
        _yes("exits", "安全出口、疏散通道畅通", "消防", key_item=True),
        _yes("extinguishers", "灭火器在位、压力正常", "消防"),
        _yes("playground", "操场、体育器材无损坏", "室外"),
    ])


def _night_round() -> TemplateConfig:
    return TemplateConfig(name="门卫夜间巡查", cadence=Cadence.DAILY, due_by=dt.time(22, 30), days=DayRule.EVERY,
                          role=Role.GATEKEEPER, place="校园", items=[
        _yes("rooms_locked", "各功能室、办公室门已上锁", "巡查"),
        _yes("power_off", "灯光、电源已关闭", "巡查"),
        _yes("windows_shut", "门窗已关好", "巡查"),
        _yes("gate_locked", "校门已关闭上锁", "门岗", auto="gates", key_item=True),
    ])


def _default_templates() -> dict[str, TemplateConfig]:
    return {"canteen_daily": _canteen_daily(), "canteen_weekly": _canteen_weekly(),
            "school_monthly": _school_monthly(), "daily_patrol": _daily_patrol(), "night_round": _night_round()}


def _default_due_h() -> dict[Urgency, float]:
    return {Urgency.HIGH: 24.0, Urgency.NORMAL: 72.0, Urgency.LOW: 168.0}


def _default_places() -> list[str]:
    return ["食堂后厨", "食品库房", "留样间", "校门", "教学楼", "实验楼", "宿舍楼", "操场"]


class ScanReportsConfig(_Strict):
    """Reports from a place's QR code by someone not signed in (a pupil, a parent, a contractor).

    Off unless the school turns it on. Such a report opens no work order by itself: it
    waits, as plain text, until a staff member files it as one or dismisses it.
    """

    enabled: bool = False
    #: Reports taken from one network address per hour (counted on the record, so a restart does not reset it).
    per_address_per_hour: int = Field(default=3, ge=1, le=100)
    #: Reports taken for one place per hour.
    per_place_per_hour: int = Field(default=10, ge=1, le=1000)
    #: Reports waiting to be triaged at most; beyond it the form says to tell a teacher.
    pending_max: int = Field(default=50, ge=1, le=1000)


class ChecksConfig(_Strict):
    """Keys under ``checks:`` in the hub's YAML config (docs/checks.md)."""

    templates: dict[str, TemplateConfig] = Field(default_factory=_default_templates)
    #: A checklist ticked faster than this (seconds from opening to submitting) is flagged on the record.
    min_duration_s: float = Field(default=120.0, ge=0)
    #: Hours a work order has from its report to its fix, by urgency.
    order_due_h: dict[Urgency, float] = Field(default_factory=_default_due_h)
    #: A check still undone this long after its deadline is overdue (an alarm); 0: at the deadline.
    grace_min: float = Field(default=0.0, ge=0, le=24 * 60)
    #: The places given a QR code when the checks record is first opened (more are added on the page).
    places: list[str] = Field(default_factory=_default_places, max_length=500)
    scan_reports: ScanReportsConfig = Field(default_factory=ScanReportsConfig)
    #: Minutes a scan of a place's code lets its lines be answered (a page left open later is no proof).
    scan_valid_min: float = Field(default=30.0, ge=1, le=240)
    #: The templates printed as 《每日食品安全检查记录》, in 《每周食品安全排查治理报告》 and in
    #: 《每月食品安全调度会议纪要》.
    daily_record: str = Field(default="canteen_daily", pattern=KEY_PATTERN)
    weekly_report: str = Field(default="canteen_weekly", pattern=KEY_PATTERN)
    monthly_minutes: str = Field(default="school_monthly", pattern=KEY_PATTERN)

    @field_validator("templates")
    @classmethod
    def _keys(cls, templates: dict[str, TemplateConfig]) -> dict[str, TemplateConfig]:
        for key in templates:
            if not re.match(KEY_PATTERN, key):
                raise ValueError(f"template key {key!r} must be lower-case letters, digits and _")
        return templates

    @field_validator("order_due_h")
    @classmethod
    def _every_urgency(cls, hours: dict[Urgency, float]) -> dict[Urgency, float]:
        missing = [u.value for u in Urgency if u not in hours]
        if missing or any(h <= 0 for h in hours.values()):
            raise ValueError(f"order_due_h needs a positive number of hours for each of {[u.value for u in Urgency]}")
        return hours
