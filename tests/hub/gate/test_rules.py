"""Gate duty's pure rules on the school calendar: windows, holidays, swapped days, rounds, suggestions."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from hub.calendar import CalendarConfig, SchoolCalendar
from hub.gate import rules
from hub.gate.config import GateConfig
from hub.gate.overrides import OverrideSpec, merge
from tests.hub.gate.conftest import CALENDAR, GATE, local

CAL = SchoolCalendar(CalendarConfig.model_validate(CALENDAR))
CONFIG = GateConfig.model_validate(GATE)


@pytest.mark.parametrize(("group", "when", "after_hours"), [
    # a door opened one minute before and one minute after a window (Tuesday 17 Nov 2026, a school day)
    ("main", "2026-11-17 06:29", True),
    ("main", "2026-11-17 06:30", False),
    ("main", "2026-11-17 07:59", False),
    ("main", "2026-11-17 08:00", True),
    ("main", "2026-11-17 18:29", False),
    ("main", "2026-11-17 18:31", True),
    ("main", "2026-11-17 23:00", True),
    # the dorm door's window crosses midnight: 21:30 to 06:30 the next morning
    ("dorm", "2026-11-17 21:29", True),
    ("dorm", "2026-11-17 23:00", False),
    ("dorm", "2026-11-18 00:30", False),
    ("dorm", "2026-11-18 06:29", False),
    ("dorm", "2026-11-18 06:31", True),
    # National Day (Thursday 1 Oct 2026): a holiday, the main gate stays shut; the dorm keeps its other_day window
    ("main", "2026-10-01 07:00", True),
    ("dorm", "2026-10-01 23:00", False),
    # Saturday 10 Oct 2026 is a swapped working day (调休): a school day with the usual windows
    ("main", "2026-10-10 07:00", False),
    ("main", "2026-10-10 09:00", True),
    # an ordinary Saturday
    ("main", "2026-11-21 07:00", True),
])
def test_after_hours(group: str, when: str, after_hours: bool) -> None:
    assert rules.after_hours(CAL, group, local(when)) is after_hours


@pytest.mark.parametrize(("day", "day_type", "name"), [
    ("2026-10-01", "holiday", "National Day"),
    ("2026-10-10", "school_day", "National Day"),  # the working Saturday that pays for the holiday
    ("2026-10-11", "weekend", None),
    ("2026-11-17", "school_day", None),
])
def test_day_types_of_the_current_year(day: str, day_type: str, name: str | None) -> None:
    date = dt.date.fromisoformat(day)
    assert CAL.day_type(date) == day_type
    assert CAL.day_name(date) == name


@pytest.mark.parametrize(("when", "severity"), [
    ("2026-11-17 23:00", "critical"), ("2026-11-18 05:59", "critical"), ("2026-11-18 06:00", "warning"),
    ("2026-11-17 12:00", "warning"), ("2026-11-17 22:00", "critical")])
def test_night_is_more_severe(when: str, severity: str) -> None:
    assert rules.severity(CONFIG, CAL, local(when)) == severity


def test_closings_cross_midnight_and_next_opening() -> None:
    closings = CAL.closings_between("dorm", local("2026-11-17 12:00"), local("2026-11-18 12:00"))
    assert [c.strftime("%m-%d %H:%M") for c in closings] == ["11-18 06:30"]
    upcoming = rules.next_opening(CAL, "main", local("2026-11-20 19:00"))  # Friday evening → Monday
    assert upcoming is not None and upcoming.start.strftime("%a %H:%M") == "Mon 06:30"


def test_round_windows_and_the_midnight_round() -> None:
    route = CONFIG.routes["campus"]
    ending = rules.rounds_ending("campus", route, CAL, local("2026-11-17 22:00"), local("2026-11-18 02:00"))
    assert [(w.opening.start.strftime("%d %H:%M"), w.opening.end.strftime("%d %H:%M"), w.night) for w in ending] == [
        ("17 21:00", "17 23:00", True), ("17 23:30", "18 01:30", True)]
    assert len(rules.round_windows("campus", route, CAL, dt.date(2026, 11, 17))) == 5  # GB/T 29315: ≥ 5 a day


@pytest.mark.parametrize(("visits", "missing"), [
    ([("07:10", "gatehouse"), ("07:20", "playground"), ("07:30", "canteen")], []),
    ([("07:10", "gatehouse"), ("07:20", "playground"), ("09:00", "canteen")], ["canteen"]),  # too late
    ([("06:59", "gatehouse"), ("07:20", "playground"), ("07:30", "canteen")], ["gatehouse"]),  # too early
    ([("07:10", None), ("07:20", "playground")], ["gatehouse", "canteen"]),  # an unknown tag counts for nothing
])
def test_missing_checkpoints(visits: list[tuple[str, str | None]], missing: list[str]) -> None:
    route = CONFIG.routes["campus"]
    (window, *_) = rules.round_windows("campus", route, CAL, dt.date(2026, 11, 17))
    pairs = [(local(f"2026-11-17 {t}"), c) for t, c in visits]
    assert rules.missing_checkpoints(route, window.opening, pairs) == missing


@pytest.mark.parametrize(("tag", "sensor", "checkpoint"), [
    ("04a1b2c3d4", "gate-1/tag-reader", "gatehouse"),
    ("", "gate-1/checkpoint-playground", "playground"),
    ("FFFF", "gate-1/tag-reader", None),
])
def test_resolve_checkpoint(tag: str, sensor: str, checkpoint: str | None) -> None:
    assert rules.resolve_checkpoint(CONFIG, tag, sensor) == checkpoint


@pytest.mark.parametrize(("states", "alarmed"), [
    ({"a": "closed", "b": "open", "c": None}, ["b"]),
    ({"a": "closed"}, []),
])
def test_gates_not_closed(states: dict[str, str | None], alarmed: list[str]) -> None:
    assert rules.gates_not_closed(states) == alarmed


def _acked(times: list[str], reason: str = "delivery", subject: str = "gate-1/side-gate") -> list[rules.AckedOpening]:
    return [rules.AckedOpening(i + 1, subject, "main", reason, local(t)) for i, t in enumerate(times)]


NOW = local("2026-11-21 12:00")


@pytest.mark.parametrize(("openings", "expected"), [
    # the milk delivery, three mornings within two weeks around 05:45
    (_acked(["2026-11-16 05:40", "2026-11-17 05:45", "2026-11-18 05:52"]), [("05:25", "06:10", "school_day")]),
    (_acked(["2026-11-16 05:40", "2026-11-17 05:45"]), []),  # twice is not yet a pattern
    (_acked(["2026-11-16 05:40", "2026-11-16 05:45", "2026-11-16 05:50"]), []),  # one busy morning
    (_acked(["2026-11-01 05:40", "2026-11-17 05:45", "2026-11-18 05:50"]), []),  # older than two weeks
    (_acked(["2026-11-16 05:40", "2026-11-17 09:45", "2026-11-18 05:50"]), []),  # not the same time
    (_acked(["2026-11-16 05:40"]) + _acked(["2026-11-17 05:45", "2026-11-18 05:50"], reason="event"), []),
    # around midnight, on a weekend and school days alike
    (_acked(["2026-11-14 23:50", "2026-11-16 00:05", "2026-11-17 23:55"]), [("23:35", "00:20", "every_day")]),
])
def test_suggest_overrides(openings: list[rules.AckedOpening], expected: list[tuple[str, str, str]]) -> None:
    found = rules.suggest_overrides(openings, CAL, NOW)
    assert [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M"), s.days) for s in found] == expected
    for suggestion in found:
        OverrideSpec.model_validate(suggestion.body())  # ready to post


def test_a_suggested_window_once_added_stops_being_suggested() -> None:
    openings = _acked(["2026-11-16 05:40", "2026-11-17 05:45", "2026-11-18 05:52"])
    (suggestion,) = rules.suggest_overrides(openings, CAL, NOW)
    merged = SchoolCalendar(merge(CAL.config, [OverrideSpec.model_validate(suggestion.body())]))
    assert not rules.after_hours(merged, "main", local("2026-11-19 05:45"))
    assert rules.after_hours(merged, "main", local("2026-11-21 05:45"))  # a Saturday: school days only
    assert rules.suggest_overrides(openings, merged, NOW) == []


@pytest.mark.parametrize(("spec", "when", "after_hours"), [
    ({"kind": "closed", "date": "2026-11-17", "groups": ["main"], "reason": "期中考试"}, "2026-11-17 07:00", True),
    ({"kind": "extra_windows", "date": "2026-11-17", "windows": [{"start": "19:00", "end": "21:00"}],
      "reason": "家长会"}, "2026-11-17 19:30", False),
    ({"kind": "extra_windows", "date": "2026-11-17", "windows": [{"start": "19:00", "end": "21:00"}]},
     "2026-11-17 07:00", False),  # the usual windows stay
    ({"kind": "windows", "date": "2026-11-17", "windows": [{"start": "19:00", "end": "21:00"}]},
     "2026-11-17 07:00", True),  # replaced
    ({"kind": "school_day", "date": "2026-11-21"}, "2026-11-21 07:00", False),
    ({"kind": "extra_window", "groups": ["main"], "days": "other_day", "windows": [{"start": "09:00",
                                                                                    "end": "10:00"}]},
     "2026-11-21 09:30", False),
])
def test_overrides_merge(spec: dict[str, object], when: str, after_hours: bool) -> None:
    merged = SchoolCalendar(merge(CAL.config, [OverrideSpec.model_validate(spec)]))
    assert rules.after_hours(merged, "main", local(when)) is after_hours
    assert CAL.config.groups["main"].other_day == []  # the base is untouched


@pytest.mark.parametrize(("spec", "message"), [
    ({"kind": "closed"}, "date: a closed override is for one date"),
    ({"kind": "extra_window", "windows": [{"start": "09:00", "end": "10:00"}]}, "groups: an extra_window needs"),
    ({"kind": "extra_windows", "date": "2026-11-17"}, "windows: a extra_windows override needs"),
    ({"kind": "closed", "date": "2026-11-17", "windows": [{"start": "09:00", "end": "10:00"}]}, "takes no windows"),
])
def test_bad_overrides_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OverrideSpec.model_validate(spec)


@pytest.mark.parametrize(("change", "message"), [
    ({"routes": {"r": {"checkpoints": ["nowhere"]}}}, "unknown checkpoints: nowhere"),
    ({"checkpoints": {"a": {"tags": ["X1"]}, "b": {"tags": ["x1"]}}}, "is on both checkpoints"),
    ({"checkpoints": {"a": {"name": "nothing"}}}, "needs tags or sensors"),
])
def test_bad_gate_config(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GateConfig.model_validate(change)
