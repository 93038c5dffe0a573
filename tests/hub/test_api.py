from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    status = {"state": "online", "boot_id": "b", "ts": 1.0, "version": "9",
              "sensors": [{"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge",
                           "name": "冷藏冰箱"}]}
    telemetry = {"device": "dev-a", "boot_id": "b", "seq": 1, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": 9.0, "unit": "°C", "ts": 1000.0}]}
    running.pipeline.process([
        Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
        Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(telemetry).encode(), 2, 1, 0.0),
        Inbound("xiaoan/v1/s/dev-a/nonsense", b"{}", 3, 1, 0.0),
    ])
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def test_health_reports_pipeline_counters(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["pipeline"]["stored_readings"] == 1
    assert body["dead_letters_total"] == 1


def test_devices_and_sensors(client: TestClient) -> None:
    (device,) = client.get("/api/devices").json()
    assert device["device"] == "dev-a" and device["state"] == "online" and device["version"] == "9"
    (sensor,) = client.get("/api/sensors").json()
    assert sensor["key"] == "dev-a/fridge-1"
    assert sensor["last_value"] == 9.0
    assert sensor["limits"]["high"] == 8.0


def test_readings_range(client: TestClient) -> None:
    body = client.get("/api/readings", params={"sensor": "dev-a/fridge-1", "since": 0, "until": 2000}).json()
    assert [r["value"] for r in body["readings"]] == [9.0]
    empty = client.get("/api/readings", params={"sensor": "dev-a/fridge-1", "since": 1001, "until": 2000})
    assert empty.json()["readings"] == []


@pytest.mark.parametrize("params", [
    {},  # sensor is required
    {"sensor": "no-slash"},
    {"sensor": "a/b", "since": 10, "until": 5},
    {"sensor": "a/b", "limit": 0},
    {"sensor": "a/b", "since": "yesterday"},
])
def test_bad_readings_requests_get_4xx(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/api/readings", params=params).status_code == 422


def test_alerts_filter_by_state(client: TestClient) -> None:
    assert [a["state"] for a in client.get("/api/alerts", params={"state": "active"}).json()] == ["firing"]
    assert client.get("/api/alerts", params={"state": "resolved"}).json() == []
    assert client.get("/api/alerts", params={"state": "bogus"}).status_code == 422


def test_dead_letters_listed_with_reason(client: TestClient) -> None:
    body = client.get("/api/deadletters").json()
    assert body["count"] == 1
    assert "unknown channel" in body["items"][0]["reason"]


def test_start_page_leads_to_the_view_listing_sensor_and_alarm(client: TestClient) -> None:
    start = client.get("/", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"] == "/admin"  # the client acts as an admin
    page = client.get("/canteen")
    assert page.status_code == 200
    assert "冷藏冰箱" in page.text and "报警中" in page.text


def test_openapi_is_served(client: TestClient) -> None:
    assert "/api/readings" in client.get("/openapi.json").json()["paths"]
