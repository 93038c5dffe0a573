"""The broker restarted again and again while three edge agents keep publishing: stopped, and SIGKILLed.

The hub acknowledges to the broker only after its commit, and then confirms to each
edge which messages it stored (``stored`` on the device's ``cmd`` topic); the edge
keeps every row until then. Across every restart the oracle must find each message
the edges wrote stored exactly once.

A SIGKILL is what the confirmation is for. Mosquitto sends PUBACK as soon as it has a
message in memory and writes its persistence file only every ``autosave_interval``:
what it acknowledged and had not yet handed to the hub dies with it, and a crash
before its first save loses the hub's session too, so whatever the edges send before
the hub has subscribed again reaches nobody. The edges send every unconfirmed row
again after reconnecting, and again when the hub, heard since, has not confirmed it
in time (docs/reliability.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, final_report, hub_settings, hub_stored, record_figures, report, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DEVICES = ("dev-a", "dev-b", "dev-c")
ROUNDS = 5
OUTAGE_S = 1.0


@pytest.mark.parametrize("crash", [pytest.param(True, id="sigkill"), pytest.param(False, id="sigterm")])
def test_broker_restarted_repeatedly_under_load_loses_nothing(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess], crash: bool) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-broker-kill"))
    nodes = [edges(own_broker, device) for device in DEVICES]
    drains: list[float] = []
    try:
        for node in nodes:
            node.start()
        for _ in range(ROUNDS):
            before = hub_stored(hub)
            wait_for(lambda before=before: hub_stored(hub) >= before + 60, timeout=60)  # type: ignore[misc]
            if crash:
                own_broker.kill()
            else:
                own_broker.stop()
            time.sleep(OUTAGE_S)  # the length of the outage, not a synchronisation
            produced = sum(node.ledger().produced for node in nodes)
            own_broker.start()
            restored = time.monotonic()
            # Drained: the hub holds as many messages as the edges had written when the broker came back.
            wait_for(lambda produced=produced: hub_stored(hub) >= produced, timeout=90)  # type: ignore[misc]
            drains.append(time.monotonic() - restored)
    finally:
        for node in nodes:
            node.stop()
    try:
        final = final_report(lambda: report([n.ledger() for n in nodes], hub), hub)
    finally:
        hub.stop()
    name, fault = ("broker_sigkill", "broker SIGKILL") if crash else ("broker_restart", "broker stopped (SIGTERM)")
    record_figures(name, {"fault": f"{fault}, under load", "rounds": ROUNDS,
                                      "edges": len(nodes), "longest_outage_s": OUTAGE_S,
                                      "drain_s_max": round(max(drains), 2), **final.figures()})
    final.assert_clean()
    assert final.total("produced") > 300
