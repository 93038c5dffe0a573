"""The page's setup over the YAML baseline: what wins, what is added, what is left out."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from hub.alerts.config import UnitConfig
from hub.calendar import CalendarConfig, DoorGroup, NationalYear, SchoolCalendar, Term, WindowConfig
from hub.gate.config import Checkpoint, GateConfig, RouteConfig, tag_clashes, unknown_checkpoints
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


def test_a_cold_unit_is_one_probe_and_one_other_door_each_or_a_problem_naming_the_field() -> None:
    """The rule engine keys units probe → door and door → probe: a second use of either would win silently."""
    units = [UnitConfig(temperature="a/t1", door="a/d1"),
             UnitConfig(temperature="a/t1", door="a/d2"),  # the probe again
             UnitConfig(temperature="a/t2", door="a/d1"),  # the door again
             UnitConfig(temperature="a/t3", door="a/t3"),  # its own door
             UnitConfig(temperature="a/d1", door="a/d3"),  # a door as a probe
             UnitConfig(temperature="a/t4", door="a/d4")]
    doc = SetupDocument(units=units)
    assert problems_of(BASE, doc) == [
        ("units.1.temperature", "a/t1 is in unit 0 already · 该探头已属于另一冷藏设备"),
        ("units.2.door", "a/d1 is the door of unit 0 already · 该门磁已属于另一冷藏设备"),
        ("units.3.door", "a/t3 is the unit's probe: a unit's door is another sensor · 门磁不能与温度探头相同"),
        ("units.4.temperature", "a/d1 is in unit 0 already · 该探头已属于另一冷藏设备")]
    assert layered(BASE, doc).alerts.units == [units[0], units[5]]


def test_names_of_groups_checkpoints_and_routes_are_plain_stripped_text() -> None:
    """A checkpoint saved as ``gate `` could never be named by a route, whose list holds stripped names."""
    doc = SetupDocument.model_validate({
        "groups": {"后门 ": {}}, "checkpoints": {"gate ": {"name": "门卫室", "tags": ["0A"]}},
        "routes": {" campus": {"name": "校园", "checkpoints": ["gate"]}}})
    assert set(doc.groups) == {"后门"} and set(doc.checkpoints) == {"gate"} and set(doc.routes) == {"campus"}
    assert problems_of(BASE, doc) == []
    for section, body in (("groups", {}), ("checkpoints", {"name": "x", "tags": ["0A"]}),
                          ("routes", {"name": "x", "checkpoints": ["gate"]})):
        for bad in ("ga\nte", "ga\x1bte", "   ", "a" * 33, "a/b"):
            with pytest.raises(ValidationError) as refused:
                SetupDocument.model_validate({section: {bad: body}})
            assert refused.value.errors()[0]["loc"][0] == section


def test_the_page_and_the_yaml_refuse_the_same_patrols() -> None:
    """One check (``tag_clashes``, ``unknown_checkpoints``) for both: what the YAML refuses the page does too."""
    yaml_cp = {"gate": Checkpoint(tags=["0a"]), "hall": Checkpoint(tags=["0B"])}
    with pytest.raises(ValidationError, match="tag '0A' is on both checkpoints 'gate' and 'lab'"):
        GateConfig(checkpoints={**yaml_cp, "lab": Checkpoint(tags=["0A"])})
    with pytest.raises(ValidationError, match="names unknown checkpoints: lab"):
        GateConfig(checkpoints=yaml_cp, routes={"r": RouteConfig(checkpoints=["gate", "lab"])})
    base = BASE.model_copy(update={"gate": GateConfig(checkpoints=yaml_cp)})
    doc = SetupDocument(checkpoints={"lab": CheckpointSetup(name="实验室", tags=["0A"]),
                                     "hall": CheckpointSetup(name="礼堂", tags=["0C"])},
                        routes={"r": RouteSetup(name="路线", checkpoints=["gate", "lab"])})
    assert problems_of(base, doc) == [
        ("checkpoints.lab.tags", "tag 0A is on checkpoint gate already · 该标签已属于另一巡更点"),
        ("routes.r.checkpoints", "no checkpoint lab: add it first · 巡更点不存在，请先添加")]
    gate = layered(base, doc).gate
    assert set(gate.checkpoints) == {"gate", "hall"} and gate.checkpoints["hall"].tags == ["0C"] and gate.routes == {}
    assert tag_clashes({"x": Checkpoint(tags=["1"]), "y": Checkpoint(tags=["1", "2"]),
                        "z": Checkpoint(tags=["2"])}) == {"y": ("1", "x")}
    assert unknown_checkpoints({"r": RouteConfig(checkpoints=["x", "q"])}, {"x"}) == {"r": ["q"]}
