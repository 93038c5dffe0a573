"""Dead letters kept and dropped are visible to a watchdog: ``/metrics`` and ``/api/health``.

A device flooding the hub with junk is capped at ``dead_letters_per_device`` kept
letters; the rest are dropped and counted in the state store (``dead_letter_drops``).
Both numbers must reach Prometheus and the health report, per device for a signed-in
viewer and as totals for the open report (which names no device). Real pipeline, real
stores, the app served by Starlette's test client.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import bearer

SITE = "s1"
CAP = 5


def inbound(device: str, payload: bytes, at: float = 0.0) -> Inbound:
    return Inbound(wire.topic(SITE, device, wire.Channel.TELEMETRY), payload, 1, 1, at)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60), dead_letters_per_device=CAP),
                  connect_mqtt=False)
    now = running.pipeline.clock()
    days = running.settings.dead_letter_retention_days
    # dev-x: 12 malformed messages, 7 over the cap; dev-y: 2 old ones pruned by age, then 1 new one.
    running.pipeline.process([inbound("dev-x", b"{junk", at=now) for _ in range(12)])
    running.pipeline.process([inbound("dev-y", b"{old", at=now - (days + 1) * 86_400) for _ in range(2)])
    running._prune_dead_letters(now)
    running.pipeline.process([inbound("dev-y", json.dumps({"device": "dev-y"}).encode(), at=now)])
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value for every sample line of a Prometheus text exposition."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([a-z_]+(?:\{[^}]*\})?) (\S+)", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_metrics_count_dead_letters_kept_and_dropped_in_total_and_per_device(hub: Hub, client: TestClient) -> None:
    assert hub.state.dead_letters_kept() == {"dev-x": CAP, "dev-y": 1}
    assert hub.state.dead_letters_dropped() == {"dev-x": 12 - CAP, "dev-y": 2}
    _, headers = bearer(hub)
    text = client.get("/metrics", headers=headers).text
    found = samples(text)
    assert found["xiaoan_dead_letters_kept"] == CAP + 1
    assert found["xiaoan_dead_letters_dropped_total"] == 12 - CAP + 2
    assert found['xiaoan_device_dead_letters_kept{device="dev-x"}'] == CAP
    assert found['xiaoan_device_dead_letters_dropped_total{device="dev-x"}'] == 12 - CAP
    assert found['xiaoan_device_dead_letters_kept{device="dev-y"}'] == 1
    assert found['xiaoan_device_dead_letters_dropped_total{device="dev-y"}'] == 2
    assert "# TYPE xiaoan_dead_letters_dropped_total counter" in text
    assert "# TYPE xiaoan_device_dead_letters_kept gauge" in text
    # The counter of this process's own dead-lettering is still there, beside the stored figures.
    assert found["xiaoan_dead_letters_total"] == 12 + 2 + 1


def test_health_gives_totals_to_anyone_and_devices_to_a_signed_in_viewer(hub: Hub, client: TestClient) -> None:
    anonymous = client.get("/api/health").json()
    assert anonymous["dead_letters"] == {"kept": CAP + 1, "dropped": 12 - CAP + 2, "devices": None}
    assert anonymous["dead_letters_total"] == CAP + 1
    assert "dev-x" not in json.dumps(anonymous)
    # A wrong token is no error on the open route: the stranger's answer.
    assert client.get("/api/health", headers={"Authorization": "Bearer xa_nothing"}).json()["dead_letters"][
        "devices"] is None
    _, headers = bearer(hub)
    signed_in = client.get("/api/health", headers=headers).json()
    assert signed_in["dead_letters"]["devices"] == [
        {"device": "dev-x", "kept": CAP, "dropped": 12 - CAP},
        {"device": "dev-y", "kept": 1, "dropped": 2},
    ]


def test_a_hub_without_dead_letters_says_zero() -> None:
    from hub.api.metrics import dead_letter_metrics  # noqa: PLC0415

    found = samples(dead_letter_metrics({}, {}))
    assert found == {"xiaoan_dead_letters_kept": 0, "xiaoan_dead_letters_dropped_total": 0}
    quoted = dead_letter_metrics({'a"b\\c': 1}, {})
    assert 'xiaoan_device_dead_letters_kept{device="a\\"b\\\\c"} 1' in quoted
