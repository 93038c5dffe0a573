"""A hub without a broker whose checks run on a clock the test moves; readings go through the real pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import wire
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.clock import Clock, local

#: A Monday in term.
MONDAY = "2026-10-12"


@pytest.fixture
def clock() -> Clock:
    return Clock(local(f"{MONDAY} 07:00"))


@pytest.fixture
def make_hub(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []

    def build(**checks: object) -> Hub:
        config = HubConfig.model_validate({"alarm_delay_s": 0, "checks": checks})
        hub = Hub(HubSettings(home=tmp_path / f"home-{len(hubs)}", rules=config), connect_mqtt=False)
        hub.checks.clock = clock
        hub.checks.watch_since = clock() - 86400 * 40
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        hub.stop()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


def announce(hub: Hub, device: str = "kitchen") -> None:
    """A fridge and a freezer, announced through the real pipeline."""
    status = {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [
        {"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge", "name": "1号冷藏柜"},
        {"sensor": "freezer-1", "kind": "temperature", "unit": "°C", "profile": "freezer", "name": "1号冷冻柜"}]}
    hub.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(status).encode(),
                                  1, 1, 0.0)])


def feed(hub: Hub, sensor: str, readings: list[tuple[float, float]], seq: int, device: str = "kitchen") -> None:
    telemetry = {"device": device, "boot_id": "b", "seq": seq, "readings": [
        {"sensor": sensor, "kind": "temperature", "value": value, "unit": "°C", "ts": ts} for ts, value in readings]}
    hub.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.TELEMETRY), json.dumps(telemetry).encode(),
                                  seq, 1, 0.0)])
