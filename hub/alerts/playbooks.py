"""What to do now: a short list of corrective steps per kind of alarm, configured per school.

A fridge alarm that says only what is wrong leaves a cook at 13:00 guessing; the
playbook says what to do — move the food, check the door seal, call the manager,
and throw away what was held warm for too long. Each school sets its own steps in
the hub config (``alerts.playbooks``); the defaults below follow common Chinese
canteen practice. Staff tick the steps off as interim actions (``alert_actions``),
so the record shows which step was done, when and by whom.

The time-above-limit rule is one step with two placeholders: ``{limit}`` (the
limit the alarm is beyond, e.g. 8 °C) and ``{hours}`` (``food_hold_hours``, the
school's own figure). Placeholders are filled by plain replacement, never by
``str.format``: a step is configuration text, shown as data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from hub.alerts.kinds import RuleKind
from hub.store.state import Alert


class Playbook(StrEnum):
    """The kinds of alarm that have steps."""

    FRIDGE_WARM = "fridge_warm"
    FREEZER_WARM = "freezer_warm"
    SAMPLE_FRIDGE_WARM = "sample_fridge_warm"
    DOOR_OPEN = "door_open"
    GATE_AFTER_HOURS = "gate_after_hours"
    DEVICE_OFFLINE = "device_offline"
    SAMPLES_MISSING = "samples_missing"


class StepConfig(BaseModel):
    """One step: a short key (what an interim action ticks) and its text in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    zh: str = Field(min_length=1, max_length=200)
    en: str = Field(default="", max_length=200)


def _s(key: str, zh: str, en: str) -> StepConfig:
    return StepConfig(key=key, zh=zh, en=en)


_DISCARD = _s("discard_warm_food", "丢弃在 {limit} °C 以上存放超过 {hours} 小时的食品，并登记品名和数量",
              "Discard food held above {limit} °C for more than {hours} h; note what and how much")

DEFAULT_STEPS: dict[Playbook, tuple[StepConfig, ...]] = {
    Playbook.FRIDGE_WARM: (
        _s("check_door", "检查冰箱门是否关严、门封条是否完好", "Check the door is shut and the seal is intact"),
        _s("move_food", "把食品转移到其他正常的冰箱", "Move the food to another working fridge"),
        _DISCARD,
        _s("call_manager", "通知食堂负责人；需要时报修", "Tell the canteen manager; call for repair if needed"),
    ),
    Playbook.FREEZER_WARM: (
        _s("check_door", "检查冷冻柜门是否关严、是否在除霜", "Check the door is shut and whether it is defrosting"),
        _s("move_food", "把冻品转移到其他正常的冷冻柜", "Move the frozen food to another working freezer"),
        _s("check_thawed", "检查是否有解冻的食品；已解冻的不得再冷冻，当天用完或丢弃",
           "Check for thawed food: never refreeze it; use it today or discard it"),
        _s("call_manager", "通知食堂负责人；需要时报修", "Tell the canteen manager; call for repair if needed"),
    ),
    Playbook.SAMPLE_FRIDGE_WARM: (
        _s("check_door", "检查留样冰箱门是否关严", "Check the sample fridge door is shut"),
        _s("move_samples", "把留样转移到其他正常冰箱，并在留样记录上注明", "Move the samples to a working fridge and "
           "note it on the sample record"),
        _s("call_manager", "通知食堂负责人和安全员", "Tell the canteen manager and the safety officer"),
    ),
    Playbook.DOOR_OPEN: (
        _s("close_door", "关好门，确认门封完好", "Close the door and check the seal"),
        _s("check_temperature", "查看冰箱温度是否回落", "Watch the fridge temperature come back down"),
    ),
    Playbook.GATE_AFTER_HOURS: (
        _s("go_see", "到门口查看：是谁、为什么开门", "Go to the gate: who opened it, and why"),
        _s("close_gate", "无正当理由的，关门并上锁", "Without a good reason, close and lock the gate"),
        _s("tell_officer", "可疑情况立即报告安全员；紧急情况拨打 110", "Report anything suspicious to the safety "
           "officer at once; in an emergency call 110"),
    ),
    Playbook.DEVICE_OFFLINE: (
        _s("check_power", "检查设备电源和网线／Wi-Fi", "Check the device's power and network"),
        _s("read_manually", "设备恢复前，每小时人工查看并记录冰箱温度", "Until it is back, read and note the fridge "
           "temperatures by hand every hour"),
        _s("tell_admin", "通知管理员", "Tell the administrator"),
    ),
    Playbook.SAMPLES_MISSING: (
        _s("take_samples", "立即补留样：每个菜品不少于规定克数，密封后放入留样冰箱", "Take the missing samples now: "
           "at least the required weight per dish, sealed, into the sample fridge"),
        _s("log_samples", "在系统中登记留样（菜名、重量、留样人）", "Log the samples (dish, weight, who)"),
        _s("tell_manager", "无法补留的，写明原因并报告食堂负责人", "If they cannot be taken, note why and tell the "
           "canteen manager"),
    ),
}


