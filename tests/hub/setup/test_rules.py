"""The page's setup over the YAML baseline: what wins, what is added, what is left out."""

from __future__ import annotations

import datetime as dt

from hub.calendar import CalendarConfig, DoorGroup, NationalYear, SchoolCalendar, Term, WindowConfig
from hub.gate.config import Checkpoint, GateConfig, RouteConfig
from hub.settings import HubConfig, LimitOverride
from hub.setup.model import (
    CheckpointSetup,
    GroupSetup,
    RouteSetup,
    SensorRole,
    SensorSetup,
    SetupDocument,
    TermSetup,
)
from hub.setup.rules import changed_paths, layered, problems_of, revert

BASE = HubConfig(
    sensors={"a/t1": LimitOverride(name="YAML 名", high=6.0)},
    calendar=CalendarConfig(
        holidays=[dt.date(2026, 5, 6)],
        terms=[Term(name="YAML 学期", start=dt.date(2026, 2, 20), end=dt.date(2026, 7, 10))],
        groups={"main": DoorGroup(members=["a/g1", "a/g2"],
                                  school_day=[WindowConfig(start=dt.time(7), end=dt.time(8))])}))


def test_an_empty_document_leaves_the_yaml_as_it_is() -> None:
    assert layered(BASE, SetupDocument()) == BASE


def test_a_named_cold_unit_keeps_the_yamls_limits_and_takes_the_pages_name_and_profile() -> None:
    doc = SetupDocument(sensors={"a/t1": SensorSetup(name="冷藏柜", role=SensorRole.COLD_UNIT, profile="freezer")})
    config = layered(BASE, doc)
    assert config.sensors["a/t1"] == LimitOverride(name="冷藏柜", profile="freezer", high=6.0)


def test_a_door_moves_to_its_page_group_and_the_pages_windows_replace_the_yamls() -> None:
    doc = SetupDocument(
        sensors={"a/g2": SensorSetup(name="后门", role=SensorRole.DOOR, group="main"),
                 "a/g3": SensorSetup(name="侧门", role=SensorRole.DOOR, group="side")},
        groups={"side": GroupSetup(school_day=[WindowConfig(start=dt.time(16), end=dt.time(17))]),
                "empty": GroupSetup()})
    groups = layered(BASE, doc).calendar.groups
    assert groups["main"].members == ["a/g1", "a/g2"] and groups["main"].school_day == BASE.calendar.groups[
        "main"].school_day
    assert groups["side"].members == ["a/g3"]
    assert "empty" not in groups  # no door in it: it watches nothing


def test_terms_replace_the_yamls_and_holidays_add_to_them() -> None:
    doc = SetupDocument(terms=[TermSetup(name="秋季", start=dt.date(2026, 9, 1), end=dt.date(2027, 1, 20))],
                        holidays=[dt.date(2026, 10, 21), dt.date(2026, 5, 6)])
    calendar = layered(BASE, doc).calendar
    assert [t.name for t in calendar.terms] == ["秋季"]
    assert calendar.holidays == [dt.date(2026, 5, 6), dt.date(2026, 10, 21)]
    assert layered(BASE, SetupDocument(terms=[])).calendar.terms == []


def test_what_cannot_be_applied_is_named_and_left_out() -> None:
    doc = SetupDocument(sensors={
        "a/g9": SensorSetup(name="门", role=SensorRole.DOOR, group="nowhere"),
        "a/t1": SensorSetup(name="留样1", role=SensorRole.SAMPLE_CABINET),
        "a/t2": SensorSetup(name="留样2", role=SensorRole.SAMPLE_CABINET),
        "bad": SensorSetup(name="x", role=SensorRole.OTHER)})
    assert [path for path, _ in problems_of(BASE, doc)] == ["sensors.a/g9.group", "sensors.a/t2.role", "sensors.bad"]
    config = layered(BASE, doc)
    assert config.samples.cabinet == "a/t1" and "a/t2" not in config.sensors and "bad" not in config.sensors


