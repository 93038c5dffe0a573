"""The edge agent SIGKILLed again and again (a power cut): its outbox stays intact and nothing is lost.

Every message is committed to the outbox before it is published and deleted only on
the broker's PUBACK, with the ``(boot_id, seq)`` it was written with: whatever a
killed agent still owed is sent by the next boot, and the hub stores it once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, final_report, hub_settings, hub_stored, record_figures, report, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

KILLS = 6


def test_edge_sigkilled_repeatedly_outbox_intact_nothing_lost(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-edge-kill"))
    node = edges(own_broker, "dev-a")
    checks: list[str] = []
    pending_at_kill: list[int] = []
    jitter = random.Random(7)
    try:
        for _ in range(KILLS):
            before = hub_stored(hub)
            node.start()
            # Mid-stream: the hub is receiving, the outbox is writing and deleting.
            wait_for(lambda before=before: hub_stored(hub) >= before + 40, timeout=60)  # type: ignore[misc]
            time.sleep(jitter.uniform(0, 0.1))
            node.kill()
            checks.append(node.integrity())
            pending_at_kill.append(len(node.ledger().pending))
        owed = node.ledger().pending
        before = hub_stored(hub)
        node.start()  # the last boot sends what the others still owed, then its own
        wait_for(lambda: not owed & node.ledger().pending and hub_stored(hub) >= before + len(owed) + 40,
                 timeout=60)
        node.stop()
        final = final_report(lambda: report([node.ledger()], hub), hub)
    finally:
        hub.stop()
    record_figures("edge_sigkill", {"fault": "edge agent SIGKILL (power cut)", "rounds": KILLS,
                                    "integrity_check": sorted(set(checks)),
                                    "owed_at_kill_max": max(pending_at_kill), **final.figures()})
    assert checks == ["ok"] * KILLS
    final.assert_clean()
    assert final.tallies[0].boots == KILLS + 1
    assert final.total("produced") > 200
