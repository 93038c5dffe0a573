"""The durable outbox: every message is on disk before it is published.

A message is deleted only when the hub has confirmed it stored (``stored`` on the
device's ``cmd`` topic; the broker's PUBACK is not enough, a broker crash loses what it
acknowledged), so a ``kill -9`` of the agent or the broker, a power cut or a week
without network loses nothing that was written. Rows keep the ``(boot_id, seq)`` they
were given when written, so a replay re-sends the same identities and the hub stores
each once.

When the outbox is full the oldest *readings* make room (a week-old temperature
matters less than disk space for today's), whether or not they were already sent:
until the hub confirms one, it is the outbox's to keep. Events — a door opened, a
sample logged — are never dropped. Dropped readings are counted for the heartbeat
(a reading dropped after it was sent may have reached the hub all the same: the
counter is an upper bound).

**A full disk** is the same rule with the disk as the bound: a write the disk refuses
(SQLITE_FULL, an I/O error) makes room by evicting the oldest readings in the same
transaction as the new message, and so do the writes after it while the disk stays
full (``disk_full``), so the file stops growing and every event still gets in. That
needs a little space to start from, which SQLite's WAL cannot find on a disk with no
byte left: the outbox keeps a reserve file (``reserve_bytes``) it deletes at the first
refusal, and re-creates — leaving the full-disk mode — once the disk has that much
room again. An event that cannot be written even then (no reading left to evict) is
held in memory and written first as soon as a write succeeds; a reading that cannot
be written is dropped and counted like an evicted one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.wire import Channel

_LOGGER = logging.getLogger(__name__)

#: SQLite page cache of the outbox connection, in KiB.
CACHE_KIB = 256
#: WAL pages between checkpoints. Each commit appends its pages to the WAL; past the WAL's
#: previous size, that append allocates blocks and the file system journals it at the next
#: fdatasync, which on an SD card cost more than the pages themselves. A short WAL is
#: reused from its start after each checkpoint (overwritten, no allocation), and the
#: outbox's few busy pages (the queue's head and tail) make each checkpoint small.
#: Measured on ext4: 26.4 → 16.5 KiB written per telemetry message (docs/performance.md).
WAL_CHECKPOINT_PAGES = 32
#: Space kept aside for the first write after the disk filled up (see the module docstring).
RESERVE_BYTES = 4 * 1024 * 1024
#: While the disk is full, how often the reserve is tried again (space may have returned).
RESERVE_RETRY_S = 10.0
#: How long the ids of written rows are kept for ``live_floor`` (the longest ``outbox.live_age_s``).
RECENT_KEEP_S = 3600.0
#: Readings evicted per attempt to make room on a full disk (the attempt doubles it).
_EVICT_FIRST = 16
_REFUSED_CODES = {13, 10}  # SQLITE_FULL, SQLITE_IOERR (extended codes share the low byte)
_REFUSED_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO}


def disk_refused(error: BaseException) -> bool:
    """Whether an error is the disk refusing a write (full, or failing), not a bug to raise."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and (code & 0xFF) in _REFUSED_CODES:
            return True
        return "database or disk is full" in str(error) or "disk I/O error" in str(error)
    return isinstance(error, OSError) and error.errno in _REFUSED_ERRNOS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    is_event INTEGER NOT NULL,
    readings INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    -- the monotonic clock when written, and whether the wall clock was synced then:
    -- lets the publisher re-anchor timestamps taken before NTP sync (see edge.clock)
    mono REAL NOT NULL,
    wall REAL NOT NULL,
    synced INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    channel: Channel
    boot_id: str
    seq: int
    mono: float
    wall: float
    synced: bool
    payload: bytes


