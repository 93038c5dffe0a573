"""Sensors, terms, holidays and door groups from the admin page: versioned, audited, in force without a restart."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from hub.alerts.kinds import AlertState
from hub.auth.roles import Role
from hub.auth.users import User
from hub.checks import prefill
from hub.checks.kinds import AutoSource
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.setup.directory import ConfiguredDirectory
from hub.setup.model import ColdProfile, SensorRole, SensorSetup
from hub.setup.service import SchoolSetup
from hub.store.settings import SettingsStore
from tests.hub.web.conftest import SENSORS, Feed

FREEZER = "dev-a/freezer-1"
DOOR = "dev-a/door-1"


def _setup(client: TestClient) -> dict[str, Any]:
    shown = client.get("/api/admin/setup")
    assert shown.status_code == 200, shown.text
    found: dict[str, Any] = shown.json()
    return found


def _sensor(setup: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in setup["sensors"] if s["key"] == key)
    return found


def test_announced_sensors_wait_to_be_set_up_and_an_assignment_is_in_force_at_once(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    before = _setup(client)
    assert before["version"] is None
    assert {s["key"] for s in before["sensors"] if s["unassigned"]} == {f"dev-a/{s['sensor']}" for s in SENSORS}
    assert hub.engine.limits(FREEZER).high == -12.0  # type: ignore[union-attr]

    saved = client.put(f"/api/admin/setup/sensors/{FREEZER}",
                       json={"name": "2号冷藏柜", "role": "cold_unit", "profile": "fridge", "version": None})
    assert saved.status_code == 200, saved.text
    assert saved.json()["changes"] == [f"sensors.{FREEZER}"]

    # The engine, the page and the API use it without a restart: the fridge's band, the new name.
    limits = hub.engine.limits(FREEZER)
    assert limits is not None and (limits.low, limits.high) == (0.0, 8.0)
    assert hub.engine.name(FREEZER) == "2号冷藏柜"
    assert hub.settings.rules.sensors[FREEZER].profile == "fridge"
    assert hub.reports.source.config.sensors[FREEZER].name == "2号冷藏柜"
    feed.reading("freezer-1", 10.0)
    firing = [a for a in hub.state.alerts() if a.subject == FREEZER and a.state == AlertState.FIRING]
    assert firing and "2号冷藏柜" in firing[0].message
    after = _sensor(_setup(client), FREEZER)
    assert after == {**after, "name": "2号冷藏柜", "role": "cold_unit", "profile": "fridge", "unassigned": False}
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "2号冷藏柜" in page.text and "⟦" not in page.text
    # The daily check's prefill counts it among the refrigerators now (by the profile in force).
    fridges = prefill.sensors_of(AutoSource.FRIDGES, ConfiguredDirectory(hub.state, lambda: hub.settings.rules)
                                 .sensors())
    assert {s["key"]: s["name"] for s in fridges} == {"dev-a/fridge-1": "1号冷藏柜", FREEZER: "2号冷藏柜"}
    audit = [e for e in client.get("/api/audit").json() if e["action"] == "setup.sensor"]
    assert audit and audit[0]["actor"] == admin.username and audit[0]["subject"] == f"sensor/{FREEZER}"


def test_a_form_shown_before_someone_else_changed_the_same_sensor_is_refused(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    first = client.put(f"/api/admin/setup/sensors/{FREEZER}", json={"name": "冷冻柜", "role": "cold_unit",
                                                                     "profile": "freezer"})
    shown = first.json()["id"]
    assert client.put(f"/api/admin/setup/sensors/{FREEZER}",
                      json={"name": "冷冻柜甲", "role": "cold_unit", "profile": "freezer", "version": shown}
                      ).status_code == 200
    stale = client.put(f"/api/admin/setup/sensors/{FREEZER}",
                       json={"name": "冷冻柜乙", "role": "cold_unit", "profile": "freezer", "version": shown})
    assert stale.status_code == 409 and stale.json()["detail"]["field"] == "version"
    # Another sensor changed meanwhile is no reason to refuse.
    other = client.put("/api/admin/setup/sensors/dev-a/fridge-1",
                       json={"name": "冷藏柜", "role": "cold_unit", "profile": "fridge", "version": shown})
    assert other.status_code == 200, other.text
    assert hub.engine.name(FREEZER) == "冷冻柜甲"


def test_bad_input_names_the_field_and_changes_nothing(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    cases = [
        (f"/api/admin/setup/sensors/{DOOR}", {"name": "校门", "role": "door", "group": "没有这个组"}, 422,
         f"sensors.{DOOR}.group"),
        (f"/api/admin/setup/sensors/{FREEZER}", {"name": "冷柜", "role": "cold_unit"}, 422, None),
        (f"/api/admin/setup/sensors/{FREEZER}", {"name": "冷\u202e柜", "role": "other"}, 422, None),
        ("/api/admin/setup/sensors/dev-a/nothing", {"name": "无", "role": "other"}, 404, "sensor"),
        ("/api/admin/setup/calendar", {"terms": [{"name": "秋季", "start": "2026-09-01", "end": "2026-08-01"}]},
         422, None),
    ]
    for path, body, status, field in cases:
        refused = client.put(path, json=body)
        assert refused.status_code == status, (path, body, refused.text)
        if field is not None:
            assert refused.json()["detail"]["field"] == field, refused.text
    assert hub.setup.latest() is None
    assert _setup(client)["history"] == []


def test_door_groups_terms_and_holidays_from_the_page_drive_the_gate_duty(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    group = client.put("/api/admin/setup/groups/后门", json={
        "school_day": [{"start": "06:30", "end": "07:30"}], "other_day": [], "close_grace_s": 300})
    assert group.status_code == 200, group.text
    door = client.put(f"/api/admin/setup/sensors/{DOOR}", json={"name": "食堂后门", "role": "door", "group": "后门"})
    assert door.status_code == 200, door.text
    calendar = hub.gate.calendar
    assert calendar.group_of(DOOR) == "后门"
    assert [(w.start, w.end) for w in calendar.group("后门").school_day] == [(dt.time(6, 30), dt.time(7, 30))]
    assert calendar.group("后门").close_grace_s == 300

    term = {"name": "2026秋季学期", "start": "2026-09-01", "end": "2027-01-22"}
    saved = client.put("/api/admin/setup/calendar", json={"terms": [term], "holidays": ["2026-10-21"]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["changes"] == ["holidays", "terms"]
    calendar = hub.gate.calendar
    assert calendar.day_type(dt.date(2026, 10, 21)) == "holiday"  # a Wednesday in term, a school's own holiday
    assert calendar.day_type(dt.date(2026, 10, 22)) == "school_day"
    assert calendar.day_type(dt.date(2026, 8, 26)) == "vacation"  # a Wednesday before the term
    shown = _setup(client)
    assert shown["terms_from_page"] is True and shown["terms"][0]["name"] == "2026秋季学期"
    assert shown["holidays"] == ["2026-10-21"]
    assert {"name": "后门", "members": [DOOR], "from_page": True}.items() <= shown["groups"][0].items()
    # A group doors still use is not removed.
    assert client.delete("/api/admin/setup/groups/后门").status_code == 409


def test_a_sample_cabinet_is_the_sample_registers_cabinet_and_there_is_one(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    first = client.put("/api/admin/setup/sensors/dev-a/fridge-1", json={"name": "留样柜", "role": "sample_cabinet"})
    assert first.status_code == 200, first.text
    assert hub.samples.config.cabinet == "dev-a/fridge-1"
    assert hub.engine.limits("dev-a/fridge-1") is not None
    assert hub.settings.rules.sensors["dev-a/fridge-1"].profile == "sample_fridge"
    second = client.put(f"/api/admin/setup/sensors/{FREEZER}", json={"name": "留样柜2", "role": "sample_cabinet"})
    assert second.status_code == 422 and second.json()["detail"]["field"] == f"sensors.{FREEZER}.role"


def test_one_change_is_rolled_back_and_the_others_stay(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    named = client.put(f"/api/admin/setup/sensors/{FREEZER}", json={"name": "冷冻柜", "role": "cold_unit",
                                                                     "profile": "freezer"}).json()
    client.put("/api/admin/setup/sensors/dev-a/fridge-1", json={"name": "冷藏柜", "role": "cold_unit",
                                                                "profile": "fridge"})
    undone = client.post(f"/api/admin/setup/versions/{named['id']}/rollback")
    assert undone.status_code == 200, undone.text
    assert undone.json()["changes"] == [f"sensors.{FREEZER}"]
    assert hub.engine.name(FREEZER) == FREEZER  # announced without a name
    assert hub.engine.name("dev-a/fridge-1") == "冷藏柜"
    assert _sensor(_setup(client), FREEZER)["unassigned"] is True


def test_a_version_saved_by_another_process_is_in_force_at_the_next_poll_and_after_a_restart(
        hub: Hub, feed: Feed, tmp_path: Path) -> None:
    store = SettingsStore(hub.settings.db_dir / "settings.sqlite3")
    try:
        other = SchoolSetup(store, HubConfig(), hub.state, hub.state, clock=time.time)
        other.put_sensor(FREEZER, SensorSetup(name="冷冻柜 A", role=SensorRole.COLD_UNIT, profile=ColdProfile.FREEZER),
                         "cli:root")
    finally:
        store.close()
    assert hub.engine.name(FREEZER) == FREEZER
    assert hub.setup.poll() is True
    assert hub.engine.name(FREEZER) == "冷冻柜 A"
    assert hub.setup.poll() is False
    # A hub started on the same state directory (a restart) starts with it.
    again = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    try:
        assert again.engine.name(FREEZER) == "冷冻柜 A"
        assert again.settings.rules.sensors[FREEZER].profile == "freezer"
    finally:
        again.stop()
