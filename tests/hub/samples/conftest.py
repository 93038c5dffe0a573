"""Sample fixtures: a hub without MQTT whose sample monitor runs on a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import wire
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.samples.config import SamplesConfig
from hub.settings import HubConfig, HubSettings
from tests.clock import Clock, local
from tests.edge.conftest import pins, pty_port  # noqa: F401 - the edge's hardware fixtures, for the station

CABINET = "kitchen/sample-fridge"


@pytest.fixture
def clock() -> Clock:
    return Clock(local("2026-10-08 06:00"))


@pytest.fixture
def make_sample_hub(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Hub]]:
    """A hub (no MQTT) whose ``samples`` monitor runs on ``clock``; samples config overridable."""
    hubs: list[Hub] = []

    def build(**samples: object) -> Hub:
        config = HubConfig(alarm_delay_s=0, samples=SamplesConfig.model_validate({"cabinet": CABINET, **samples}))
        hub = Hub(HubSettings(home=tmp_path / f"home-{len(hubs)}", rules=config), connect_mqtt=False)
        # The monitor's clock seam: what SampleMonitor(clock=...) takes, set on the one the hub wired up.
        hub.samples.clock = clock
        hub.samples.watch_since = clock()
        hubs.append(hub)
        return hub

    yield build
    for hub in hubs:
        hub.stop()


def announce_cabinet(hub: Hub, device: str = "kitchen", sensor: str = "sample-fridge") -> None:
    """The cabinet's probe, announced as a sample fridge (0–8 °C limits) through the real pipeline."""
    status = {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [
        {"sensor": sensor, "kind": "temperature", "unit": "°C", "profile": "sample_fridge", "name": "留样冰箱"}]}
    hub.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(status).encode(),
                                  1, 1, 0.0)])


def feed(hub: Hub, readings: list[tuple[float, float]], seq: int, device: str = "kitchen",
         sensor: str = "sample-fridge") -> None:
    """Cabinet readings through the real ingest pipeline (stored, and run through the alert rules)."""
    telemetry = {"device": device, "boot_id": "b", "seq": seq, "readings": [
        {"sensor": sensor, "kind": "temperature", "value": value, "unit": "°C", "ts": ts} for ts, value in readings]}
    hub.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.TELEMETRY), json.dumps(telemetry).encode(),
                                  seq, 1, 0.0)])
