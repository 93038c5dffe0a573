"""The lost/duplicate oracle shared by every fault test: what the edges wrote against what the hub stored.

The edge side is read from each agent's own outbox file, never from the hub:

* ``produced`` — every message the agent ever wrote: the outbox table's AUTOINCREMENT
  high-water mark (``sqlite_sequence``), committed in the same transaction as the row,
  so a SIGKILL or a power cut cannot make it disagree with what was written;
* ``pending`` — the ``(boot_id, seq)`` still in the outbox, owed to the hub;
* ``dropped_readings`` — what a full outbox had to evict, counted on disk and reported
  in every heartbeat.

The hub side is read from its stores: the ``seen`` table (one row per stored message
identity), the events and the reading rows of the series store.

For each device, the seqs of a boot are 1..M with no gap (the agent numbers every
message it writes), so a seq missing from both the hub and the outbox is lost —
unless the outbox's drop counter accounts for it (*reported dropped*, raised as an
alarm, not silent). Messages whose seqs nobody holds at all (the tail of a boot, a
whole boot) show up as ``produced`` minus the highest seqs observed. Stored twice is
counted in the store itself: event rows per identity, and reading rows per sensor
against the telemetry messages stored (every telemetry message of these tests carries
exactly one reading of each sensor named).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge.wire import MAX_TS
from hub.store.base import SeriesStore, sensor_key

_FAR_FUTURE = MAX_TS + 1  # every timestamp the wire contract accepts (InfluxQL refuses much later ones)
_ALL = 10_000_000


@dataclass(frozen=True)
class EdgeLedger:
    """What one edge wrote, read from its outbox file (with the agent stopped or killed)."""

    device: str
    produced: int
    pending: frozenset[tuple[str, int]]
    dropped_readings: int


def read_edge(device: str, outbox: Path) -> EdgeLedger:
    """Read an agent's outbox database; a missing file means the agent never wrote anything."""
    if not outbox.exists():
        return EdgeLedger(device, 0, frozenset(), 0)
    db = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        db.execute("BEGIN")  # one snapshot: the high-water mark and the rows agree
        try:
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        except sqlite3.OperationalError:  # created by the first row ever written
            return EdgeLedger(device, 0, frozenset(), 0)
        pending = frozenset((str(b), int(s)) for b, s in db.execute("SELECT boot_id, seq FROM outbox"))
        try:
            dropped = db.execute("SELECT value FROM counters WHERE name = 'dropped_readings'").fetchone()
        except sqlite3.OperationalError:  # the agent is still creating its tables (one statement each)
            dropped = None
    finally:
        db.close()
    return EdgeLedger(device, int(row[0]) if row else 0, pending, int(dropped[0]) if dropped else 0)


@dataclass(frozen=True)
class HubLedger:
    """What the hub stored, per device: message identities, event rows, reading rows per sensor."""

    seen: dict[str, set[tuple[str, int]]]
    event_rows: dict[str, list[tuple[str, int]]]
    reading_rows: dict[str, int]


def read_hub(state_db: Path, series: SeriesStore, sensors: Iterable[str]) -> HubLedger:
    """Read the hub's ``seen`` table (``state_db``: its hub.sqlite3) and its series store."""
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        seen: dict[str, set[tuple[str, int]]] = {}
        for device, boot_id, seq in db.execute("SELECT device, boot_id, seq FROM seen"):
            seen.setdefault(str(device), set()).add((str(boot_id), int(seq)))
    finally:
        db.close()
    event_rows: dict[str, list[tuple[str, int]]] = {}
    for event in series.events(0, _FAR_FUTURE, limit=_ALL):
        event_rows.setdefault(event.device, []).append((event.boot_id, event.seq))
    reading_rows = {key: len(series.readings(key, 0, _FAR_FUTURE, limit=_ALL)) for key in sensors}
    return HubLedger(seen, event_rows, reading_rows)


@dataclass(frozen=True)
class Tally:
    """One device's account. ``lost`` and ``duplicated`` must be 0."""

    device: str
    boots: int
    produced: int
    stored: int
    pending: int
    reported_dropped: int
    lost: int
    duplicated: int
    readings_stored: int
    readings_lost: int
    #: The first missing (boot_id, seq), for the failure message.
    missing: tuple[tuple[str, int], ...] = ()


def tally(edge: EdgeLedger, hub: HubLedger, sensors: Sequence[str]) -> Tally:
    """Account for every message ``edge`` produced; ``sensors`` are the readings of each telemetry message."""
    stored = hub.seen.get(edge.device, set())
    held = stored | edge.pending
    by_boot: dict[str, set[int]] = {}
    for boot_id, seq in held:
        by_boot.setdefault(boot_id, set()).add(seq)
    highest = {boot: max(seqs) for boot, seqs in by_boot.items()}
    gaps = sum(highest[boot] - len(seqs) for boot, seqs in by_boot.items())  # seqs start at 1
    missing = sorted((boot, seq) for boot, seqs in by_boot.items()
                     for seq in set(range(1, highest[boot] + 1)) - seqs)[:20]
    unobserved = edge.produced - sum(highest.values())
    if unobserved < 0:
        raise AssertionError(f"{edge.device}: the hub holds {-unobserved} seqs the edge never wrote")
    per_message = max(len(sensors), 1)
    reported_dropped = edge.dropped_readings // per_message
    lost = gaps + unobserved - reported_dropped
    if lost < 0:
        raise AssertionError(f"{edge.device}: the drop counter reports {reported_dropped} messages dropped"
                             f" but only {gaps + unobserved} are missing")

    events = hub.event_rows.get(edge.device, [])
    event_ids = set(events)
    duplicated = len(events) - len(event_ids)
    telemetry = len(stored - event_ids)
    readings_stored = readings_lost = 0
    for sensor in sensors:
        rows = hub.reading_rows.get(sensor_key(edge.device, sensor), 0)
        readings_stored += rows
        duplicated += max(0, rows - telemetry)
        readings_lost += max(0, telemetry - rows)
    return Tally(edge.device, len(highest), edge.produced, len(stored), len(edge.pending), reported_dropped,
                 lost, duplicated, readings_stored, readings_lost, tuple(missing))


@dataclass(frozen=True)
class Report:
    tallies: tuple[Tally, ...]

    def total(self, name: str) -> int:
        return sum(int(getattr(t, name)) for t in self.tallies)

    @property
    def clean(self) -> bool:
        return self.total("lost") == 0 and self.total("duplicated") == 0 and self.total("readings_lost") == 0

    @property
    def settled(self) -> bool:
        """Everything produced is stored or reported dropped (nothing still owed by an outbox)."""
        return self.clean and self.total("pending") == 0

    def assert_clean(self) -> None:
        bad = [t for t in self.tallies if t.lost or t.duplicated or t.readings_lost]
        assert not bad, "oracle: " + "; ".join(
            f"{t.device}: {t.lost} lost, {t.duplicated} stored twice, {t.readings_lost} readings lost"
            f" of {t.produced} produced (first missing: {list(t.missing)[:10]})" for t in bad)

    def figures(self) -> dict[str, Any]:
        keys = ("produced", "stored", "pending", "reported_dropped", "lost", "duplicated", "readings_stored")
        return {**{key: self.total(key) for key in keys}, "devices": [asdict(t) for t in self.tallies]}


def account(edges: Sequence[EdgeLedger], hub: HubLedger, sensors: Sequence[str]) -> Report:
    return Report(tuple(tally(edge, hub, sensors) for edge in edges))
