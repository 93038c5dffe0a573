"""The broker's queue for the hub overflowing while the hub is away: the loss is an alarm, not silence.

A broker with a tiny ``max_queued_messages`` stands in for a hub down far longer than
its queue lasts. Mosquitto acknowledges every message to the edge (which deletes it)
and drops what does not fit; the oracle counts those as lost — they are — and the
hub, once back, must raise ``broker_dropping`` from the broker's own ``$SYS`` counter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from hub.broker_watch import RULE
from hub.runtime import Hub
from hub.store.state import Alert
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, hub_settings, record_figures, report, start_hub

pytestmark = [pytest.mark.slow, pytest.mark.broker]

QUEUE = 20


def broker_alarm(hub: Hub) -> Alert | None:
    return next((a for a in hub.state.alerts(["firing"]) if a.rule == RULE), None)


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
        # Ten times what the queue holds, all acknowledged by the broker (the outbox is empty again).
        wait_for(lambda: node.ledger().produced >= 10 * QUEUE, timeout=60)
        node.stop()
        assert node.ledger().pending == frozenset()
        hub = start_hub(settings)
        try:
            wait_for(lambda: broker_alarm(hub) is not None, timeout=30)
            alarm = broker_alarm(hub)
            assert alarm is not None and alarm.severity == "critical"
            # Everything the broker still held for the hub is stored; then the counter holds every drop.
            wait_for(lambda: hub.pipeline.counters.snapshot()["received"] >= QUEUE, timeout=30)
            final = report([node.ledger()], hub)
            watch = hub.broker_watch
            assert watch is not None
            wait_for(lambda: watch.counter >= final.total("lost"), timeout=15)
            dropped = watch.counter
        finally:
            hub.stop()
    finally:
        broker.stop()
    record_figures("broker_queue_overflow", {
        "fault": f"broker queue for the hub overflowing (max_queued_messages {QUEUE})", "rounds": 1,
        "broker_dropped": dropped, "alarm": alarm.rule, **final.figures()})
    # Lost, and every lost message is in the broker's count (which also counts status and health messages).
    assert 0 < final.total("lost") <= dropped
    assert str(alarm.data["dropped"]) in alarm.message
    assert final.total("duplicated") == 0
