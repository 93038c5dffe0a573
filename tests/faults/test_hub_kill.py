"""The hub SIGKILLed in the middle of its commits, again and again, while three edges keep publishing.

The hub acknowledges a message to the broker only after its batch is committed
(paho's manual acknowledgement), so whatever a killed hub had received and not
committed is redelivered from its persistent session — and stored once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, HubProcess, hub_settings, record_figures, report, settle

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DEVICES = ("dev-a", "dev-b", "dev-c")
ROUNDS = 5


def test_hub_sigkilled_mid_commit_stores_everything_once(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    settings = hub_settings(tmp_path / "hub", own_broker, accounts, "hub-killed")
    hub = HubProcess(settings)
    hub.start()  # its session exists before the first reading is published
    nodes = [edges(own_broker, device) for device in DEVICES]
    downtime: list[float] = []
    drains: list[float] = []
    jitter = random.Random(10)
    try:
        for node in nodes:
            node.start()
        for _ in range(ROUNDS):
            before = hub.stored()
            wait_for(lambda before=before: hub.stored() >= before + 60, timeout=60)  # type: ignore[misc]
            time.sleep(jitter.uniform(0, 0.2))  # land anywhere in the commit cycle
            hub.kill()
            killed = time.monotonic()
            hub.start()
            restarted = time.monotonic()
            downtime.append(restarted - killed)
            produced = sum(node.ledger().produced for node in nodes)
            wait_for(lambda produced=produced: hub.stored() >= produced, timeout=90)  # type: ignore[misc]
            drains.append(time.monotonic() - restarted)
    finally:
        for node in nodes:
            node.stop()
    try:
        settle(lambda: report([n.ledger() for n in nodes], settings))
    finally:
        hub.stop()
    final = report([n.ledger() for n in nodes], settings)
    record_figures("hub_sigkill", {"fault": "hub SIGKILL mid-commit, under load", "rounds": ROUNDS,
                                   "edges": len(nodes), "longest_outage_s": round(max(downtime), 2),
                                   "drain_s_max": round(max(drains), 2), **final.figures()})
    final.assert_clean()
    assert final.total("produced") > 300
