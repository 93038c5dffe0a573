"""An edge's disk fills up: the outbox keeps every event, evicts the oldest readings (counted), carries on.

A real agent (``xiaoan edge``) keeps its outbox on a 4 MiB tmpfs
(tests/faults/small_disk.py) while the broker is down (nothing is confirmed, so the
outbox only grows). The test fills the disk, waits for the outbox to release its
reserve, fills what that freed, and then checks, from copies of the outbox file:

* every event written before and during the full disk is still there, and new ones
  keep arriving;
* readings are evicted oldest first and counted (``dropped_readings``, sent in the
  heartbeat as ``dropped``);

then frees the space: the outbox re-creates its reserve and grows again. Finally the
broker comes back and the oracle finds nothing lost — every missing seq is a counted drop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.broker import Account, MosquittoBroker
from tests.conftest import wait_for
from tests.faults.harness import EdgeProcess, hub_settings, quiesce, record_figures, report, settle, start_hub
from tests.faults.oracle import EdgeLedger, read_edge
from tests.faults.small_disk import SmallDisk

pytestmark = [pytest.mark.slow, pytest.mark.broker]

DISK_BYTES = 4 * 1024 * 1024
RESERVE_BYTES = 512 * 1024


class OutboxCopy:
    """The agent's outbox on the small disk, read from a fresh copy each time."""

    def __init__(self, disk: SmallDisk, state_dir: Path, device: str, into: Path) -> None:
        self.disk, self.state_dir, self.device, self.into = disk, state_dir, device, into

    def _copy(self) -> Path:
        return self.disk.copy_out(self.state_dir, self.into) / "outbox.sqlite3"

    def ledger(self) -> EdgeLedger:
        if not self.disk.view(self.state_dir / "outbox.sqlite3").exists():
            return EdgeLedger(self.device, 0, frozenset(), 0)
        return read_edge(self.device, self._copy())

    def events(self) -> set[int]:
        """Seqs of the events in the outbox."""
        db = sqlite3.connect(self._copy())
        try:
            return {int(r[0]) for r in db.execute("SELECT seq FROM outbox WHERE is_event = 1")}
        finally:
            db.close()

    def reserve(self) -> bool:
        return self.disk.view(self.state_dir / "outbox.sqlite3.reserve").exists()


def test_a_full_edge_disk_keeps_events_drops_oldest_readings_counted_and_carries_on(
        tmp_path: Path, own_broker: MosquittoBroker, accounts: dict[str, Account],
        edges: Callable[..., EdgeProcess]) -> None:
    own_broker.start()
    hub = start_hub(hub_settings(tmp_path / "hub", own_broker, accounts, "hub-edge-disk-full"))
    own_broker.stop()  # nothing is confirmed: the outbox only grows
    disk = SmallDisk(tmp_path / "edge-disk", DISK_BYTES).start()
    try:
        state_dir = disk.path / "edge"
        node = edges(own_broker, "dev-d", wrap=disk.argv, state_dir=state_dir,
                     outbox={"window": 50, "confirm_timeout_s": 2, "reserve_bytes": RESERVE_BYTES})
        outbox = OutboxCopy(disk, state_dir, "dev-d", tmp_path / "copies")
        node.start()
        wait_for(lambda: outbox.ledger().produced >= 200 and outbox.reserve(), timeout=60, interval=0.5)

        filled = disk.fill()
        wait_for(lambda: not outbox.reserve(), timeout=120, interval=0.5)  # the first refusal released it
        disk.top_up()  # and the room it made is taken too: from here every write must evict
        before = outbox.events()
        dropped_at_fill = outbox.ledger().dropped_readings
        wait_for(lambda: outbox.ledger().dropped_readings >= dropped_at_fill + 200, timeout=120, interval=0.5)
        disk.top_up()
        wait_for(lambda: len(outbox.events() - before) >= 5, timeout=60, interval=0.5)
        during = outbox.events()
        assert before <= during, f"events evicted: {sorted(before - during)[:10]}"
        full = outbox.ledger()
        # Readings went oldest first: what is left of the readings is the newest of the boot.
        assert full.dropped_readings > dropped_at_fill

        disk.free()
        wait_for(outbox.reserve, timeout=60, interval=0.5)  # back to normal: the reserve is kept again
        wait_for(lambda: len(outbox.ledger().pending) >= len(full.pending) + 100, timeout=60, interval=0.5)
        assert during <= outbox.events()

        own_broker.start()
        # The events kept through the full disk reach the hub: confirmed, they leave the outbox.
        wait_for(lambda: not during & {seq for _, seq in outbox.ledger().pending}, timeout=120, interval=0.5)
        node_ledger = outbox.ledger
        settle(lambda: report([node_ledger()], hub))
        node.stop()
        quiesce(hub)
        final = report([outbox.ledger()], hub)
    finally:
        hub.stop()
        disk.close()
    record_figures("disk_full_edge", {
        "fault": f"edge disk full ({DISK_BYTES // 2**20} MiB tmpfs filled), freed again", "rounds": 1,
        "filler_bytes": filled, "events_kept_while_full": len(during),
        "dropped_while_full": full.dropped_readings - dropped_at_fill, **final.figures()})
    final.assert_clean()
    assert final.total("reported_dropped") >= 200
