"""Timers, discards, missing meals, under-weight dishes and the cabinet watch, on an injected clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError, load_model
from hub.runtime import Hub
from hub.samples.monitor import (
    EARLY_DISCARD_RULE,
    MISSING_RULE,
    UNDERWEIGHT_RULE,
    DishInput,
    SampleConflict,
    SampleError,
)
from hub.settings import HubConfig
from hub.store.state import Alert
from tests.clock import Clock, local
from tests.hub.samples.conftest import CABINET, announce_cabinet, feed

H = 3600.0


def alerts(hub: Hub, rule: str) -> list[Alert]:
    return [a for a in hub.state.alerts() if a.rule == rule]


def test_held_until_48h_then_a_notice_and_an_on_time_discard(make_sample_hub: Callable[..., Hub],
                                                            clock: Clock) -> None:
    hub = make_sample_hub()
    placed = clock.set("2026-10-08 11:40")
    result = hub.samples.log_meal("lunch", [DishInput("红烧肉", 150), DishInput("清炒时蔬", 130)], placed_by="王师傅",
                                  reviewer="李主任")
    record = result.record
    assert result.created and not result.underweight
    assert record.held_until == placed + 48 * H and record.day == "2026-10-08"
    assert [r.id for r in hub.samples.records("held")] == [record.id]

    clock.now = placed + 48 * H - 60
    hub.samples.tick(clock.now)
    assert hub.samples.records("due") == []

    clock.now = placed + 48 * H
    hub.samples.tick(clock.now)
    (due,) = hub.samples.records("due")
    assert due.notice_at == clock.now
    assert any(e.action == "sample.discardable" for e in hub.state.audit_entries())

    clock.now += 600
    discarded = hub.samples.discard(record.id, "赵阿姨")
    assert discarded.discarded_at == clock.now and discarded.discarded_by == "赵阿姨" and not discarded.early
    assert alerts(hub, EARLY_DISCARD_RULE) == []
    with pytest.raises(SampleConflict):
        hub.samples.discard(record.id, "赵阿姨")


def test_discarding_early_is_a_critical_alarm_until_the_hold_would_have_ended(
        make_sample_hub: Callable[..., Hub], clock: Clock) -> None:
    hub = make_sample_hub()
    placed = clock.set("2026-10-08 17:40")
    record = hub.samples.log_meal("dinner", [DishInput("番茄炒蛋", 140)], placed_by="王师傅").record
    clock.now = placed + 20 * H
    discarded = hub.samples.discard(record.id, "临时工", note="冰箱满了")
    assert discarded.early
    (alarm,) = alerts(hub, EARLY_DISCARD_RULE)
    assert alarm.state == "firing" and alarm.severity == "critical" and "提前弃置" in alarm.message
    assert alarm.data["record"] == record.id

    clock.now = placed + 47 * H
    hub.samples.tick(clock.now)
    assert alerts(hub, EARLY_DISCARD_RULE)[0].state == "firing"
    clock.now = placed + 48 * H
    hub.samples.tick(clock.now)
    assert alerts(hub, EARLY_DISCARD_RULE)[0].state == "resolved"  # now it can be closed with the action taken


def test_discard_input_is_checked(make_sample_hub: Callable[..., Hub], clock: Clock) -> None:
    hub = make_sample_hub()
    clock.set("2026-10-08 11:40")
    record = hub.samples.log_meal("lunch", [DishInput("米饭", 130)], placed_by="王").record
    with pytest.raises(SampleError) as caught:
        hub.samples.discard(record.id, " ")
    assert caught.value.field == "by"
    with pytest.raises(SampleError) as caught:
        hub.samples.discard(record.id, "王", at=clock.now + 3600)
    assert caught.value.field == "at"
    with pytest.raises(SampleError) as caught:
        hub.samples.log_meal("luch", [], placed_by="王")
    assert caught.value.field == "meal"


def test_under_weight_dishes_are_flagged_and_alarmed_until_reweighed(make_sample_hub: Callable[..., Hub],
                                                                    clock: Clock) -> None:
    hub = make_sample_hub()
    clock.set("2026-10-08 11:40")
    result = hub.samples.log_meal("lunch", [DishInput("红烧肉", 98, short_reason="菜已打完"), DishInput("米饭", 125),
                                            DishInput("汤", None)], placed_by="王师傅")
    assert [(d.name, d.weight_g) for d in result.underweight] == [("红烧肉", 98)]
    (alarm,) = alerts(hub, UNDERWEIGHT_RULE)
    assert alarm.state == "firing" and alarm.severity == "warning" and "红烧肉 98 g" in alarm.message

    clock.now += 120  # a second, heavier box of the same dish
    hub.samples.log_meal("lunch", [DishInput("红烧肉", 131)], placed_by="王师傅")
    assert alerts(hub, UNDERWEIGHT_RULE)[0].state == "resolved"


def test_the_minimum_weight_is_configurable(make_sample_hub: Callable[..., Hub], clock: Clock) -> None:
    hub = make_sample_hub(min_weight_g=200)
    clock.set("2026-10-08 11:40")
    with pytest.raises(SampleError, match="150 g is under the minimum of 200 g"):
        hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王")
    result = hub.samples.log_meal("lunch", [DishInput("红烧肉", 150, short_reason="只剩这些")], placed_by="王")
    assert len(result.underweight) == 1


def missing(hub: Hub) -> dict[str, str]:
    return {a.subject: a.state for a in alerts(hub, MISSING_RULE)}


def test_missing_lunch_alarms_on_a_swapped_working_saturday(make_sample_hub: Callable[..., Hub],
                                                           clock: Clock) -> None:
    clock.set("2026-10-10 06:00")  # Saturday, but a working day after National Day (调休)
    hub = make_sample_hub()
    hub.samples.log_meal("breakfast", [DishInput("包子", 130)], placed_by="王", placed_at=local("2026-10-10 07:10"),
                         now=local("2026-10-10 07:10"))
    hub.samples.tick(clock.set("2026-10-10 12:29"))
    assert missing(hub) == {}
    hub.samples.tick(clock.set("2026-10-10 12:31"))
    assert missing(hub) == {"samples:2026-10-10:lunch": "firing"}
    (alarm,) = alerts(hub, MISSING_RULE)
    assert "午餐留样未登记" in alarm.message and "12:30" in alarm.message

    clock.set("2026-10-10 12:45")
    hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王")
    hub.samples.tick(clock.now)
    assert missing(hub) == {"samples:2026-10-10:lunch": "resolved"}


@pytest.mark.parametrize("day", ["2026-10-01", "2026-10-03", "2026-10-11"])
def test_no_missing_alarm_on_holidays_and_weekends(make_sample_hub: Callable[..., Hub], clock: Clock,
                                                   day: str) -> None:
    clock.set(f"{day} 06:00")  # National Day, a Saturday of the Golden Week, an ordinary Sunday
    hub = make_sample_hub()
    for moment in ("08:00", "12:31", "18:31", "23:59"):
        hub.samples.tick(clock.set(f"{day} {moment}"))
    assert missing(hub) == {}


def test_a_holiday_the_canteen_opens_is_checked(make_sample_hub: Callable[..., Hub], clock: Clock) -> None:
    clock.set("2026-10-03 06:00")
    hub = make_sample_hub(canteen_open_days=[dt.date(2026, 10, 3)])
    hub.samples.tick(clock.set("2026-10-03 08:01"))
    assert missing(hub) == {"samples:2026-10-03:breakfast": "firing"}


def test_a_school_day_the_canteen_is_closed_is_not_checked(make_sample_hub: Callable[..., Hub],
                                                          clock: Clock) -> None:
    clock.set("2026-10-12 06:00")
    hub = make_sample_hub(canteen_closed_days=[dt.date(2026, 10, 12)])
    hub.samples.tick(clock.set("2026-10-12 20:00"))
    assert missing(hub) == {}


def test_meals_due_before_the_hub_watched_are_not_missing(make_sample_hub: Callable[..., Hub],
                                                          clock: Clock) -> None:
    clock.set("2026-10-12 15:00")  # installed mid-afternoon: breakfast and lunch were before its time
    hub = make_sample_hub()
    hub.samples.tick(clock.set("2026-10-12 18:31"))
    assert missing(hub) == {"samples:2026-10-12:dinner": "firing"}


def test_an_excursion_marks_exactly_the_samples_held_at_that_time(make_sample_hub: Callable[..., Hub],
                                                                  clock: Clock) -> None:
    hub = make_sample_hub()
    announce_cabinet(hub)
    clock.set("2026-10-12 07:10")
    breakfast = hub.samples.log_meal("breakfast", [DishInput("包子", 130)], placed_by="王").record
    clock.set("2026-10-12 11:40")
    lunch = hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王").record
    clock.set("2026-10-12 12:00")  # breakfast's samples were (wrongly) thrown away before the excursion
    hub.samples.discard(breakfast.id, "王")

    start, end = local("2026-10-12 14:00"), local("2026-10-12 14:30")
    trace = [(start - 600, 4.0), (start, 9.5), (start + 600, 11.2), (start + 1200, 10.0), (end, 6.0),
             (end + 600, 4.5)]
    feed(hub, trace, seq=1)
    clock.set("2026-10-12 17:40")  # dinner goes in after the cabinet recovered
    dinner = hub.samples.log_meal("dinner", [DishInput("番茄炒蛋", 140)], placed_by="王").record
    feed(hub, [(clock.now + 60, 4.2)], seq=2)
    hub.samples.check_cabinets(clock.now)

    by_id = {r.id: r for r in hub.samples.records(day=dt.date(2026, 10, 12))}
    assert [by_id[i].compromised for i in (breakfast.id, lunch.id, dinner.id)] == [False, True, False]
    (link,) = by_id[lunch.id].excursions
    assert (link.cabinet, link.start, link.end, link.low, link.high) == (CABINET, start, end, 9.5, 11.2)
    (alarm,) = [a for a in hub.state.alerts() if a.rule == "temperature_limits"]
    assert link.alert_ids == [alarm.id]  # the cabinet's own alarm is linked to the samples it touched

    (excursion,) = hub.samples.trace(lunch.id)
    values = [r["value"] for r in excursion["readings"]]
    assert values == [4.0, 9.5, 11.2, 10.0, 6.0, 4.5]
    assert any(e.action == "sample.compromised" for e in hub.state.audit_entries())

    hub.samples.check_cabinets(clock.now + 60)  # checking again links nothing new
    assert len(hub.samples.store.record(lunch.id).excursions) == 1  # type: ignore[union-attr]


def test_an_excursion_still_going_marks_samples_and_extends(make_sample_hub: Callable[..., Hub],
                                                             clock: Clock) -> None:
    hub = make_sample_hub()
    clock.set("2026-10-12 11:40")
    lunch = hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王").record
    start = local("2026-10-12 13:00")
    feed(hub, [(start, 8.6)], seq=1)
    hub.samples.check_cabinets(local("2026-10-12 13:01"))
    (link,) = hub.samples.store.record(lunch.id).excursions  # type: ignore[union-attr]
    assert link.end is None
    feed(hub, [(start + 300, 9.1), (start + 900, 5.0)], seq=2)
    hub.samples.check_cabinets(local("2026-10-12 13:20"))
    (link,) = hub.samples.store.record(lunch.id).excursions  # type: ignore[union-attr]
    assert (link.end, link.high) == (start + 900, 9.1)


def test_bad_samples_config_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("alarm_delay_s: 60\nsamples:\n  min_weight_g: -5\n  meals:\n    lunch: {serve_at: '25:00'}\n"
                    "  cabinet: fridge\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_model(HubConfig, path)
    text = str(caught.value)
    assert f"{path}:3: samples.min_weight_g" in text
    assert f"{path}:5: samples.meals.lunch.serve_at" in text
    assert f"{path}:6: samples.cabinet" in text


def test_samples_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text("samples:\n  min_weight_g: 100\n  retention_h: 72\n  cabinet: kitchen/sample-fridge\n"
                    "  meals:\n    lunch: {serve_at: '11:45', log_within_min: 45}\n"
                    "  canteen_open_days: [2026-10-03]\n", encoding="utf-8")
    config = load_model(HubConfig, path).samples
    assert config.retention_s == 72 * H and config.log_within_s("lunch") == 45 * 60
    assert list(config.meals) == ["lunch"] and config.canteen_open_days == [dt.date(2026, 10, 3)]


def test_the_stations_samples_light_follows_the_holds(make_sample_hub: Callable[..., Hub], clock: Clock) -> None:
    hub = make_sample_hub()
    sent: list[tuple[str, str | None]] = []
    hub.samples.send_command = lambda device, command: sent.append((device, command.state))
    placed = clock.set("2026-10-08 11:40")
    record = hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王师傅",
                                  station="station-1").record
    hub.samples.update_indicators(clock.now)
    hub.samples.update_indicators(clock.now + 60)  # unchanged: nothing sent again
    assert sent == [("station-1", "on")]
    hub.samples.update_indicators(placed + 48 * H)
    assert sent[-1] == ("station-1", "blink")  # may be discarded now
    clock.now = placed + 48 * H + 60
    hub.samples.discard(record.id, "赵阿姨")
    hub.samples.update_indicators(clock.now)
    assert sent[-1] == ("station-1", "off")
    assert len(sent) == 3


def test_a_light_that_could_not_be_switched_is_tried_again(make_sample_hub: Callable[..., Hub],
                                                           clock: Clock) -> None:
    hub = make_sample_hub()
    attempts: list[str | None] = []

    def offline(_device: str, command: object) -> None:
        attempts.append(getattr(command, "state", None))
        raise ConnectionError("no broker")

    hub.samples.send_command = offline
    clock.set("2026-10-08 11:40")
    hub.samples.log_meal("lunch", [DishInput("红烧肉", 150)], placed_by="王师傅", station="station-1")
    hub.samples.update_indicators(clock.now)
    hub.samples.update_indicators(clock.now + 10)
    assert attempts == ["on", "on"]