class PlaybooksConfig(BaseModel):
    """``alerts.playbooks`` in the hub config: the steps per kind of alarm, and the food hold time."""

    model_config = ConfigDict(extra="forbid")

    #: Food held above the limit for longer than this is discarded (the ``{hours}`` of a step).
    food_hold_hours: float = Field(default=2.0, gt=0, le=72)
    #: Steps per kind, replacing that kind's defaults (an empty list: no steps for that kind).
    steps: dict[Playbook, list[StepConfig]] = Field(default_factory=dict)

    def steps_of(self, playbook: Playbook) -> tuple[StepConfig, ...]:
        configured = self.steps.get(playbook)
        return tuple(configured) if configured is not None else DEFAULT_STEPS[playbook]


@dataclass(frozen=True)
class Step:
    """A step as a page or a message shows it: its key and its text, placeholders filled."""

    key: str
    zh: str
    en: str

    def text(self, locale: str) -> str:
        """The text in ``locale`` ("en", "en-US": English where the school gave it; else Chinese)."""
        return self.en if locale.startswith("en") and self.en else self.zh


#: Cold-unit profiles whose warm alarm has a playbook of its own.
_WARM: dict[str, Playbook] = {"fridge": Playbook.FRIDGE_WARM, "freezer": Playbook.FREEZER_WARM,
                              "sample_fridge": Playbook.SAMPLE_FRIDGE_WARM}
_BY_RULE: dict[RuleKind, Playbook] = {
    RuleKind.DOOR_OPEN_TOO_LONG: Playbook.DOOR_OPEN,
    RuleKind.GATE_AFTER_HOURS: Playbook.GATE_AFTER_HOURS,
    RuleKind.GATE_NOT_CLOSED: Playbook.GATE_AFTER_HOURS,
    RuleKind.DEVICE_OFFLINE: Playbook.DEVICE_OFFLINE,
    RuleKind.GATE_SENSOR_OFFLINE: Playbook.DEVICE_OFFLINE,
    RuleKind.SENSOR_STALE: Playbook.DEVICE_OFFLINE,
    RuleKind.SAMPLE_MISSING: Playbook.SAMPLES_MISSING,
    RuleKind.SAMPLE_UNDERWEIGHT: Playbook.SAMPLES_MISSING,
}
#: The limit of a warm alarm when the alarm does not carry one (the fridge rule's 8 °C).
DEFAULT_WARM_LIMIT = 8.0


def worst_value(alert: Alert) -> float | None:
    """The value that tells which side an excursion was on: its peak (the last value may be back in range)."""
    return alert.peak if alert.peak is not None else alert.value


def playbook_for(rule: RuleKind, profile: str, value: float | None, threshold: float | None) -> Playbook | None:
    """The playbook of an alarm: a temperature alarm's by its unit's profile when too warm; others by rule."""
    if rule == RuleKind.TEMPERATURE_LIMITS:
        too_cold = value is not None and threshold is not None and value < threshold
        return None if too_cold else _WARM.get(profile)
    return _BY_RULE.get(rule)


def _limit_text(threshold: float | None) -> str:
    limit = DEFAULT_WARM_LIMIT if threshold is None else threshold
    return f"{limit:g}"


def steps(config: PlaybooksConfig, playbook: Playbook | None, threshold: float | None = None) -> list[Step]:
    """The steps of ``playbook`` with ``{hours}`` and ``{limit}`` filled in (none without a playbook)."""
    if playbook is None:
        return []
    hours = f"{config.food_hold_hours:g}"
    limit = _limit_text(threshold if playbook in _WARM.values() else None)

    def fill(text: str) -> str:
        return text.replace("{hours}", hours).replace("{limit}", limit)

    return [Step(step.key, fill(step.zh), fill(step.en)) for step in config.steps_of(playbook)]
