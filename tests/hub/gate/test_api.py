"""The calendar and gate API on a real hub (no broker): days, overrides, suggestions, gates, sweeps, patrols."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.gate.monitor import AFTER_HOURS_RULE
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.hub.auth_helpers import authorize, bearer
from tests.hub.gate.conftest import GATES, SHANGHAI, hub_config


class Feed:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.seq = 0

    def send(self, channel: wire.Channel, body: dict[str, Any]) -> None:
        self.seq += 1
        self.hub.pipeline.process([Inbound(wire.topic("s", "gate-1", channel), json.dumps(body).encode(), self.seq,
                                           1, time.time())])

    def event(self, sensor: str, kind: str, state: str, ts: float) -> None:
        self.send(wire.Channel.EVENT, {"device": "gate-1", "boot_id": "b", "seq": self.seq + 1, "ts": ts,
                                       "sensor": sensor, "kind": kind, "state": state})


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=hub_config()), connect_mqtt=False)
    Feed(running).send(wire.Channel.STATUS, {"state": "online", "boot_id": "b", "ts": time.time(), "sensors": GATES})
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def test_calendar_days_with_holiday_names(client: TestClient) -> None:
    days = client.get("/api/calendar/days", params={"from": "2026-10-01", "to": "2026-10-10"}).json()
    assert [(d["date"][-2:], d["day_type"]) for d in days][:2] == [("01", "holiday"), ("02", "holiday")]
    assert days[0]["name"] == "National Day" and days[0]["openings"]["main"] == []
    saturday = days[-1]
    assert saturday["weekday"] == 6 and saturday["day_type"] == "school_day"
    assert [o["start"][11:16] for o in saturday["openings"]["main"]] == ["06:30", "11:30", "16:30"]
    assert saturday["openings"]["dorm"][0]["end"].startswith("2026-10-11T06:30")


@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-10-10", "to": "2026-10-01"}, "to"),
    ({"from": "2026-01-01", "to": "2028-01-01"}, "to"),
    ({"to": "2026-10-01"}, "from"),
    ({"from": "2026-13-01", "to": "2026-10-01"}, "from"),
])
def test_bad_day_ranges_name_the_field(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get("/api/calendar/days", params=params)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])


def test_recurring_acknowledged_reasons_become_an_override(hub: Hub, client: TestClient) -> None:
    _, gatekeeper = bearer(hub, Role.GATEKEEPER, "门卫老张")
    _, officer = bearer(hub, Role.SAFETY_OFFICER, "安全员")
    feed = Feed(hub)
    today = dt.datetime.now(SHANGHAI).date()
    for back, minute in ((3, 40), (2, 45), (1, 52)):  # the milk van, three mornings running
        opened = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(5, minute), SHANGHAI).timestamp()
        feed.event("side-gate", "gate", "open", opened)
        feed.event("side-gate", "gate", "closed", opened + 120)
    alerts = [a for a in hub.state.alerts() if a.rule == AFTER_HOURS_RULE]
    assert len(alerts) == 3
    for alert in alerts:
        acked = client.post(f"/api/alerts/{alert.id}/acknowledge",
                            json={"text": "送奶车", "reason": "delivery"}, headers=gatekeeper)
        assert acked.status_code == 200, acked.text
        assert acked.json()["data"]["ack_reason"] == "delivery"
    assert client.post(f"/api/alerts/{alerts[0].id}/acknowledge", json={"reason": "y" * 65}
                       ).status_code == 422
    (suggestion,) = client.get("/api/calendar/suggestions").json()
    assert suggestion["gate"] == "gate-1/side-gate" and suggestion["reason"] == "delivery"
    assert sorted(suggestion["alert_ids"]) == sorted(a.id or 0 for a in alerts)
    override = suggestion["override"]
    assert override["windows"] == [{"start": "05:25", "end": "06:10"}] and override["groups"] == ["main"]
    assert client.post("/api/calendar/overrides", json=override, headers=gatekeeper).status_code == 403
    created = client.post("/api/calendar/overrides", json=override, headers=officer)
    assert created.status_code == 201, created.text
    assert client.get("/api/calendar/suggestions").json() == []
    (listed,) = client.get("/api/calendar/overrides").json()
    assert listed["id"] == created.json()["id"] and listed["created_by"] == "安全员"
    assert client.delete(f"/api/calendar/overrides/{listed['id']}", headers=gatekeeper).status_code == 403
    assert client.delete(f"/api/calendar/overrides/{listed['id']}", headers=officer).status_code == 204
    assert client.delete(f"/api/calendar/overrides/{listed['id']}", headers=officer).status_code == 404
    assert client.get("/api/calendar/overrides").json() == []


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "closed"}, "date"),
    ({"kind": "closed", "date": "2026-11-30", "groups": ["nowhere"]}, "groups"),
    ({"kind": "closed", "date": "2026-11-30", "who": "a"}, "who"),  # the actor is the signed-in user
    ({"kind": "shut", "date": "2026-11-30"}, "kind"),
])
def test_bad_overrides_are_4xx_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    response = client.post("/api/calendar/overrides", json=body)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])


def test_gates_sweeps_and_patrols(hub: Hub, client: TestClient) -> None:
    Feed(hub).event("main-gate", "gate", "closed", time.time() - 60)
    gates = {g["key"]: g for g in client.get("/api/gates").json()}
    assert set(gates) == {"gate-1/main-gate", "gate-1/side-gate", "gate-1/dorm-door"}
    main = gates["gate-1/main-gate"]
    assert main["state"] == "closed" and main["group"] == "main" and main["name"] == "校门"
    assert main["window_next"] is not None
    assert gates["gate-1/side-gate"]["state"] == "unknown"
    closing = dt.datetime.combine(dt.date(2026, 11, 17), dt.time(18, 30), SHANGHAI).timestamp()
    hub.gate.sweep("main", closing)
    (sweep,) = client.get("/api/gates/sweeps", params={"group": "main"}).json()
    assert sweep["closing_at"] == closing and set(sweep["states"]) == {"gate-1/main-gate", "gate-1/side-gate"}
    last = {g["key"]: g["last_sweep"] for g in client.get("/api/gates").json()}
    assert last["gate-1/main-gate"]["id"] == sweep["id"] and last["gate-1/dorm-door"] is None
    assert "group" in client.get("/api/gates/sweeps", params={"group": "nowhere"}).json()["detail"]
    body = client.get("/api/patrols", params={"date": "2026-11-17"}).json()
    assert body["date"] == "2026-11-17"
    (route,) = body["routes"]
    assert route["route"] == "campus" and route["required"] == 5 and route["done"] == 0
    assert client.get("/api/patrols", params={"date": "17/11"}).status_code == 422
    assert client.get("/api/patrols/visits", params={"since": 10, "until": 5}).status_code == 422


def test_the_default_group_is_confirmed_by_an_admin_only_and_health_says_when_defaults_are_unconfirmed(
        hub: Hub, client: TestClient) -> None:
    feed = Feed(hub)
    feed.send(wire.Channel.STATUS, {"state": "online", "boot_id": "b", "ts": time.time(), "sensors": [
        *GATES, {"sensor": "east-gate", "kind": "gate", "name": "东门"}]})
    found = client.get("/api/calendar/defaults").json()
    assert found["in_use"] and not found["confirmed"] and found["members"] == ["gate-1/east-gate"]
    assert [w["start"] for w in found["school_day"]] == ["06:30:00", "11:30:00", "16:30:00"]
    health = client.get("/api/health").json()
    assert health["gates"] == {"ok": True, "unwatched": 0, "defaults_unconfirmed": True}
    _, gatekeeper = bearer(hub, Role.GATEKEEPER, "门卫老张")
    refused = client.post("/api/calendar/defaults/confirm", json={}, headers=gatekeeper)
    assert refused.status_code == 403
    _, admin = bearer(hub, Role.ADMIN, "管理员")
    confirmed = client.post("/api/calendar/defaults/confirm", json={}, headers=admin).json()
    assert confirmed["confirmed"] and confirmed["confirmed_by"] == "管理员"
    assert client.get("/api/health").json()["gates"]["defaults_unconfirmed"] is False
    bad = client.post("/api/calendar/defaults/confirm", headers=admin,
                      json={"windows": {"school_day": [{"start": "25:00", "end": "08:00"}]}})
    assert bad.status_code == 422 and "school_day" in json.dumps(bad.json()["detail"])
    # The default group's windows are in the calendar's days, and the override form may name it.
    days = client.get("/api/calendar/days", params={"from": "2026-11-17", "to": "2026-11-17"}).json()
    assert [o["start"][11:16] for o in days[0]["openings"]["default"]] == ["06:30", "11:30", "16:30"]


def test_a_gate_no_rule_watches_is_a_problem_in_health(tmp_path: Path) -> None:
    config = hub_config()
    config.calendar.default_group.enabled = False
    running = Hub(HubSettings(home=tmp_path, rules=config), connect_mqtt=False)
    try:
        Feed(running).send(wire.Channel.STATUS, {"state": "online", "boot_id": "b", "ts": time.time(), "sensors": [
            *GATES, {"sensor": "east-gate", "kind": "gate"}]})
        with TestClient(create_app(running.settings, hub=running)) as anonymous:
            health = anonymous.get("/api/health").json()
        assert health["gates"] == {"ok": False, "unwatched": 1, "defaults_unconfirmed": False}
        assert health["status"] == "degraded"
        assert "1 gate(s) or door(s) watched by no after-hours rule" in health["problems"]
    finally:
        running.stop()


def _three_openings(hub: Hub) -> list[int]:
    """After-hours openings of the side gate at 05:40–05:52 on three mornings running; their alert ids."""
    feed = Feed(hub)
    today = dt.datetime.now(SHANGHAI).date()
    for back, minute in ((3, 40), (2, 45), (1, 52)):
        opened = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(5, minute), SHANGHAI).timestamp()
        feed.event("side-gate", "gate", "open", opened)
        feed.event("side-gate", "gate", "closed", opened + 120)
    return [a.id or 0 for a in hub.state.alerts() if a.rule == AFTER_HOURS_RULE]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reason"),
    ({"reason": "", "text": "送奶车"}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": "other"}, "text"),
    ({"reason": "other", "text": "  "}, "text"),
])
def test_a_gate_alarm_is_not_acknowledged_without_a_chosen_reason(hub: Hub, client: TestClient,
                                                                    body: dict[str, str], field: str) -> None:
    alert_id = _three_openings(hub)[0]
    _, gatekeeper = bearer(hub, Role.GATEKEEPER, "门卫老张")
    refused = client.post(f"/api/alerts/{alert_id}/acknowledge", json=body, headers=gatekeeper)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["field"] == field and ("请选择开门原因" in detail["message"] or "请写明原因" in detail["message"])
    found = hub.state.alert(alert_id)
    assert found is not None and found.acked_at is None
    # "Other" with words is a reason.
    taken = client.post(f"/api/alerts/{alert_id}/acknowledge", json={"reason": "other", "text": "消防检查"},
                        headers=gatekeeper)
    assert taken.status_code == 200 and taken.json()["data"]["ack_reason_chosen"] is True


def test_only_chosen_reasons_feed_the_suggestions(hub: Hub, client: TestClient) -> None:
    ids = _three_openings(hub)
    # Acknowledged before a reason had to be chosen (the list's first entry taken by one tap): kept, not counted.
    for alert_id in ids:
        hub.engine.act(alert_id, "acknowledge", "zhang", "", data={"ack_reason": "delivery"})
    assert client.get("/api/calendar/suggestions").json() == []
    more = _more_openings(hub)
    _, gatekeeper = bearer(hub, Role.GATEKEEPER, "门卫老张")
    for alert_id in more:
        assert client.post(f"/api/alerts/{alert_id}/acknowledge", json={"reason": "other", "text": "送奶车"},
                           headers=gatekeeper).status_code == 200
    assert client.get("/api/calendar/suggestions").json() == []  # "other" never becomes an opening


def _more_openings(hub: Hub) -> list[int]:
    feed = Feed(hub)
    today = dt.datetime.now(SHANGHAI).date()
    before = {a.id for a in hub.state.alerts()}
    for back in (6, 5, 4):
        opened = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(5, 45), SHANGHAI).timestamp()
        feed.event("side-gate", "gate", "open", opened)
        feed.event("side-gate", "gate", "closed", opened + 120)
    return [a.id or 0 for a in hub.state.alerts() if a.rule == AFTER_HOURS_RULE and a.id not in before]
