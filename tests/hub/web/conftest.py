"""A hub with no broker, fed through its own ingest pipeline: a fridge, a freezer, a door, an alarm."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.users import User
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize

SENSORS: list[dict[str, object]] = [
    {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "1号冷藏柜"},
    {"sensor": "freezer-1", "kind": "temperature", "profile": "freezer"},
    {"sensor": "door-1", "kind": "door"}]


class Feed:
    """Publishes like an edge device would, straight into the hub's pipeline."""

    def __init__(self, hub: Hub, device: str = "dev-a") -> None:
        self.hub = hub
        self.device = device
        self.seq = 0

    def _inbound(self, channel: wire.Channel, body: dict[str, object]) -> Inbound:
        self.seq += 1
        return Inbound(wire.topic("s", self.device, channel), json.dumps(body).encode(), self.seq, 1, 0.0)

    def status(self, sensors: list[dict[str, object]]) -> None:
        body = {"state": "online", "boot_id": "b", "ts": time.time(), "version": "1.2.3", "sensors": sensors}
        self.hub.pipeline.process([self._inbound(wire.Channel.STATUS, body)])

    def reading(self, sensor: str, value: float, ts: float | None = None) -> None:
        body = {"device": self.device, "boot_id": "b", "seq": self.seq + 1, "readings": [
            {"sensor": sensor, "kind": "temperature", "value": value, "unit": "°C", "ts": ts or time.time()}]}
        self.hub.pipeline.process([self._inbound(wire.Channel.TELEMETRY, body)])


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
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


@pytest.fixture
def as_role(client: TestClient, hub: Hub) -> Callable[[Role], User]:
    """Act as a new user of a role (API token on the client, Accept: text/html for pages)."""

    def act(role: Role) -> User:
        return authorize(client, hub, role)

    return act
