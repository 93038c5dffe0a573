"""The broker's queue for the hub overflowing while the hub is away: an alarm, and nothing lost.

A broker with a tiny ``max_queued_messages`` stands in for a hub down far longer than
its queue lasts. Mosquitto acknowledges every message to the edge and drops what does
not fit; the hub, once back, must raise ``broker_dropping`` from the broker's own
``$SYS`` counter. The edge deletes a row only when the hub confirms it stored, so it
still holds what the broker dropped and sends it again: the oracle must find every
message stored once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.alerts.kinds import AlertState
from hub.broker import Account, MosquittoBroker
from hub.broker_watch import RULE
from hub.runtime import Hub
from hub.store.state import Alert
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, final_report, hub_settings, hub_stored, record_figures, report, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

QUEUE = 20


def broker_alarm(hub: Hub) -> Alert | None:
    return next((a for a in hub.state.alerts([AlertState.FIRING]) if a.rule == RULE), None)


def test_broker_queue_overflow_becomes_an_alarm(tmp_path: Path, accounts: dict[str, Account],
                                                edges: Callable[..., EdgeProcess]) -> None:
    broker = MosquittoBroker(tmp_path / "small-queue", list(accounts.values()), max_queued_messages=QUEUE,
                             extra_config="sys_interval 1\n")
    broker.start()
    try:
        settings = hub_settings(tmp_path / "hub", broker, accounts, "hub-overflow")
        start_hub(settings).stop()  # its session exists, then the hub is away
        node = edges(broker, "dev-a", heartbeat_s=3600)
        node.start()
        # Ten times what the queue holds, all published and acknowledged by the broker, none confirmed.
        wait_for(lambda: node.ledger().produced >= 10 * QUEUE, timeout=60)
        assert len(node.ledger().pending) >= 9 * QUEUE
        hub = start_hub(settings)
        try:
            wait_for(lambda: broker_alarm(hub) is not None, timeout=30)
            alarm = broker_alarm(hub)
            assert alarm is not None and alarm.severity == "critical"
            watch = hub.broker_watch
            assert watch is not None
            dropped = watch.counter
            # What the broker dropped is still in the outbox: sent again and stored.
            produced = node.ledger().produced
            wait_for(lambda: hub_stored(hub) >= produced, timeout=60)
            node.stop()
            final = final_report(lambda: report([node.ledger()], hub), hub)
        finally:
            node.stop()
            hub.stop()
    finally:
        broker.stop()
    record_figures("broker_queue_overflow", {
        "fault": f"broker queue for the hub overflowing (max_queued_messages {QUEUE})", "rounds": 1,
        "broker_dropped": dropped, "alarm": alarm.rule, **final.figures()})
    assert dropped > 0 and str(alarm.data["dropped"]) in alarm.message
    final.assert_clean()
