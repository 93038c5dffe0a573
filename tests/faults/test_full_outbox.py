"""A full outbox: the oldest readings make room, the drop is counted, and the hub raises an alarm.

The oracle accounts for the evicted seqs as *reported dropped* — counted on the edge,
carried by its heartbeat and raised as ``outbox_dropping`` at the hub — never as
silently lost. Events (a door opening) are never evicted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.alerts.engine import DROPPING_RULE
from hub.alerts.kinds import AlertState
from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, final_report, hub_settings, record_figures, report, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

CAP = 10


def test_full_outbox_drops_are_counted_and_alarmed(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-full-outbox"))
    own_broker.stop()  # no network: the outbox is all there is
    node = edges(own_broker, "dev-d", outbox={"window": 50, "max_messages": CAP})
    try:
        node.start()
        wait_for(lambda: node.ledger().dropped_readings >= 5 * CAP, timeout=60)
        own_broker.start()
        wait_for(lambda: any(a.rule == DROPPING_RULE and a.subject == "dev-d"
                             for a in hub.state.alerts([AlertState.FIRING])), timeout=60)
        node.stop()
        final = final_report(lambda: report([node.ledger()], hub), hub)
    finally:
        hub.stop()
    record_figures("full_outbox", {"fault": f"full outbox (cap {CAP} messages)", "rounds": 1,
                                   "alarm": DROPPING_RULE, **final.figures()})
    final.assert_clean()
    assert final.total("reported_dropped") >= 5 * CAP
