"""The national table, patrol routes and the defaults template from the admin page: versioned, audited, live."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.auth.users import User
from hub.calendar import package_year
from hub.gate import rules
from hub.runtime import Hub
from tests.hub.web.conftest import SENSORS, Feed

GATE = "dev-g/gate-1"


def _history(client: TestClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/api/admin/setup").json()["history"]
    return found


def test_the_packages_year_is_shown_confirmed_and_corrected_and_the_duty_follows_at_once(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    shown = client.get("/api/admin/setup/national/2026").json()
    assert shown["known"] is True and shown["saved"] is None
    assert {"2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"} <= set(shown["package_workdays"])
    assert "2026-10-07" in shown["holidays"]
    assert any(line.startswith("春节 2026-02-15") and "2026-02-14、2026-02-28 调休上班" in line
               for line in shown["periods"]), shown["periods"]
    assert shown["names"]["2026-10-01"] == "国庆节"
    calendar = hub.gate.calendar
    assert calendar.day_type(dt.date(2026, 10, 7)) == "holiday"  # a Wednesday of the National Day week
    assert calendar.day_type(dt.date(2026, 10, 10)) == "school_day"  # a Saturday with work (调休)

    # Confirmed as it is: saved with the admin's name, the days unchanged.
    confirmed = client.put("/api/admin/setup/national/2026", json={
        "holidays": shown["holidays"], "workdays": shown["workdays"], "version": None})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["changes"] == ["national.2026"]
    assert hub.gate.calendar.day_type(dt.date(2026, 10, 7)) == "holiday"
    # Corrected: this county keeps 10-07 a working day (and so its pupils at school); live without a restart.
    corrected = client.put("/api/admin/setup/national/2026", json={
        "holidays": [d for d in shown["holidays"] if d != "2026-10-07"], "workdays": shown["workdays"],
        "version": confirmed.json()["id"]})
    assert corrected.status_code == 200, corrected.text
    assert hub.gate.calendar.day_type(dt.date(2026, 10, 7)) == "school_day"
    assert client.get("/api/admin/setup/national/2026").json()["saved"] is not None
    audit = [e for e in client.get("/api/audit").json() if e["action"] == "setup.national"]
    assert len(audit) == 2 and {e["actor"] for e in audit} == {admin.username}
    assert {e["subject"] for e in audit} == {"calendar/2026"}

    # Back to the package's table.
    back = client.delete("/api/admin/setup/national/2026")
    assert back.status_code == 200, back.text
    assert hub.gate.calendar.day_type(dt.date(2026, 10, 7)) == "holiday"


def test_a_year_the_package_does_not_know_is_said_plainly_and_entered_by_hand(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    assert package_year(2099) is None
    shown = client.get("/api/admin/setup/national/2099").json()
    assert shown["known"] is False and shown["holidays"] == [] and shown["periods"] == []
    assert hub.gate.calendar.day_type(dt.date(2099, 1, 1)) == "school_day"  # a Thursday: weekends only so far

    saved = client.put("/api/admin/setup/national/2099", json={
        "holidays": ["2099-01-01", "2099-01-02"], "workdays": ["2099-01-04"]})
    assert saved.status_code == 200, saved.text
    calendar = hub.gate.calendar
    assert calendar.day_type(dt.date(2099, 1, 1)) == "holiday"
    assert calendar.day_type(dt.date(2099, 1, 4)) == "school_day"  # a Sunday with work
    assert calendar.day_type(dt.date(2099, 1, 3)) == "weekend"
    assert hub.settings.rules.calendar.national_table[2099].workdays == [dt.date(2099, 1, 4)]
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-year="2099"' in page.text
    # Each year the page shows that the package does not know, and nobody entered, is said plainly.
    today = dt.date.today()
    for year in (today.year, today.year + 1):
        form = page.text.split(f'data-year="{year}"', 1)[1].split("</form>", 1)[0]
        unknown = package_year(year) is None and year != 2099
        assert ('data-national="unknown"' in form) is unknown, (year, form)
        if unknown:
            assert f"chinesecalendar 还没有 {year} 年的放假安排" in form


def test_a_bad_table_names_the_field_and_changes_nothing(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    cases = [
        ({"holidays": ["2098-12-31"]}, "national.2099.holidays"),
        ({"holidays": ["2099-01-01"], "workdays": ["2099-01-01"]}, "national.2099.workdays"),
    ]
    for body, field in cases:
        refused = client.put("/api/admin/setup/national/2099", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"]["field"] == field, refused.text
    assert client.put("/api/admin/setup/national/1900", json={}).status_code == 422
    assert client.put("/api/admin/setup/national/2099", json={"holidays": ["not a date"]}).status_code == 422
    assert client.delete("/api/admin/setup/national/2099").status_code == 404
    assert hub.setup.latest() is None and _history(client) == []
    assert 2099 not in hub.settings.rules.calendar.national_table


def _patrol_route(client: TestClient, rounds: list[dict[str, str]]) -> None:
    for key, body in (("gatehouse", {"name": "门卫室", "tags": ["04a1b2c3d4"]}),
                      ("playground", {"name": "操场", "sensors": ["dev-a/cp-playground"]})):
        saved = client.put(f"/api/admin/setup/checkpoints/{key}", json=body)
        assert saved.status_code == 200, saved.text
    route = client.put("/api/admin/setup/routes/campus", json={
        "name": "校园巡更", "checkpoints": ["gatehouse", "playground"], "day_rounds": rounds,
        "night_rounds": [{"start": "23:30", "end": "01:30"}], "days": "every_day"})
    assert route.status_code == 200, route.text


def test_checkpoints_and_routes_from_the_page_are_what_the_gate_duty_judges_rounds_by(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    _patrol_route(client, [{"start": "07:00", "end": "08:00"}])
    config = hub.gate.config
    assert config.routes["campus"].checkpoints == ["gatehouse", "playground"]
    assert rules.resolve_checkpoint(config, "04A1B2C3D4", "dev-g/reader") == "gatehouse"
    assert rules.resolve_checkpoint(config, "", "dev-a/cp-playground") == "playground"
    today = dt.datetime.fromtimestamp(hub.gate.clock(), hub.gate.calendar.tz).date()
    (day,) = hub.gate.patrol_day(today)
    assert day["route"] == "campus" and day["name"] == "校园巡更" and day["required"] == 2

    # Nobody walked it: over the next day each round is missed when its window ends, by the route saved on the page.
    hub.gate.tick(hub.gate.clock() + 86400)
    missed = [a for a in hub.state.alerts() if a.rule == "patrol_round_missed"]
    assert len(missed) == 2 and "校园巡更" in missed[0].message and "门卫室" in missed[0].message
    shown = client.get("/api/admin/setup").json()
    assert {c["key"]: c["from_page"] for c in shown["checkpoints"]} == {"gatehouse": True, "playground": True}
    assert shown["routes"][0]["night_rounds"] == [{"start": "23:30:00", "end": "01:30:00"}]
    audited = {(e["action"], e["subject"], e["actor"]) for e in client.get("/api/audit").json()}
    assert {("setup.checkpoint", "checkpoint/gatehouse", admin.username),
            ("setup.route", "patrol-route/campus", admin.username)} <= audited
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert 'data-route="campus"' in page.text and 'data-rounds="few"' in page.text  # 2 rounds a day, not 5


def test_a_bad_checkpoint_or_route_names_the_field_and_changes_nothing(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    _patrol_route(client, [{"start": "07:00", "end": "08:00"}])
    versions = len(_history(client))
    cases = [
        ("/api/admin/setup/routes/north", {"name": "北区", "checkpoints": ["gatehouse", "library"]}, 422,
         "routes.north.checkpoints"),
        ("/api/admin/setup/checkpoints/library", {"name": "图书馆", "tags": ["04A1B2C3D4"]}, 422,
         "checkpoints.library.tags"),
        ("/api/admin/setup/checkpoints/library", {"name": "图书馆"}, 422, None),
        ("/api/admin/setup/checkpoints/library", {"name": "图书馆", "sensors": ["no-slash"]}, 422, None),
        ("/api/admin/setup/checkpoints/library", {"name": "图\u202e书馆", "tags": ["0A"]}, 422, None),
        ("/api/admin/setup/routes/north", {"name": "北区", "checkpoints": ["gatehouse"],
                                           "day_rounds": [{"start": "07:00", "end": "07:00"}]}, 422, None),
        ("/api/admin/setup/routes/north", {"name": "北区", "checkpoints": []}, 422, None),
        ("/api/admin/setup/routes/north", {"name": "北区", "checkpoints": ["gatehouse"],
                                           "day_rounds": [{"start": "25:00", "end": "07:00"}]}, 422, None),
    ]
    for path, body, status, field in cases:
        refused = client.put(path, json=body)
        assert refused.status_code == status, (path, body, refused.text)
        if field is not None:
            assert refused.json()["detail"]["field"] == field, refused.text
    # A checkpoint a route still visits stays.
    assert client.delete("/api/admin/setup/checkpoints/gatehouse").status_code == 409
    assert len(_history(client)) == versions
    assert set(hub.gate.config.routes) == {"campus"} and "library" not in hub.gate.config.checkpoints
    # Removed in order: the route, then its checkpoint; the duty follows.
    assert client.delete("/api/admin/setup/routes/campus").status_code == 200
    assert client.delete("/api/admin/setup/checkpoints/gatehouse").status_code == 200
    assert hub.gate.config.routes == {} and "gatehouse" not in hub.gate.config.checkpoints


def test_the_template_is_shown_while_in_use_and_becomes_the_schools_own_group_in_one_click(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    Feed(hub, "dev-g").status([{"sensor": "gate-1", "kind": "gate", "name": "南大门"}])
    assert hub.gate.calendar.group_for_door(GATE, "gate") == "default"
    page = client.get("/admin", headers={"Accept": "text/html"})
    notice = page.text.split('data-template="in-use"', 1)[1].split("</div>", 1)[0]
    assert "06:30–08:30、11:30–13:30、16:30–18:30" in notice and "南大门" in notice

    adopted = client.post("/api/admin/setup/groups-from-template", json={"name": "校门"})
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["changes"] == ["groups.校门", f"sensors.{GATE}"]
    calendar = hub.gate.calendar
    assert calendar.group_of(GATE) == "校门"
    assert [(w.start, w.end) for w in calendar.group("校门").school_day] == [
        (dt.time(6, 30), dt.time(8, 30)), (dt.time(11, 30), dt.time(13, 30)), (dt.time(16, 30), dt.time(18, 30))]
    assert hub.engine.name(GATE) == "南大门"
    defaults = client.get("/api/calendar/defaults").json()
    assert defaults["in_use"] is False and defaults["members"] == []
    assert 'data-template="in-use"' not in client.get("/admin", headers={"Accept": "text/html"}).text
    audited = [e for e in client.get("/api/audit").json() if e["action"] == "setup.group_from_template"]
    assert audited and audited[0]["actor"] == admin.username and audited[0]["subject"] == "gate-group/校门"

    # Then edited like any group of the school's: the gate's hours follow at once.
    edited = client.put("/api/admin/setup/groups/校门", json={
        "school_day": [{"start": "07:00", "end": "08:00"}], "other_day": [], "close_grace_s": 600,
        "version": adopted.json()["id"]})
    assert edited.status_code == 200, edited.text
    assert [(w.start, w.end) for w in hub.gate.calendar.group("校门").school_day] == [(dt.time(7), dt.time(8))]
    # The name is taken now: a second click does not make a second group.
    again = client.post("/api/admin/setup/groups-from-template", json={"name": "校门"})
    assert again.status_code == 409 and again.json()["detail"]["field"] == "name"


def test_a_cold_unit_paired_with_its_door_on_the_page_is_one_incident_at_once(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    page = client.get("/admin", headers={"Accept": "text/html"}).text
    assert 'data-kind="setup_units"' in page
    refused = client.put("/api/admin/setup/units",
                         json={"units": [{"temperature": "fridge-1", "door": "dev-a/door-1"}]})
    assert refused.status_code == 422 and hub.setup.latest() is None
    saved = client.put("/api/admin/setup/units", json={"units": [{"temperature": "dev-a/fridge-1",
                                                                  "door": "dev-a/door-1"}]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["changes"] == ["units"]
    feed.reading("fridge-1", 12.0)
    (alert,) = [a for a in hub.state.alerts() if a.subject == "dev-a/fridge-1"]
    assert alert.incident == "unit:dev-a/fridge-1"
    shown = client.get("/api/admin/setup").json()
    assert shown["units_from_page"] is True and shown["units"] == [{"temperature": "dev-a/fridge-1",
                                                                    "door": "dev-a/door-1"}]
    audited = [e for e in client.get("/api/audit").json() if e["action"] == "setup.units"]
    assert audited and audited[0]["actor"] == admin.username


def test_a_cold_unit_sharing_a_probe_or_door_or_naming_no_announced_sensor_is_refused_naming_the_field(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    feed.status([*SENSORS, {"sensor": "fridge-2", "kind": "temperature", "profile": "fridge"},
                 {"sensor": "door-2", "kind": "door"}])
    cases = [
        ([{"temperature": "dev-a/fridge-1", "door": "dev-a/door-1"},
          {"temperature": "dev-a/fridge-1", "door": "dev-a/door-2"}], "units.1.temperature"),
        ([{"temperature": "dev-a/fridge-1", "door": "dev-a/door-1"},
          {"temperature": "dev-a/fridge-2", "door": "dev-a/door-1"}], "units.1.door"),
        ([{"temperature": "dev-a/fridge-1", "door": "dev-a/fridge-1"}], "units.0.door"),
        ([{"temperature": "dev-a/fridge-9", "door": "dev-a/door-1"}], "units.0.temperature"),
        ([{"temperature": "dev-a/fridge-1", "door": "dev-z/door-1"}], "units.0.door"),
    ]
    for units, field in cases:
        refused = client.put("/api/admin/setup/units", json={"units": units})
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == field, (units, refused.text)
    assert hub.setup.latest() is None and hub.settings.rules.alerts.units == []
    both = [{"temperature": "dev-a/fridge-1", "door": "dev-a/door-1"},
            {"temperature": "dev-a/fridge-2", "door": "dev-a/door-2"}]
    assert client.put("/api/admin/setup/units", json={"units": both}).status_code == 200


def test_names_in_the_path_are_plain_text_and_a_trailing_space_is_stripped(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    """A checkpoint saved as ``gate `` could never be named by a route; a newline would reach the logs."""
    as_role(Role.ADMIN)
    checkpoint = {"name": "门卫室", "tags": ["04a1b2c3e5"]}
    for section, body in (("checkpoints", checkpoint), ("routes", {"name": "巡更", "checkpoints": ["gate"]}),
                          ("groups", {"school_day": [], "other_day": []})):
        for bad in ("ga%0Ate", "ga%1Bte", "ga%E2%80%AEte", "%20%20"):
            refused = client.put(f"/api/admin/setup/{section}/{bad}", json=body)
            assert refused.status_code == 422, (section, bad, refused.text)
            assert refused.json()["detail"][0]["loc"] == ["path", "name"], refused.text
    assert hub.setup.latest() is None
    saved = client.put("/api/admin/setup/checkpoints/gate%20", json=checkpoint)
    assert saved.status_code == 200 and saved.json()["changes"] == ["checkpoints.gate"], saved.text
    route = client.put("/api/admin/setup/routes/%20campus", json={"name": "巡更", "checkpoints": ["gate"],
                                                                  "day_rounds": [{"start": "07:00", "end": "08:00"}]})
    assert route.status_code == 200, route.text
    assert set(hub.gate.config.checkpoints) == {"gate"} and hub.gate.config.routes["campus"].checkpoints == ["gate"]
    assert client.delete("/api/admin/setup/routes/campus%20").status_code == 200
    assert client.delete("/api/admin/setup/checkpoints/gate%20").status_code == 200
    assert hub.gate.config.checkpoints == {}


def test_the_setup_component_adopts_the_template_on_its_own(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    """The route only passes the gate duty on: the group, its doors and their names are the component's."""
    Feed(hub, "dev-g").status([{"sensor": "gate-1", "kind": "gate", "name": "南大门"}])
    saved = hub.setup.adopt_template("大门", hub.gate, "校长")
    assert saved.changes == ("groups.大门", f"sensors.{GATE}") and saved.actor == "校长"
    assert hub.gate.calendar.group_of(GATE) == "大门" and hub.engine.name(GATE) == "南大门"
    assert hub.setup.document().sensors[GATE].name == "南大门"


def test_a_template_with_as_many_windows_as_its_confirmation_allows_becomes_a_group(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    """The default group's confirmed windows and a group of the page share one bound: adopting never fails."""
    as_role(Role.ADMIN)
    Feed(hub, "dev-g").status([{"sensor": "gate-1", "kind": "gate", "name": "南大门"}])
    ten = [{"start": f"{h:02d}:00", "end": f"{h:02d}:30"} for h in range(6, 16)]
    confirmed = client.post("/api/calendar/defaults/confirm",
                            json={"windows": {"school_day": ten[:3], "other_day": ten}})
    assert confirmed.status_code == 200, confirmed.text
    adopted = client.post("/api/admin/setup/groups-from-template", json={"name": "校门"})
    assert adopted.status_code == 200, adopted.text
    assert len(hub.gate.calendar.group("校门").other_day) == 10
    eleven = [*ten, {"start": "20:00", "end": "20:30"}]
    assert client.post("/api/calendar/defaults/confirm",
                       json={"windows": {"school_day": [], "other_day": eleven}}).status_code == 422
