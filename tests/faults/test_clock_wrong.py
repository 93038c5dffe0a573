"""A Pi booting with its clock years wrong and no network, then synchronised.

Readings taken before the sync are flagged and re-anchored onto the real timeline
when they are published (edge.clock); none reaches the hub with a 1970 timestamp,
and the oracle finds every message stored once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.config import EdgeSettings
from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import Observer, final_report, hub_settings, node_config, record_figures, report, start_hub
from tests.faults.oracle import read_edge

pytestmark = [pytest.mark.slow, pytest.mark.broker]

WRONG_BY_S = time.time() - 86_400.0  # the clock says 2 January 1970


class SteppingClock:
    """A Pi without an RTC: the wall clock is years wrong until "NTP" syncs it mid-run."""

    def __init__(self) -> None:
        self.is_synced = False

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time() if self.is_synced else 86_400.0 + time.monotonic()

    def synced(self) -> bool:
        return self.is_synced


def test_clock_years_wrong_then_synced_readings_reanchored(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-clock"))  # its session exists
    observer = Observer(own_broker, accounts["hub"].password, "observer-clock")
    own_broker.stop()  # no network at boot, like a Pi in a kitchen
    clock = SteppingClock()
    settings = EdgeSettings.model_validate(node_config(tmp_path / "edge-dev-c", own_broker, accounts["dev-c"]))
    agent = Agent(settings, clock)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: agent.outbox.depth() >= 20, timeout=30)
        clock.is_synced = True
        synced_at = time.time()
        own_broker.start()
        wait_for(lambda: agent.outbox.depth() == 0, timeout=60)
    finally:
        agent.stop()
        thread.join(15)
    try:
        ledger = read_edge("dev-c", settings.state_dir / "outbox.sqlite3")
        final = final_report(lambda: report([ledger], hub), hub)
        stored = hub.series.readings("dev-c/fridge-1", 0, 1e13, limit=100_000)
        arrivals = observer.arrivals()
    finally:
        observer.close()
        hub.stop()
    early = [r for m in arrivals if m["boot_id"] == agent.boot_id for r in m.get("readings", []) if r["reanchored"]]
    record_figures("clock_wrong", {"fault": "clock years wrong at boot, then synced", "rounds": 1,
                                   "clock_wrong_by_days": round(WRONG_BY_S / 86_400), "reanchored": len(early),
                                   **final.figures()})
    final.assert_clean()
    assert len(early) >= 10
    for reading in early:
        # taken during the outage, before sync: corrected onto the real timeline, just before sync
        assert synced_at - 120 < reading["ts"] <= synced_at + 0.5
        assert reading["clock_synced"] is True
    assert stored and all(r.ts > 1_600_000_000 for r in stored), "a 1970 timestamp reached the hub"
