"""A hub with no broker, fed like an edge would feed it: a fridge probe on a 1-wire id, a door."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.calibration.config import CalibrationConfig
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.web.conftest import Feed

PROBE = "28-0316a2791dff"
SENSORS: list[dict[str, object]] = [
    {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "1号冷藏柜", "offset": 0.0,
     "offset_source": "config", "hardware_id": PROBE},
    {"sensor": "door-1", "kind": "door"}]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    rules = HubConfig(alarm_delay_s=0, calibration=CalibrationConfig(window_s=30))
    running = Hub(HubSettings(home=tmp_path, rules=rules), connect_mqtt=False)
    yield running
    running.stop()


@pytest.fixture
def feed(hub: Hub) -> Feed:
    found = Feed(hub)
    found.status(SENSORS)
    return found


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client
