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
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.wire import Channel

#: SQLite page cache of the outbox connection, in KiB.
CACHE_KIB = 256

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
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self._reading_sync = reading_sync.upper()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        # The outbox is written once and read once, in order: a page cache does not pay. SQLite's
        # default (2 MB) filled up during a backlog drain and was most of the agent's peak memory.
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.executescript(_SCHEMA)
        self._sync = "FULL"
        (self._depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()

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
        """Write one message durably; returns once it is committed."""
        is_event = channel is not Channel.TELEMETRY
        with self._lock:
            self._set_sync("FULL" if is_event else self._reading_sync)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO outbox (channel, is_event, readings, boot_id, seq, mono, wall, synced, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (channel.value, int(is_event), readings, boot_id, seq, mono, wall, int(synced), payload),
                )
                self._depth += 1
                if self._depth > self.max_messages:
                    self._evict_oldest_readings(self._depth - self.max_messages)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                (self._depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
                raise

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

    def peek(self, after_id: int, limit: int) -> list[OutboxRow]:
        """The oldest messages with an id above ``after_id``, in the order they were written."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, channel, boot_id, seq, mono, wall, synced, payload FROM outbox"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [OutboxRow(r[0], Channel(r[1]), r[2], r[3], r[4], r[5], bool(r[6]), r[7]) for r in rows]

    def delete(self, row_ids: list[int]) -> None:
        """Forget messages the hub has confirmed (ids already evicted are ignored)."""
        if not row_ids:
            return
        with self._lock:
            self._set_sync(self._reading_sync)
            self._db.execute("BEGIN IMMEDIATE")
            cursor = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])
            self._db.execute("COMMIT")
            self._depth -= cursor.rowcount

    def depth(self) -> int:
        with self._lock:
            return int(self._depth)

    def dropped(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = 'dropped_readings'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
