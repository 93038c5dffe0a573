"""The web app's own APIs: limits (persisted, applied, audited), test messages, corrective-action photos."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.alerts.kinds import AlertState
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.users import User
from hub.notify.config import NotifyConfig
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.web.conftest import Feed

LIMITS = "/api/sensors/dev-a/fridge-1/limits"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_limits_edit_is_applied_at_once_and_audited(client: TestClient, hub: Hub, feed: Feed,
                                                     as_role: Callable[[Role], User]) -> None:
    manager = as_role(Role.CANTEEN_MANAGER)
    feed.reading("fridge-1", 6.0)
    assert hub.state.alerts([AlertState.FIRING]) == []
    response = client.put(LIMITS, json={"low": 1, "high": 5, "hard_high": 12, "delay_s": 0, "hysteresis": 0.3})
    assert response.status_code == 200, response.text
    assert response.json()["limits"]["high"] == 5 and response.json()["limits"]["hard_low"] is None
    limits = hub.engine.limits("dev-a/fridge-1")
    assert limits is not None and (limits.low, limits.high, limits.hard_high) == (1, 5, 12)
    feed.reading("fridge-1", 6.0)
    assert [a.subject for a in hub.state.alerts([AlertState.FIRING])] == ["dev-a/fridge-1"]
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "limits.edited"]
    detail = json.loads(entry.detail)
    assert entry.actor == manager.username and detail["limits"]["high"] == 5 and detail["before"] is None
    sensors = {s["key"]: s for s in client.get("/api/sensors").json()}
    assert sensors["dev-a/fridge-1"]["limits"]["high"] == 5


def test_limits_edit_survives_a_restart(tmp_path: Path) -> None:
    settings = HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0))
    first = Hub(settings, connect_mqtt=False)
    Feed(first).status([{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge"}])
    first.state.save_limit_edit("dev-a/fridge-1", {"low": 2.0, "high": 6.0}, "someone", 1.0)
    first.stop()
    second = Hub(settings, connect_mqtt=False)
    try:
        limits = second.engine.limits("dev-a/fridge-1")
        assert limits is not None and (limits.low, limits.high) == (2.0, 6.0)
        assert limits.delay_s == 0  # the hub's default where the edit left it open
    finally:
        second.stop()


@pytest.mark.parametrize(("body", "field"), [
    ({"low": 5, "high": 5}, "high"),
    ({}, "high"),
    ({"low": 2, "high": 8, "hard_high": 7}, "hard_high"),
    ({"low": 2, "high": 8, "hard_low": 3}, "hard_low"),
    ({"low": 2, "high": 3, "hysteresis": 0.6}, "hysteresis"),
])
def test_limits_edit_refuses_nonsense_naming_the_field(client: TestClient, feed: Feed,
                                                       as_role: Callable[[Role], User], body: dict[str, float],
                                                       field: str) -> None:
    as_role(Role.ADMIN)
    response = client.put(LIMITS, json=body)
    assert response.status_code == 422 and response.json()["detail"]["field"] == field


def test_limits_edit_refusals(client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    assert client.put(LIMITS, json={"high": -180}).status_code == 422  # a typo for -18
    assert client.put(LIMITS, json={"high": 5, "colour": "red"}).status_code == 422
    assert client.put("/api/sensors/dev-a/nope/limits", json={"high": 5}).status_code == 404
    assert client.put("/api/sensors/dev-a/door-1/limits", json={"high": 5}).json()["detail"]["field"] == "sensor"
    for role in (Role.GATEKEEPER, Role.CANTEEN_STAFF, Role.SAFETY_OFFICER):
        as_role(role)
        assert client.put(LIMITS, json={"high": 5}).status_code == 403
    assert hub.state.limit_edits() == {}


def test_loosening_a_fridge_during_an_alarm_leaves_it_firing_and_the_change_pending(
        client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    """Issue 15 item 1: 8 → 12 °C from the phone does not end the alarm; beyond the band it waits for approval."""
    manager = as_role(Role.CANTEEN_MANAGER)
    feed.reading("fridge-1", 11.1)
    (alarm,) = hub.state.alerts([AlertState.FIRING])
    refused = client.put(LIMITS, json={"low": 0, "high": 12})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "reason"
    proposed = client.put(LIMITS, json={"low": 0, "high": 12, "reason": "压缩机维修期间"})
    assert proposed.status_code == 202, proposed.text
    pending = proposed.json()["pending"]
    assert pending["beyond"] == ["high"] and pending["proposed_by"] == manager.username
    assert proposed.json()["limits"]["high"] == 8  # not in force
    feed.reading("fridge-1", 11.1)
    assert [a.id for a in hub.state.alerts([AlertState.FIRING])] == [alarm.id]
    assert hub.state.limit_edits() == {}
    tile = client.get("/canteen", params={"part": "tiles"}, headers={"Accept": "text/html"}).text
    assert "待审批：0 … 12 °C" in tile and "压缩机维修期间" in tile and "/approve" not in tile
    # the proposer cannot approve, nor can a manager; a second person with limits.approve can
    assert client.post(f"/api/limits/proposals/{pending['id']}/approve").status_code == 403
    officer = as_role(Role.SAFETY_OFFICER)
    tile = client.get("/canteen", params={"part": "tiles"}, headers={"Accept": "text/html"}).text
    assert f"/api/limits/proposals/{pending['id']}/approve" in tile
    approved = client.post(f"/api/limits/proposals/{pending['id']}/approve")
    assert approved.status_code == 200 and approved.json()["decided_by"] == officer.username
    assert client.post(f"/api/limits/proposals/{pending['id']}/approve").status_code == 409
    limits = hub.engine.limits("dev-a/fridge-1")
    assert limits is not None and limits.high == 12
    # even in force, the new limits do not end the alarm that began under 8 °C
    feed.reading("fridge-1", 11.1)
    assert [a.id for a in hub.state.alerts([AlertState.FIRING])] == [alarm.id]
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "limits.edited"]
    detail = json.loads(entry.detail)
    assert (detail["proposed_by"], detail["approved_by"], detail["reason"]) == (
        manager.username, officer.username, "压缩机维修期间")
    noted = hub.state.alert(alarm.id or 0)
    assert noted is not None
    assert [(c["high"], c["pending"], c["by"]) for c in noted.data["limit_changes"]] == [
        (12, True, manager.username), (12, False, officer.username)]
    card = client.get("/canteen", params={"part": "alarms"}, headers={"Accept": "text/html"}).text
    assert "报警期间" in card and "待审批，未生效" in card
    feed.reading("fridge-1", 4.0)  # the normal way: the temperature is back within 8 °C
    assert hub.state.alert(alarm.id or 0) is not None
    assert hub.state.alerts([AlertState.RESOLVED])[0].id == alarm.id


def test_limits_inside_the_band_are_free_and_the_range_is_sane(client: TestClient, hub: Hub, feed: Feed,
                                                                as_role: Callable[[Role], User]) -> None:
    as_role(Role.CANTEEN_MANAGER)
    assert client.put(LIMITS, json={"low": 1, "high": 6}).status_code == 200  # tightening is free
    for body, field in (({"low": -60, "high": 6}, "low"), ({"low": 0, "high": 40, "reason": "x"}, "high"),
                        ({"low": 0, "high": 8, "hard_high": 60}, "hard_high")):
        response = client.put(LIMITS, json=body)
        assert response.status_code == 422 and response.json()["detail"]["field"] == field, response.text
    freezer = "/api/sensors/dev-a/freezer-1/limits"
    assert client.put(freezer, json={"high": -18}).status_code == 200  # colder than −12 °C: free
    assert client.put(freezer, json={"high": -8, "reason": "除霜"}).status_code == 202
    assert [p["sensor"] for p in client.get("/api/limits/proposals").json()] == ["dev-a/freezer-1"]
    limits = hub.engine.limits("dev-a/freezer-1")
    assert limits is not None and limits.high == -18


@pytest.fixture
def notify_hub(tmp_path: Path) -> Hub:
    notify = NotifyConfig.model_validate({
        "channels": {"web": {"type": "web"}},
        "routes": {name: {"always": ["web"]} for name in ("canteen", "canteen_manager", "safety_officer",
                                                          "gatekeeper", "admin")}})
    return Hub(HubSettings(home=tmp_path, notify=notify), connect_mqtt=False)


def test_test_message_goes_through_the_named_channel(notify_hub: Hub) -> None:
    from tests.hub.auth_helpers import authorize  # noqa: PLC0415

    try:
        with TestClient(create_app(notify_hub.settings, hub=notify_hub)) as client:
            admin = authorize(client, notify_hub, Role.ADMIN)
            sent = client.post("/api/notifications/test", json={"channel": "web"})
            assert sent.status_code == 200 and sent.json()["ok"] is True, sent.text
            (notice,) = notify_hub.notifications.web_notices.recent()
            assert notice.tier == "test" and admin.display_name in notice.body
            assert notify_hub.notifications.delivery_log is not None
            assert [a.outcome for a in notify_hub.notifications.delivery_log.attempts()] == ["sent"]
            unknown = client.post("/api/notifications/test", json={"channel": "sms"})
            assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "channel"
            page = client.get("/admin", headers={"Accept": "text/html"}).text
            assert 'data-api="/api/notifications/test"' in page and 'value="web"' in page
            authorize(client, notify_hub, Role.SAFETY_OFFICER)
            assert client.post("/api/notifications/test", json={"channel": "web"}).status_code == 403
    finally:
        notify_hub.stop()


def test_photos_are_type_and_size_checked_and_shown(client: TestClient, hub: Hub, feed: Feed,
                                                    as_role: Callable[[Role], User]) -> None:
    feed.reading("fridge-1", 12.5)
    as_role(Role.CANTEEN_STAFF)
    url = "/api/alerts/1/photos"
    stored = client.post(url, files={"photo": ("fridge.png", PNG, "image/png")})
    assert stored.status_code == 201, stored.text
    again = client.post(url, files={"photo": ("copy.png", PNG, "image/png")})
    assert again.json()["name"] == stored.json()["name"]  # the same photo is kept once
    served = client.get(stored.json()["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png" and served.content == PNG
    assert [p["name"] for p in client.get(url).json()] == [stored.json()["name"]]
    assert stored.json()["url"] in client.get("/alerts/1", headers={"Accept": "text/html"}).text
    html = client.post(url, files={"photo": ("x.png", b"<html><script>alert(1)</script>", "image/png")})
    assert html.status_code == 422 and html.json()["detail"]["field"] == "photo"
    big = client.post(url, files={"photo": ("big.jpg", b"\xff\xd8\xff" + b"\x00" * (8 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413
    assert client.post("/api/alerts/99/photos", files={"photo": ("a.png", PNG, "image/png")}).status_code == 404
    assert client.get("/api/alerts/1/photos/..%2F..%2Fhub.sqlite3").status_code == 404
    assert any(e.action == "alert.photo" for e in hub.state.audit_entries())
