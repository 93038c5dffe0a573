"""The network gone for over a minute while two kitchens keep measuring: the backlog drains, in order.

The broker is stopped (every connection refused, as with a cable pulled at the
switch) while the edge agents keep reading into their outboxes; the hub's session
survives in the broker's persistence. When it is back, the oracle must find every
message stored once, and an observer checks that each boot's messages arrived in
the order they were written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import (
    EdgeProcess,
    Observer,
    final_report,
    hub_settings,
    hub_stored,
    record_figures,
    report,
    start_hub,
)

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DEVICES = ("dev-b", "dev-c")
OUTAGE_S = 60.0


def test_long_network_cut_backlog_drains_in_order(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-network-cut"))
    observer = Observer(own_broker, accounts["hub"].password, "observer-network-cut")
    nodes = [edges(own_broker, device, interval_s=0.1) for device in DEVICES]
    try:
        for node in nodes:
            node.start()
        wait_for(lambda: hub_stored(hub) >= 40, timeout=60)
        own_broker.stop()
        cut = time.monotonic()
        time.sleep(OUTAGE_S)  # the length of the cut: the kitchens keep cooling, the outboxes keep filling
        backlog = sum(len(node.ledger().pending) for node in nodes)
        produced = sum(node.ledger().produced for node in nodes)
        own_broker.start()
        restored = time.monotonic()
        wait_for(lambda: hub_stored(hub) >= produced, timeout=120)
        drained = time.monotonic() - restored
        for node in nodes:
            node.stop()
        final = final_report(lambda: report([n.ledger() for n in nodes], hub), hub)
        arrivals = observer.arrivals()
    finally:
        observer.close()
        hub.stop()
    record_figures("network_cut", {"fault": "network cut (broker unreachable)", "rounds": 1,
                                   "edges": len(nodes), "longest_outage_s": round(restored - cut, 1),
                                   "backlog_at_restore": backlog, "drain_s": round(drained, 1),
                                   **final.figures()})
    final.assert_clean()
    assert backlog >= 0.8 * OUTAGE_S / 0.1 * len(nodes) * 0.5  # the outboxes really filled meanwhile
    for device in DEVICES:
        first: dict[str, list[int]] = {}
        for message in arrivals:
            if message["device"] == device and message["seq"] not in first.setdefault(message["boot_id"], []):
                first[message["boot_id"]].append(message["seq"])
        for boot, seqs in first.items():
            assert seqs == sorted(seqs), f"{device} boot {boot}: messages arrived out of order"
