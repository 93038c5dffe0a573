"""Several hub workers on one MQTT shared subscription: one state database, one rule engine.

The broker hands each message of ``$share/{group}/xiaoan/#`` to one worker, round
robin, so one device's readings are split across workers. Every worker validates,
deduplicates against the shared state database (``StateStore.claim_ingest``) and
stores; the worker holding ``rules.lock`` also runs the rules, timers and
maintenance, on everything any worker stored, through the ``rule_feed`` table.
Why one rule engine: a threshold's delay, a door held open, a reading's peak are
per-sensor state across readings; two engines each seeing half of a sensor's readings
would each see a different, wrong story (docs/scale-out.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge import wire
from hub.store.base import StoredEvent, StoredReading

#: A worker that has not reported progress for this long is gone; the rules stop waiting for it.
STALE_S = 5.0
#: Feed entries are applied once every live worker has committed what it received this long after
#: them: messages of one device reach two workers' sockets up to a few milliseconds out of order.
REORDER_S = 0.1


class RulesLock:
    """An exclusive ``flock`` on a file next to the shared database: the worker holding it runs the rules.

    The kernel releases it when the process dies, however it dies, so a restarted
    worker (any of them) can take it; no lease to expire, no clock to trust. It needs
    the workers on one machine, which SQLite's shared WAL database needs anyway.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.held = True
        except BlockingIOError:
            self.held = False

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing releases the lock
            self._fd = None
            self.held = False


@dataclass
class FeedBatch:
    """What the rules must see of one committed batch (or of several, merged)."""

    readings: list[StoredReading] = field(default_factory=list)
    events: list[StoredEvent] = field(default_factory=list)
    health: list[tuple[str, wire.Health, float]] = field(default_factory=list)
    sensors_announced: bool = False

    def empty(self) -> bool:
        return not (self.readings or self.events or self.health or self.sensors_announced)

    def encode(self) -> str | None:
        """Compact JSON (lists, not objects: a batch holds up to thousands of readings); None when empty."""
        if self.empty():
            return None
        return json.dumps({
            "r": [[r.sensor, r.ts, r.value, r.fault, r.clock_synced] for r in self.readings],
            "e": [[e.device, e.boot_id, e.seq, e.ts, e.sensor, e.kind, e.state, e.detail, e.clock_synced]
                  for e in self.events],
            "h": [[device, health.model_dump_json(), now] for device, health, now in self.health],
            "s": self.sensors_announced,
        }, ensure_ascii=False, separators=(",", ":"))

    def extend(self, body: str) -> None:
        """Add an encoded batch to this one."""
        data = json.loads(body)
        self.readings.extend(StoredReading(*row) for row in data["r"])
        self.events.extend(StoredEvent(*row) for row in data["e"])
        self.health.extend((device, wire.Health.model_validate_json(health), now) for device, health, now in data["h"])
        self.sensors_announced = self.sensors_announced or bool(data["s"])
