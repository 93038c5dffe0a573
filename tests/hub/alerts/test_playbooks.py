"""What to do now: the playbook of each kind of alarm, with the school's own food hold time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.alerts.kinds import RuleKind
from hub.alerts.playbooks import DEFAULT_STEPS, Playbook, PlaybooksConfig, playbook_for, steps
from hub.settings import HubConfig


@pytest.mark.parametrize(("rule", "profile", "value", "threshold", "expected"), [
    (RuleKind.TEMPERATURE_LIMITS, "fridge", 9.5, 8.0, Playbook.FRIDGE_WARM),
    (RuleKind.TEMPERATURE_LIMITS, "freezer", -9.0, -12.0, Playbook.FREEZER_WARM),
    (RuleKind.TEMPERATURE_LIMITS, "sample_fridge", 9.0, 8.0, Playbook.SAMPLE_FRIDGE_WARM),
    (RuleKind.TEMPERATURE_LIMITS, "fridge", -1.0, 0.0, None),  # too cold is not a warm fridge
    (RuleKind.TEMPERATURE_LIMITS, "", 30.0, 25.0, None),  # a unit of no known profile
    (RuleKind.DOOR_OPEN_TOO_LONG, "", None, None, Playbook.DOOR_OPEN),
    (RuleKind.GATE_AFTER_HOURS, "", None, None, Playbook.GATE_AFTER_HOURS),
    (RuleKind.DEVICE_OFFLINE, "", None, None, Playbook.DEVICE_OFFLINE),
    (RuleKind.SAMPLE_MISSING, "", None, None, Playbook.SAMPLES_MISSING),
    (RuleKind.SAMPLE_UNDERWEIGHT, "", None, None, Playbook.SAMPLES_MISSING),
    (RuleKind.CHANNEL_FAILING, "", None, None, None),
])
def test_each_kind_of_alarm_has_its_playbook(rule: RuleKind, profile: str, value: float | None,
                                             threshold: float | None, expected: Playbook | None) -> None:
    assert playbook_for(rule, profile, value, threshold) == expected


def test_every_default_step_is_in_both_languages_with_distinct_keys() -> None:
    for playbook in Playbook:
        found = DEFAULT_STEPS[playbook]
        assert found and len({s.key for s in found}) == len(found), playbook
        assert all(s.zh and s.en for s in found), playbook


def test_the_food_hold_time_is_the_schools() -> None:
    config = HubConfig.model_validate({"alerts": {"playbooks": {"food_hold_hours": 4}}}).alerts.playbooks
    (discard,) = [s for s in steps(config, Playbook.FRIDGE_WARM, threshold=8.0) if s.key == "discard_warm_food"]
    assert discard.zh == "丢弃在 8 °C 以上存放超过 4 小时的食品，并登记品名和数量"
    assert discard.text("en").startswith("Discard food held above 8 °C for more than 4 h")
    default = steps(PlaybooksConfig(), Playbook.FRIDGE_WARM, threshold=5.0)
    assert default[2].zh.startswith("丢弃在 5 °C 以上存放超过 2 小时")


def test_a_school_replaces_a_kinds_steps_and_placeholders_are_only_replaced() -> None:
    config = PlaybooksConfig.model_validate({"food_hold_hours": 1.5, "steps": {"door_open": [
        {"key": "shut", "zh": "关门 {hours} {0.__class__} {limit}"}]}})
    (step,) = steps(config, Playbook.DOOR_OPEN)
    assert (step.key, step.zh) == ("shut", "关门 1.5 {0.__class__} 8")
    assert step.text("en") == step.zh  # no English given: the Chinese
    assert steps(config, Playbook.GATE_AFTER_HOURS) == steps(PlaybooksConfig(), Playbook.GATE_AFTER_HOURS)
    with pytest.raises(ValidationError):
        PlaybooksConfig.model_validate({"steps": {"fridge_cold": []}})
    with pytest.raises(ValidationError):
        PlaybooksConfig.model_validate({"food_hold_hours": 0})