def test_one_change_reverted_leaves_the_others() -> None:
    before = {"sensors": {"a/t1": {"name": "一"}}}
    target = {"sensors": {"a/t1": {"name": "二"}, "a/t2": {"name": "新"}}, "terms": []}
    current = {"sensors": {"a/t1": {"name": "三"}, "a/t2": {"name": "新"}}, "terms": [], "holidays": ["2026-10-01"]}
    assert changed_paths(before, target) == ["sensors.a/t1", "sensors.a/t2", "terms"]
    assert revert(current, before, target) == {"sensors": {"a/t1": {"name": "一"}}, "holidays": ["2026-10-01"]}


def test_a_year_of_the_national_table_on_the_page_replaces_the_packages_for_that_year_only() -> None:
    # 2026-10-07 is a Wednesday of the National Day week; 2099 is a year the package does not know.
    doc = SetupDocument(national={
        2026: NationalYear(holidays=[dt.date(2026, 10, d) for d in range(1, 7)], workdays=[dt.date(2026, 10, 10)]),
        2099: NationalYear(holidays=[dt.date(2099, 1, 1)], workdays=[dt.date(2099, 1, 4)])})
    config = layered(BASE, doc)
    assert set(config.calendar.national_table) == {2026, 2099}
    calendar = SchoolCalendar(config.calendar.model_copy(update={"terms": []}))
    assert calendar.day_type(dt.date(2026, 10, 7)) == "school_day"
    assert calendar.day_type(dt.date(2026, 10, 10)) == "school_day"  # a Saturday with work
    assert calendar.day_type(dt.date(2026, 10, 6)) == "holiday"
    assert calendar.day_type(dt.date(2099, 1, 1)) == "holiday"
    assert calendar.day_type(dt.date(2099, 1, 4)) == "school_day"  # a Sunday with work
    # The school's own holidays still win, and other years keep the package's table.
    assert calendar.day_type(dt.date(2026, 5, 6)) == "holiday"
    assert SchoolCalendar(BASE.calendar.model_copy(update={"terms": []})).day_type(dt.date(2026, 10, 7)) == "holiday"
    assert calendar.day_type(dt.date(2025, 10, 1)) == "holiday"


def test_a_national_table_with_a_stray_day_is_a_problem_naming_the_field() -> None:
    stray = SetupDocument(national={2099: NationalYear(holidays=[dt.date(2098, 12, 31)])})
    assert problems_of(BASE, stray)[0][0] == "national.2099.holidays"
    both = SetupDocument(national={2099: NationalYear(holidays=[dt.date(2099, 1, 1)],
                                                      workdays=[dt.date(2099, 1, 1)])})
    assert problems_of(BASE, both)[0][0] == "national.2099.workdays"
    assert 2099 not in layered(BASE, both).calendar.national_table


def test_patrols_of_the_page_replace_the_yamls_by_name_and_a_route_without_its_checkpoints_is_left_out() -> None:
    base = BASE.model_copy(update={"gate": GateConfig(
        checkpoints={"gatehouse": Checkpoint(name="门卫室", tags=["AA"]), "yard": Checkpoint(name="后院", tags=["BB"])},
        routes={"campus": RouteConfig(checkpoints=["gatehouse", "yard"])})})
    doc = SetupDocument(
        checkpoints={"yard": CheckpointSetup(name="后操场", tags=["CC"]),
                     "library": CheckpointSetup(name="图书馆", tags=["aa"])},
        routes={"night": RouteSetup(name="夜巡", checkpoints=["gatehouse", "nowhere"])})
    problems = problems_of(base, doc)
    assert ("checkpoints.library.tags" in [p for p, _ in problems]
            and "routes.night.checkpoints" in [p for p, _ in problems])
    gate = layered(base, doc).gate
    assert gate.checkpoints["yard"].name == "后操场" and gate.checkpoints["yard"].tags == ["CC"]
    assert "library" not in gate.checkpoints and set(gate.routes) == {"campus"}
    assert changed_paths({}, doc.model_dump(mode="json", exclude_defaults=True)) == [
        "checkpoints.library", "checkpoints.yard", "routes.night"]


def test_one_years_table_is_rolled_back_alone() -> None:
    before = {"national": {"2026": {"holidays": ["2026-10-01"], "workdays": []}}}
    target = {"national": {"2026": {"holidays": ["2026-10-01"], "workdays": []},
                           "2099": {"holidays": ["2099-01-01"], "workdays": []}}}
    current = {**target, "terms": []}
    assert changed_paths(before, target) == ["national.2099"]
    assert revert(current, before, target) == {**before, "terms": []}
