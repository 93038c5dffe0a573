"""The edge under fault injection, with a real broker, a real hub and the agent as a real process.

The oracle. Every message the agent writes gets the next ``seq`` of its boot and is
committed to the outbox before it is published. With simulated sources, all writes
happen on the sampler thread, so the committed seqs of a boot are always a prefix
1..M. After every SIGKILL the test snapshots the outbox on disk (what the edge wrote
and still owed the hub). Then, for every boot:

* M is the highest seq seen anywhere — in the hub's ``seen`` table or any snapshot;
* nothing lost: 1..M ⊆ (stored at the hub) ∪ (still in the final outbox), and every
  snapshotted row of an earlier boot reached the hub;
* nothing stored twice: the hub's ``seen`` rows are unique by construction, so the
  series is checked instead — one reading row per sensor per stored telemetry message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from edge.agent import Agent
from edge.clock import SystemClock
from edge.config import EdgeSettings
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from tests.conftest import SITE, wait_for
from tests.edge.conftest import Observer, hub_seen, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

ROOT = Path(__file__).resolve().parents[2]
SENSORS = ("fridge-1", "freezer-1", "sample-fridge")


def node_config(tmp_path: Path, broker: MosquittoBroker, account: Account) -> dict[str, object]:
    return {
        "site": SITE, "device": account.username,
        "broker": {"host": broker.host, "port": broker.port, "username": account.username,
                   "password": account.password},
        "state_dir": str(tmp_path / "edge-state"), "clock_sync_check": "assume", "heartbeat_s": 1,
        "outbox": {"window": 50},
        "sources": [
            *({"kind": "simulated_temperature", "sensor": s, "interval_s": 0.05, "noise": 0.5} for s in SENSORS),
            {"kind": "simulated_door", "sensor": "back-door", "interval_s": 0.05, "repeat_every_s": 0.6,
             "schedule": [{"at_s": 0.1, "state": "open"}, {"at_s": 0.4, "state": "closed"}]},
        ],
    }


def outbox_rows(state_dir: Path) -> set[tuple[str, int]]:
    path = state_dir / "outbox.sqlite3"
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {(b, s) for b, s in db.execute("SELECT boot_id, seq FROM outbox")}
    finally:
        db.close()


def total_seen(hub: Hub) -> int:
    return sum(len(seqs) for seqs in hub_seen(hub).values())


@pytest.fixture
def hub_and_broker(tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account]
                   ) -> Iterator[tuple[Hub, MosquittoBroker]]:
    own_broker.start()
    hub = start_hub(tmp_path, own_broker, accounts)
    yield hub, own_broker
    hub.stop()


def start_agent(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "edge", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(
        tmp_path: Path, hub_and_broker: tuple[Hub, MosquittoBroker], accounts: dict[str, Account]) -> None:
    hub, broker = hub_and_broker
    settings = node_config(tmp_path, broker, accounts["dev-a"])
    config = tmp_path / "edge.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    state_dir = Path(str(settings["state_dir"]))
    snapshots: list[set[tuple[str, int]]] = []
    kills = 4
    for run in range(kills + 1):
        before = total_seen(hub)
        agent = start_agent(config)
        try:
            # Mid-stream: the hub is receiving, the outbox is writing and deleting.
            wait_for(lambda before=before: total_seen(hub) >= before + 40, timeout=60)  # type: ignore[misc]
            time.sleep(0.05 * run)
        finally:
            if run < kills:
                os.kill(agent.pid, signal.SIGKILL)
            else:
                agent.send_signal(signal.SIGTERM)
            agent.wait(30)
            if agent.stderr:
                agent.stderr.close()
        snapshots.append(outbox_rows(state_dir))
    final_outbox = snapshots[-1]

    time.sleep(1.0)  # let the hub commit what the broker still queues for it
    wait_for(lambda: hub.mqtt is not None and hub.mqtt._queue.empty(), timeout=30)
    seen = hub_seen(hub)
    boots = set(seen) | {b for snap in snapshots for b, _ in snap}
    assert len(boots) == kills + 1
    for boot in boots:
        highest = max(seen.get(boot, set()) | {s for snap in snapshots for b, s in snap if b == boot})
        pending = {s for b, s in final_outbox if b == boot}
        missing = set(range(1, highest + 1)) - seen.get(boot, set()) - pending
        assert not missing, f"boot {boot}: seqs lost {sorted(missing)[:20]}"
    for snapshot in snapshots[:-1]:
        owed = {(b, s) for b, s in snapshot if (b, s) not in final_outbox}
        assert all(s in seen.get(b, set()) for b, s in owed), "a row in a killed agent's outbox never arrived"
    assert {b for b, _ in final_outbox} <= {b for b, _ in snapshots[-1]}

    # Nothing stored twice: one reading row per sensor per stored telemetry message.
    events = hub.series.events(0, 1e12, limit=1_000_000)
    event_ids = {(e.boot_id, e.seq) for e in events}
    assert len(event_ids) == len(events)
    telemetry = sum(len(seqs) for seqs in seen.values()) - len(event_ids)
    for sensor in SENSORS:
        stored = hub.series.readings(f"dev-a/{sensor}", 0, 1e12, limit=1_000_000)
        assert len(stored) == telemetry, f"{sensor}: {len(stored)} rows for {telemetry} telemetry messages"
    assert len(events) > 0 and telemetry > 100


@pytest.fixture
def observer(own_broker: MosquittoBroker, accounts: dict[str, Account], tmp_path: Path) -> Iterator[Observer]:
    own_broker.start()
    watcher = Observer(own_broker, accounts["hub"].password, f"observer-{tmp_path.name}")
    yield watcher
    watcher.close()


def run_in_thread(agent: Agent) -> threading.Thread:
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    return thread


def test_broker_down_and_back_every_reading_arrives_in_order(
        tmp_path: Path, own_broker: MosquittoBroker, observer: Observer, accounts: dict[str, Account]) -> None:
    hub = start_hub(tmp_path, own_broker, accounts)
    settings = EdgeSettings.model_validate(node_config(tmp_path, own_broker, accounts["dev-b"]))
    agent = Agent(settings, SystemClock("assume"))
    thread = run_in_thread(agent)
    try:
        wait_for(lambda: total_seen(hub) >= 30, timeout=30)
        own_broker.stop()
        time.sleep(3)  # the kitchen keeps cooling and the outbox keeps filling
        assert agent.outbox.depth() > 20
        own_broker.start()
        wait_for(lambda: agent.outbox.depth() < 10 and total_seen(hub) > 150, timeout=60)
    finally:
        agent.stop()
        thread.join(15)
    written = agent._seq
    left = outbox_rows(Path(str(settings.state_dir)))
    wait_for(lambda: len(hub_seen(hub).get(agent.boot_id, set())) + len(left) >= written, timeout=30)
    stored = hub_seen(hub)[agent.boot_id]
    assert stored | {s for _, s in left} == set(range(1, written + 1))

    first_arrival: list[int] = []
    for message in observer.arrivals():
        if message["boot_id"] == agent.boot_id and message["seq"] not in first_arrival:
            first_arrival.append(message["seq"])
    assert first_arrival == sorted(first_arrival), "messages of one boot arrived out of order"
    assert len(first_arrival) == len(stored)
    hub.stop()


class SteppingClock:
    """A Pi without an RTC: the wall clock is years wrong until "NTP" syncs it mid-run."""

    def __init__(self) -> None:
        self.is_synced = False

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time() if self.is_synced else 86_400.0 + time.monotonic()  # 2 January 1970

    def synced(self) -> bool:
        return self.is_synced


def test_readings_taken_before_clock_sync_arrive_reanchored(
        tmp_path: Path, own_broker: MosquittoBroker, observer: Observer, accounts: dict[str, Account]) -> None:
    hub = start_hub(tmp_path, own_broker, accounts)  # its session exists before the outage
    own_broker.stop()  # no network at boot, like a Pi in a kitchen
    clock = SteppingClock()
    settings = EdgeSettings.model_validate(node_config(tmp_path, own_broker, accounts["dev-c"]))
    agent = Agent(settings, clock)
    thread = run_in_thread(agent)
    try:
        wait_for(lambda: agent.outbox.depth() >= 10, timeout=30)
        clock.is_synced = True
        synced_at = time.time()
        own_broker.start()
        wait_for(lambda: any(m.get("readings") and m["readings"][0].get("reanchored")
                             for m in observer.arrivals()), timeout=60)
        wait_for(lambda: agent.outbox.depth() == 0, timeout=60)
    finally:
        agent.stop()
        thread.join(15)
    early = [r for m in observer.arrivals() if m["boot_id"] == agent.boot_id for r in m.get("readings", [])
             if r["reanchored"]]
    assert len(early) >= 10
    for reading in early:
        # taken during the outage, before sync: corrected onto the real timeline, just before sync
        assert synced_at - 120 < reading["ts"] <= synced_at + 0.5
        assert reading["clock_synced"] is True
    wait_for(lambda: len(hub.series.readings("dev-c/fridge-1", 0, 1e12, limit=100_000)) >= len(early) // 3,
             timeout=30)
    stored = hub.series.readings("dev-c/fridge-1", 0, 1e12, limit=100_000)
    assert all(r.ts > 1_600_000_000 for r in stored), "a 1970 timestamp reached the hub"
    with contextlib.suppress(Exception):
        hub.stop()
