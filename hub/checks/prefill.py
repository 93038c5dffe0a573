"""Answers the hub's own data gives: the fridges' day from the series, the meals' samples from their register.

Pure functions of what was read: the service reads the stores and passes the facts in.
An automatic answer says what it saw (the evidence) so the person confirms it rather
than invents it; ``None`` as the answer means the data cannot say (no readings yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from hub.checks.kinds import Answer, AutoSource
from hub.gate.store import Sweep
from hub.samples import rules as sample_rules
from hub.samples.config import SamplesConfig
from hub.samples.store import SampleRecord

#: The sensor profile each cold-chain source reads.
PROFILES: dict[AutoSource, str] = {AutoSource.FRIDGES: "fridge", AutoSource.FREEZERS: "freezer"}


class Span(StrEnum):
    """The period an automatic answer speaks of, as its evidence names it."""

    DAY = "今日"
    WEEK = "本周"


@dataclass(frozen=True)
class Prefill:
    answer: Answer | None
    #: What the hub saw, in words (shown beside the item, kept on the record).
    evidence: str
    #: Where the evidence is on the hub's pages.
    link: str


@dataclass(frozen=True)
class SensorDay:
    """One cold-chain sensor's readings so far in the period."""

    name: str
    low: float | None
    high: float | None
    readings: Sequence[tuple[float, float | None]]


def _num(value: float) -> str:
    return f"{value:.1f}"


def cold_chain(sensors: Sequence[SensorDay], unit: str = "°C", span: Span = Span.DAY) -> Prefill:
    """Every sensor within its band: OK; any excursion: FAIL; a sensor without readings: unknown.

    ``span`` names the period in the evidence: a day's checklist, or the week's report.
    """
    if not sensors:
        return Prefill(None, "没有此类传感器 · no such sensors", "/canteen")
    parts: list[str] = []
    answer: Answer | None = Answer.OK
    for sensor in sensors:
        values = [v for _, v in sensor.readings if v is not None]
        if not values:
            parts.append(f"{sensor.name}：{span}无读数")
            answer = None if answer is not Answer.FAIL else answer
            continue
        low = sensor.low if sensor.low is not None else float("-inf")
        high = sensor.high if sensor.high is not None else float("inf")
        spells = sample_rules.excursions(sensor.readings, low, high)
        text = f"{sensor.name}：{_num(min(values))}–{_num(max(values))} {unit}"
        if spells:
            text += f"，超限 {len(spells)} 次"
            answer = Answer.FAIL
        else:
            text += "，未超限"
        parts.append(text)
    return Prefill(answer, "；".join(parts), "/canteen")


def sensors_of(source: AutoSource, sensors: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The registered sensors a cold-chain source reads (by profile)."""
    profile = PROFILES[source]
    return [s for s in sensors if s.get("profile") == profile and s.get("kind") == "temperature"]


def samples(records: Sequence[SampleRecord], config: SamplesConfig, open_today: bool, day: dt.date, now: float,
            tz: ZoneInfo) -> Prefill:
    """Every meal due so far today has its samples, each dish at the minimum weight."""
    link = f"/samples/daily?date={day.isoformat()}"
    if not open_today:
        return Prefill(Answer.NA, "食堂今日不开餐 · canteen closed today", link)
    by_meal = {r.meal: r for r in records if not r.occasion}
    parts: list[str] = []
    answer: Answer | None = None
    for meal, meal_config in config.meals.items():
        if not meal_config.check_missing:
            continue
        due = sample_rules.meal_deadline(day, meal_config.serve_at, config.log_within_s(meal), tz)
        if due > now:
            continue
        name = config.meal_name(meal)
        record = by_meal.get(meal)
        if record is None or not record.dishes:
            parts.append(f"{name}：未留样")
            answer = Answer.FAIL
            continue
        short = [d.name for d in record.dishes if d.weight_g is None
                 or sample_rules.underweight(d.weight_g, config.min_weight_g)]
        if short:
            parts.append(f"{name}：{len(record.dishes)} 样，{len(short)} 样不足 {config.min_weight_g:g} g 或未称重")
            answer = Answer.FAIL
        else:
            parts.append(f"{name}：{len(record.dishes)} 样，均≥{config.min_weight_g:g} g")
            answer = answer or Answer.OK
    if not parts:
        return Prefill(None, "今日尚无到期餐次 · no meal due yet", link)
    return Prefill(answer, "；".join(parts), link)


def gates(sweeps: Sequence[Sweep], tz: ZoneInfo, span: Span = Span.DAY) -> Prefill:
    """Every closing sweep so far in the period found its gates closed (the gate duty's record).

    Over a week each sweep left open is named with its date.
    """
    if not sweeps:
        return Prefill(None, f"{span}尚无关门检查 · no closing sweep yet", "/gate")
    open_after = [s for s in sweeps if s.not_closed]
    if not open_after:
        return Prefill(Answer.OK, f"{span} {len(sweeps)} 次关门检查，均已关闭", "/gate")
    parts = []
    at_format = "%H:%M" if span is Span.DAY else "%m-%d %H:%M"
    for sweep in sorted(open_after, key=lambda s: s.closing_at):
        at = dt.datetime.fromtimestamp(sweep.closing_at, tz).strftime(at_format)
        names = "、".join(str(v.get("name") or k) for k, v in sweep.states.items()
                         if str(v.get("state", "")).lower() not in ("closed", "close"))
        parts.append(f"{at} 关门检查（{sweep.group}）未关：{names or sweep.not_closed}")
    return Prefill(Answer.FAIL, "；".join(parts), "/gate")
