"""The people's side of alerts over HTTP: actions, refusals as 4xx, silences, audit, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.calendar import CalendarConfig
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize, bearer


def telemetry(seq: int, value: float, ts: float) -> Inbound:
    body = {"device": "dev-a", "boot_id": "b", "seq": seq, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}
    return Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(body).encode(), seq, 1, 0.0)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    status = {"state": "online", "boot_id": "b", "ts": 1.0,
              "sensors": [{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge"}]}
    running.pipeline.process([
        Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
        telemetry(1, 9.5, 1000.0)])
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def test_acknowledge_close_verify_over_http(client: TestClient, hub: Hub) -> None:
    """The actor is the signed-in account: staff act, a safety officer verifies, never their own close."""
    _, cook = bearer(hub, Role.CANTEEN_STAFF, "王师傅")
    _, officer = bearer(hub, Role.SAFETY_OFFICER, "li")
    _, other_officer = bearer(hub, Role.SAFETY_OFFICER, "zhao")
    (alert,) = client.get("/api/alerts", params={"state": "firing"}).json()
    url = f"/api/alerts/{alert['id']}"
    acked = client.post(f"{url}/acknowledge", json={"text": "checking"}, headers=cook)
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    assert acked.json()["acked_by"] == "王师傅"
    assert client.post(f"{url}/close", json={"text": "x"}, headers=cook).status_code == 409  # not cleared yet
    hub.pipeline.process([telemetry(2, 4.0, 1100.0)])
    assert client.get(url).json()["state"] == "resolved"
    assert client.post(f"{url}/close", json={"text": ""}, headers=officer).status_code == 409  # no action
    closed = client.post(f"{url}/close", json={"text": "转移食品到 2 号冰箱，已报修", "who": "zhao"}, headers=officer)
    assert closed.json()["action"] == "转移食品到 2 号冰箱，已报修"
    assert closed.json()["closed_by"] == "li"  # a name in the body is not an identity
    assert client.post(f"{url}/verify", json={}, headers=cook).status_code == 403  # staff do not verify
    refused = client.post(f"{url}/verify", json={"who": "zhao"}, headers=officer)
    assert refused.status_code == 409 and "cannot verify" in refused.json()["detail"]
    verified = client.post(f"{url}/verify", json={"text": "ok"}, headers=other_officer).json()
    assert verified["state"] == "verified" and verified["verified_by"] == "zhao"
    audit = client.get("/api/audit").json()
    assert [(e["action"], e["actor"]) for e in audit if e["subject"] == f"alert/{alert['id']}"
            and e["action"] in ("acknowledge", "close", "verify")] == [
        ("acknowledge", "王师傅"), ("close", "li"), ("verify", "zhao")]
    assert client.get("/api/audit/verify").json()["intact"]


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/api/alerts/9999/acknowledge", {}, 404),
    ("/api/alerts/1/acknowledge", [], 422),
    ("/api/alerts/1/acknowledge", {"text": "a" * 2001}, 422),
    ("/api/alerts/1/acknowledge", {"reason": "a" * 65}, 422),
    ("/api/alerts/abc/acknowledge", {}, 422),
    ("/api/alerts/1/explode", {}, 404),
])
def test_bad_action_requests_get_4xx(client: TestClient, path: str, body: object, status: int) -> None:
    assert client.post(path, json=body).status_code == status


def test_alert_filters(client: TestClient) -> None:
    assert len(client.get("/api/alerts", params={"kind": "temperature", "state": "active"}).json()) == 1
    assert client.get("/api/alerts", params={"kind": "door"}).json() == []
    assert client.get("/api/alerts", params={"since": 1001}).json() == []
    assert len(client.get("/api/alerts", params={"subject": "dev-a/fridge-1"}).json()) == 1


def test_silences_create_list_remove(client: TestClient) -> None:
    created = client.post("/api/silences", json={"subject": "dev-a/*", "window_start": "23:50",
                                                 "window_end": "00:20", "ends_at": time.time() + 6 * 86_400,
                                                 "reason": "除霜 defrost"})
    assert created.status_code == 201
    silence_id = created.json()["id"]
    listed = client.get("/api/silences").json()
    assert [s["window"]["start"] for s in listed] == ["23:50:00"]
    assert client.delete(f"/api/silences/{silence_id}").status_code == 204
    assert client.get("/api/silences").json() == []
    assert client.delete(f"/api/silences/{silence_id}").status_code == 404


@pytest.mark.parametrize("body", [
    {"subject": "x"},  # endless
    {"subject": "x", "window_start": "02:00"},  # half a window
    {"subject": "x", "starts_at": 10, "ends_at": 5},
    {"subject": "x", "window_start": "02:00", "window_end": "03:00", "weekdays": [7]},
    {"subject": "x", "window_start": "25:00", "window_end": "03:00"},
])
def test_bad_silences_are_refused(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/api/silences", json=body).status_code == 422


def test_metrics_in_prometheus_format(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert "xiaoan_readings_stored_total 1" in text
    assert 'xiaoan_alerts_active{state="firing"} 1' in text
    assert "# TYPE xiaoan_dead_letters_total counter" in text


@pytest.fixture
def campus(tmp_path: Path) -> Iterator[tuple[Hub, TestClient]]:
    """A canteen fridge and a school gate under the calendar, with an HTTP client."""
    calendar = CalendarConfig.model_validate({"groups": {"main": {
        "members": ["gate-1/main-gate"], "school_day": [{"start": "06:30", "end": "18:30"}]}}})
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(calendar=calendar)), connect_mqtt=False)
    for device, sensor in (("dev-a", {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge"}),
                           ("gate-1", {"sensor": "main-gate", "kind": "gate"})):
        status = {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [sensor]}
        running.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(status).encode(),
                                          1, 1, 0.0)])
    with TestClient(create_app(running.settings, hub=running)) as test_client:
        yield running, test_client
    running.stop()


@pytest.mark.parametrize("body", [
    {"subject": "*", "window_start": "00:00", "window_end": "23:59:59"},  # a daily window with no end date
    {"subject": "dev-a/*"},
    {"subject": "dev-a/*", "ends_at": 4_102_444_800.0},  # until 2100
    {"subject": "dev-a/*", "starts_at": 0.0, "ends_at": 4_000_000_000.0},
])
def test_every_silence_ends_within_the_maximum(campus: tuple[Hub, TestClient], body: dict[str, object]) -> None:
    """Issue 15 item 4: an endless or over-long silence is a 422 naming ``ends_at``, whoever asks."""
    hub, client = campus
    for role in (Role.CANTEEN_MANAGER, Role.SAFETY_OFFICER):
        _, headers = bearer(hub, role)
        refused = client.post("/api/silences", json=body, headers=headers)
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == "ends_at", refused.text
    assert hub.state.silences(time.time()) == []


def test_silences_are_scoped_by_role(campus: tuple[Hub, TestClient]) -> None:
    """Issue 15 item 4: the canteen may not silence the gate house, nor everything; the safety officer may."""
    hub, client = campus
    week = time.time() + 6 * 86_400
    _, manager = bearer(hub, Role.CANTEEN_MANAGER)
    for subject in ("gate-1/*", "gate-1/main-gate", "*", "*/*"):
        refused = client.post("/api/silences", json={"subject": subject, "ends_at": week}, headers=manager)
        assert refused.status_code == 403 and refused.json()["detail"]["field"] == "subject", (subject, refused.text)
    refused = client.post("/api/silences", json={"subject": "dev-a/*", "rules": ["gate_after_hours"],
                                                 "ends_at": week}, headers=manager)
    assert refused.status_code == 403
    assert client.post("/api/silences", json={"subject": "dev-a/*", "ends_at": week},
                       headers=manager).status_code == 201
    _, gatekeeper = bearer(hub, Role.GATEKEEPER)
    assert client.post("/api/silences", json={"subject": "dev-a/*", "ends_at": week},
                       headers=gatekeeper).status_code == 403
    _, officer = bearer(hub, Role.SAFETY_OFFICER)
    for subject in ("gate-1/*", "*"):
        assert client.post("/api/silences", json={"subject": subject, "ends_at": week},
                           headers=officer).status_code == 201
    assert sorted(s.subject for s in hub.state.silences(time.time())) == ["*", "dev-a/*", "gate-1/*"]


def test_a_running_delay_is_listed_as_active_and_shown_on_the_page(tmp_path: Path) -> None:
    """A fridge warm for two minutes of a fifteen-minute delay: not an alarm yet, but about to be one."""
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=900)), connect_mqtt=False)
    try:
        now = time.time()
        status = {"state": "online", "boot_id": "b", "ts": now,
                  "sensors": [{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "1号冷藏柜"}]}
        running.pipeline.process([
            Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
            telemetry(1, 9.5, now - 120)])
        with TestClient(create_app(running.settings, hub=running)) as client:
            _, manager = bearer(running, Role.CANTEEN_MANAGER)
            for state in ("active", "pending"):
                (delay,) = client.get("/api/alerts", params={"state": state}, headers=manager).json()
                assert delay["id"] is None and delay["state"] == "pending"
                assert delay["subject"] == "dev-a/fridge-1" and delay["started_at"] == now - 120
                assert "1号冷藏柜" in delay["message"]
            assert client.get("/api/alerts", params={"state": "firing"}, headers=manager).json() == []
            assert client.get("/api/alerts", params={"state": "active", "kind": "door"}, headers=manager).json() == []
            assert client.get("/api/alerts", params={"state": "active", "since": now}, headers=manager).json() == []
            page = client.get("/canteen", headers={**manager, "Accept": "text/html"}).text
            assert "as-pending" in page and "延时中" in page
        assert running.state.alerts() == []  # still no record
    finally:
        running.stop()