class Outbox:
    """A bounded FIFO of messages in SQLite (WAL), safe to share between threads."""

    def __init__(
        self,
        path: Path,
        max_messages: int = 200_000,
        reading_sync: Literal["full", "normal"] = "full",
        reserve_bytes: int = RESERVE_BYTES,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self.reserve = path.with_name(path.name + ".reserve")
        self.reserve_bytes = reserve_bytes
        #: True while the disk refuses to grow the outbox: each write evicts what it needs.
        self.disk_full = False
        self._reserve_tried = 0.0
        #: Events the disk refused even after every reading was evicted: written first when it accepts one.
        self._held: list[tuple[Channel, bytes, str, int, float, float, bool, int]] = []
        #: Readings dropped because the disk refused them and their drop count could not be written either.
        self._dropped_unwritten = 0
        self._reading_sync = reading_sync.upper()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # The outbox is written once and read once, in order: a page cache does not pay. SQLite's
        # default (2 MB) filled up during a backlog drain and was most of the agent's peak memory.
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # The WAL must fit in the reserve, so that the first checkpoint after the disk filled up can run.
        (page_size,) = self._db.execute("PRAGMA page_size").fetchone()
        wal_pages = min(WAL_CHECKPOINT_PAGES, max(16, reserve_bytes // int(page_size) // 2))
        self._db.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
        self._db.executescript(_SCHEMA)
        self._sync = "FULL"
        (self._depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        #: (row id, monotonic time) of the rows this process wrote, oldest first, pruned by ``live_floor``:
        #: where the live lane starts without a query (and without an index on ``mono``).
        self._recent: deque[tuple[int, float]] = deque()
        (last_id,) = self._db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()
        self._next_id = int(last_id) + 1
        self._keep_reserve()

    def _keep_reserve(self) -> bool:
        """Create the reserve file if it is missing; False when the disk has not that much room."""
        if self.reserve_bytes <= 0:
            return True
        try:
            if self.reserve.exists() and self.reserve.stat().st_size >= self.reserve_bytes:
                return True
            with open(self.reserve, "wb") as reserve:
                reserve.write(b"\0" * self.reserve_bytes)
                reserve.flush()
                os.fsync(reserve.fileno())
            return True
        except OSError as error:
            with contextlib.suppress(OSError):
                self.reserve.unlink()
            if error.errno not in _REFUSED_ERRNOS:
                raise
            return False

    def _set_sync(self, level: str) -> None:
        # PRAGMA synchronous applies per connection and cannot change inside a transaction.
        if level != self._sync:
            self._db.execute(f"PRAGMA synchronous={level}")
            self._sync = level

    def put(
        self,
        channel: Channel,
        payload: bytes,
        boot_id: str,
        seq: int,
        mono: float,
        wall: float,
        synced: bool,
        readings: int = 0,
    ) -> None:
        """Write one message durably; returns once it is committed (or, on a full disk, see the module)."""
        message = (channel, payload, boot_id, seq, mono, wall, synced, readings)
        with self._lock:
            if self.disk_full and time.monotonic() - self._reserve_tried >= RESERVE_RETRY_S:
                self._leave_disk_full()
            while self._held:
                if not self._write_on_full_disk(self._held[0]):
                    break
                self._held.pop(0)
            if self._held or (self.disk_full and not self._write_on_full_disk(message)):
                self._refused(message)
                return
            if self.disk_full:
                return
            try:
                self._write(message, evict=0)
            except sqlite3.Error as error:
                if not disk_refused(error):
                    raise
                self._enter_disk_full(error)
                if not self._write_on_full_disk(message):
                    self._refused(message)

    def _write(self, message: tuple[Channel, bytes, str, int, float, float, bool, int], evict: int) -> None:
        """One message in one transaction, evicting ``evict`` oldest readings first (and past the bound)."""
        channel, payload, boot_id, seq, mono, wall, synced, readings = message
        is_event = channel is not Channel.TELEMETRY
        self._set_sync("FULL" if is_event else self._reading_sync)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if evict:
                self._evict_oldest_readings(evict)
            cursor = self._db.execute(
                "INSERT INTO outbox (channel, is_event, readings, boot_id, seq, mono, wall, synced, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (channel.value, int(is_event), readings, boot_id, seq, mono, wall, int(synced), payload),
            )
            row_id = int(cursor.lastrowid or 0)
            self._depth += 1
            if self._depth > self.max_messages:
                self._evict_oldest_readings(self._depth - self.max_messages)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            (self._depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
            raise
        self._recent.append((row_id, mono))
        while self._recent[0][1] < mono - RECENT_KEEP_S:  # bounded through a week offline too
            self._recent.popleft()
        self._next_id = max(self._next_id, row_id + 1)

    def _checkpoint(self) -> None:
        """Copy the WAL into the file (no growth on a full disk: the pages are the file's own), so the WAL
        starts over at its beginning instead of growing."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _enter_disk_full(self, error: BaseException) -> None:
        self.disk_full = True
        self._reserve_tried = time.monotonic()
        released = self.reserve.exists()
        with contextlib.suppress(OSError):
            self.reserve.unlink()
        self._checkpoint()
        _LOGGER.error("the disk refuses the outbox (%s): keeping every event, evicting the oldest readings to"
                      " make room%s", error, "; reserve released" if released else "")

    def _leave_disk_full(self) -> None:
        self._reserve_tried = time.monotonic()
        self._checkpoint()
        if self._keep_reserve():
            self.disk_full = False
            _LOGGER.warning("the disk has room again: the outbox grows as usual")

    def _write_on_full_disk(self, message: tuple[Channel, bytes, str, int, float, float, bool, int]) -> bool:
        """Write evicting the oldest readings until it fits; False when even evicting them all did not do."""
        (free,) = self._db.execute("PRAGMA freelist_count").fetchone()
        evict = 0 if free > 4 else _EVICT_FIRST
        while True:
            try:
                self._write(message, evict)
                self._checkpoint()
                return True
            except sqlite3.Error as error:
                if not disk_refused(error):
                    raise
            (left,) = self._db.execute("SELECT count(*) FROM outbox WHERE is_event = 0").fetchone()
            if evict >= left:
                self._checkpoint()
                return False
            evict = max(evict * 2, _EVICT_FIRST)
            self._checkpoint()

    def _refused(self, message: tuple[Channel, bytes, str, int, float, float, bool, int]) -> None:
        """The disk took nothing: an event waits in memory, a reading is dropped (and counted)."""
        if message[0] is not Channel.TELEMETRY:
            self._held.append(message)
            _LOGGER.error("the disk refused event seq %d: held in memory (%d held) until it takes writes",
                          message[3], len(self._held))
        else:
            self._dropped_unwritten += message[7]

    def _evict_oldest_readings(self, count: int) -> None:
        rows = self._db.execute(
            "SELECT id, readings FROM outbox WHERE is_event = 0 ORDER BY id LIMIT ?", (count,)
        ).fetchall()
        if not rows:
            return  # only events left: they are kept even past the bound
        self._db.executemany("DELETE FROM outbox WHERE id = ?", [(row_id,) for row_id, _ in rows])
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES ('dropped_readings', ?)"
            " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (sum(n for _, n in rows),),
        )
        self._depth -= len(rows)

    def live_floor(self, since_mono: float) -> int:
        """The first row id of the live lane: the oldest row this process wrote at ``since_mono`` or later.

        Rows are written in time order, so every row from there on is as recent; when there is
        none, the id the next row will get (everything in the outbox is backlog).
        """
        with self._lock:
            recent = self._recent
            while recent and recent[0][1] < since_mono:
                recent.popleft()
            return recent[0][0] if recent else self._next_id

    def peek(self, after_id: int, limit: int, before_id: int | None = None) -> list[OutboxRow]:
        """The oldest messages with an id above ``after_id`` (and below ``before_id``), in the order written."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, channel, boot_id, seq, mono, wall, synced, payload FROM outbox"
                " WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
                (after_id, before_id if before_id is not None else 2**63 - 1, limit),
            ).fetchall()
        return [OutboxRow(r[0], Channel(r[1]), r[2], r[3], r[4], r[5], bool(r[6]), r[7]) for r in rows]

    def delete(self, row_ids: list[int]) -> None:
        """Forget messages the hub has confirmed (ids already evicted are ignored)."""
        if not row_ids:
            return
        with self._lock:
            # A delete need not reach the card before the next message does: lost in a power cut, the rows
            # come back and are sent again, and the hub stores each (boot_id, seq) once. The next synced
            # commit flushes it with its own pages, one fdatasync instead of two per message.
            self._set_sync("NORMAL")
            for attempt in range(2):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    cursor = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])
                    self._db.execute("COMMIT")
                except sqlite3.Error as error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    if not disk_refused(error):
                        raise
                    # A full disk: the WAL starts over after a checkpoint. Failing that, the rows stay
                    # (sent again, deduplicated by the hub) until a later confirmation deletes them.
                    self._checkpoint()
                    if attempt:
                        _LOGGER.warning("the disk refused deleting %d confirmed rows: %s", len(row_ids), error)
                    continue
                self._depth -= cursor.rowcount
                if self.disk_full:
                    self._checkpoint()
                return

    def depth(self) -> int:
        with self._lock:
            return int(self._depth)

    def dropped(self) -> int:
        """Readings dropped: evicted (counted on disk) and refused by a full disk (counted in memory)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped_readings'").fetchone()
            return (int(row[0]) if row else 0) + self._dropped_unwritten

    def held_events(self) -> int:
        """Events the disk refused, waiting in memory to be written."""
        with self._lock:
            return len(self._held)

    def close(self) -> None:
        with self._lock:
            self._db.close()
