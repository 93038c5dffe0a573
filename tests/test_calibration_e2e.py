"""A probe checked from the admin page, end to end: a real broker, a real hub, a real edge agent on a 1-wire tree.

The installer holds a reference thermometer beside the fridge probe, reads the average
the hub proposes over the window, confirms; the hub records the check (and the audit
entry), sends the new offset over the device's command topic, the node applies it to
its next readings and keeps it across a restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge.agent import Agent
from edge.clock import SystemClock
from hub.app import create_app
from hub.auth.roles import Role
from hub.broker import Account, MosquittoBroker
from hub.calibration.config import CalibrationConfig
from hub.runtime import Hub
from hub.settings import HubConfig
from hub.store.base import StoredReading
from tests.conftest import edge_settings, wait_for
from tests.edge.conftest import W1_OK, write_probe
from tests.hub.auth_helpers import authorize

pytestmark = pytest.mark.broker

PROBE = "28-0316a2791dff"
RAW = 4.125  # what the probe's w1_slave says
REFERENCE = 3.8  # what the reference thermometer says


@pytest.fixture
def run_agent(tmp_path: Path, broker: MosquittoBroker) -> Iterator[Callable[[Account], tuple[Agent, threading.Thread]]]:
    running: list[tuple[Agent, threading.Thread]] = []
    write_probe(tmp_path / "w1", PROBE, W1_OK.format(milli=int(RAW * 1000)))

    def start(account: Account) -> tuple[Agent, threading.Thread]:
        settings = edge_settings(tmp_path, broker, account, [
            {"kind": "ds18b20", "w1_base": str(tmp_path / "w1"), "interval_s": 0.2,
             "probes": [{"id": PROBE, "sensor": "fridge-1", "profile": "fridge", "name": "1号冷藏柜"}]}])
        agent = Agent(settings, SystemClock("assume"))
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        running.append((agent, thread))
        return agent, thread

    yield start
    for agent, thread in running:
        agent.stop()
        thread.join(timeout=10)


def _readings_since(hub: Hub, key: str, since: float) -> list[StoredReading]:
    return [r for r in hub.series.readings(key, since, time.time() + 60) if r.value is not None]


def test_a_probe_checked_from_the_admin_page_gets_its_offset_on_the_node_and_keeps_it(
        make_hub: Callable[..., Hub], run_agent: Callable[[Account], tuple[Agent, threading.Thread]],
        accounts: dict[str, Account]) -> None:
    hub = make_hub(HubConfig(calibration=CalibrationConfig(window_s=1.0)))
    device = accounts["dev-c"]
    key = f"{device.username}/fridge-1"
    agent, thread = run_agent(device)
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as client:
        installer = authorize(client, hub, Role.ADMIN)
        base = f"/api/calibration/{device.username}/fridge-1"

        def probe_listed() -> bool:
            found = [p for p in client.get("/api/calibration").json() if p["device"] == device.username]
            return bool(found) and found[0]["hardware_id"] == PROBE and found[0]["offset_source"] == "config"

        wait_for(probe_listed)

        def window_full() -> bool:
            return bool(client.get(f"{base}/live").json()["complete"])

        wait_for(window_full)
        proposal = client.get(f"{base}/proposal", params={"reference": REFERENCE})
        assert proposal.status_code == 200, proposal.text
        proposed = proposal.json()
        assert proposed["point"]["probe"] == pytest.approx(RAW)
        assert proposed["offset"] == pytest.approx(REFERENCE - RAW)  # the difference
        assert proposed["passed"] and proposed["sendable"]

        confirmed = client.post(f"{base}/checks", json={
            "method": "reference", "certificate_no": "JL-2026-0815",
            "points": [proposed["point"]], "note": "冷藏柜中层，放置 10 分钟"})
        assert confirmed.status_code == 201, confirmed.text
        recorded = confirmed.json()
        assert recorded["sent"] and recorded["check"]["checked_by"] == installer.username
        applied_at = time.time()

        # The node applies it at once: its next readings carry the new offset …
        def shifted() -> bool:
            values = [r.value for r in _readings_since(hub, key, applied_at + 0.5)]
            return bool(values) and all(v == pytest.approx(REFERENCE) for v in values)

        wait_for(shifted)
        # … says so in its status, which the hub keeps as the offset in force from then on.
        def reported() -> bool:
            probe = client.get(base).json()["probe"]
            return bool(probe["offset_source"] == "hub" and probe["offset"] == pytest.approx(REFERENCE - RAW))

        wait_for(reported)
        history = client.get(base).json()
        assert [o["source"] for o in history["offsets"]] == ["config", "hub"]
        assert history["offsets"][1]["calibration_id"] == recorded["check"]["id"]
        assert history["probe"]["standing"] == "ok"
        audit = [e for e in hub.state.audit_entries() if e.action == "calibration.check"]
        assert len(audit) == 1 and audit[0].actor == installer.username and audit[0].subject == key
        assert json.loads(audit[0].detail)["offset_sent"] is True

        # A restart of the node (its YAML still says no offset) keeps the offset from its own state.
        agent.stop()
        thread.join(timeout=10)
        restarted_at = time.time()
        run_agent(device)

        def still_shifted() -> bool:
            values = [r.value for r in _readings_since(hub, key, restarted_at + 0.5)]
            return len(values) >= 3 and all(v == pytest.approx(REFERENCE) for v in values)

        wait_for(still_shifted)
        assert client.get(base).json()["probe"]["offset_source"] == "hub"
