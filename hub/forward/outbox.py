"""The school's outbox to the district: every record for the district is on disk here until the district confirms it.

The edge's outbox (edge/outbox.py) one level up, in a file of its own
(``district-outbox.sqlite3``) so a week of WAN outage grows this file and nothing
else. A record is written in the hub's ingest thread right after the hub committed
it, before the hub confirms the message to the edge; it is deleted only when the
district answered that it committed the batch holding it. ``(kind, key)`` is
unique: a record put twice (the hub saw a message again) waits here once.

A record the district refuses for what it is (a 422: it breaks the district's bounds)
would be refused for ever and hold up every record behind it: the sender narrows the
refused batch down to that record and *parks* it here (``parked``, with the reason),
where it stays for a person to look at. A record the hub stored that already breaks
the district's bounds (an edge event's ``detail`` may be 64 × 4,096 characters, the
district takes 16,384) is parked the same way when it is put, with the reason: it never
holds up the link, and it never fails the hub's ingest. Nothing else is ever taken out
unconfirmed.

Nothing is dropped to make room: the district's record is the school's record, and
at 50 sensors every 10 s a week is about 3 M rows, some 400 MB (docs/district.md).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from hub.district.wire import ForwardedRecord, RecordKind
from hub.store.sqlite import Migration, SqliteStore


@dataclass(frozen=True, slots=True)
class Unsendable:
    """A record the hub stored that cannot be forwarded as it is (it breaks the district's bounds): parked at once."""

    kind: RecordKind
    key: str
    ts: float
    body: str
    reason: str


class HourMark(NamedTuple):
    """An hour of a sensor with readings not yet summed up, and how many times it was marked."""

    sensor: str
    hour: float
    gen: int


@dataclass(frozen=True, slots=True)
class Waiting:
    """A record in the outbox, with its row id for the deletion after the district's confirmation."""

    id: int
    record: ForwardedRecord


class ForwardOutbox(SqliteStore):
    STORE = "district_outbox"
    MIGRATIONS = (
        Migration(1, "the records waiting for the district's confirmation", """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, key)
);
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    parked_at REAL NOT NULL
);
"""),
        Migration(2, "how far each feed read from the hub's own logs has been put here", """
CREATE TABLE IF NOT EXISTS feed_cursors (
    feed TEXT PRIMARY KEY,
    after_id INTEGER NOT NULL
);
"""),
        Migration(3, "hours of a sensor with readings not yet summed up for the district (district.readings: hourly)",
                  """
CREATE TABLE IF NOT EXISTS hours_to_send (
    sensor TEXT NOT NULL,
    hour REAL NOT NULL,
    -- Counts the marks: an hour marked again while it was being summed up keeps its mark.
    gen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sensor, hour)
);
"""),
    )

    def put(self, records: Sequence[ForwardedRecord], unsendable: Sequence[Unsendable] = (),
            hours: Collection[tuple[str, float]] = ()) -> None:
        """Write records durably (synced: the hub confirms to the edge next, and the edge then deletes its copy).

        ``unsendable`` records go straight to ``parked`` in the same commit: the district
        would refuse them for ever, and refusing them here must not fail the hub's batch.
        ``hours``: (sensor, hour start) that gained readings, to be summed up once over
        (``hours_due``); marked in the same commit, so a crash before it marks them again
        when the edge sends the readings again.
        """
        if not records and not unsendable and not hours:
            return
        with self.transaction(durable=True) as db:
            self._insert(db, records, unsendable)
            db.executemany("INSERT INTO hours_to_send (sensor, hour) VALUES (?, ?)"
                           " ON CONFLICT (sensor, hour) DO UPDATE SET gen = gen + 1", sorted(hours))

    def hours_due(self, ended_before: float, limit: int) -> list[HourMark]:
        """Marked hours that ended before ``ended_before``, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT sensor, hour, gen FROM hours_to_send WHERE hour + 3600 <= ?"
                                    " ORDER BY hour, sensor LIMIT ?", (ended_before, limit)).fetchall()
        return [HourMark(str(sensor), float(hour), int(gen)) for sensor, hour, gen in rows]

    def put_hours(self, done: Sequence[HourMark], records: Sequence[ForwardedRecord],
                  unsendable: Sequence[Unsendable] = ()) -> None:
        """The hours summed up, and their marks taken off, in one synced commit (a crash sums them up again).

        A mark made again since ``hours_due`` read it (a late reading stored meanwhile, which
        the sum may have missed) stays, and the hour is summed up once more.
        """
        with self.transaction(durable=True) as db:
            self._insert(db, records, unsendable)
            db.executemany("DELETE FROM hours_to_send WHERE sensor = ? AND hour = ? AND gen = ?", done)

    def hours_waiting(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM hours_to_send").fetchone()
        return int(count)

    def feed_cursor(self, feed: str) -> int:
        """The id of the last entry of ``feed`` put here (0 before the first)."""
        with self._lock:
            row = self._db.execute("SELECT after_id FROM feed_cursors WHERE feed = ?", (feed,)).fetchone()
        return 0 if row is None else int(row[0])

    def put_feed(self, feed: str, after_id: int, records: Sequence[ForwardedRecord],
                 unsendable: Sequence[Unsendable] = ()) -> None:
        """Records read from one of the hub's logs, and how far it has been read, in one synced commit.

        Together or not at all: a crash after the records but before the cursor would put
        them again (harmless, the key is unique), a crash after the cursor but before the
        records would skip them for ever.
        """
        with self.transaction(durable=True) as db:
            self._insert(db, records, unsendable)
            db.execute("INSERT INTO feed_cursors (feed, after_id) VALUES (?, ?)"
                       " ON CONFLICT (feed) DO UPDATE SET after_id = excluded.after_id", (feed, after_id))

    @staticmethod
    def _insert(db: sqlite3.Connection, records: Sequence[ForwardedRecord], unsendable: Sequence[Unsendable]) -> None:
        db.executemany("INSERT OR IGNORE INTO outbox (kind, key, ts, body) VALUES (?, ?, ?, ?)",
                       [(r.kind.value, r.key, r.ts, json.dumps(r.body, ensure_ascii=False)) for r in records])
        db.executemany("INSERT INTO parked (kind, key, ts, body, reason, parked_at)"
                       " SELECT ?, ?, ?, ?, ?, ?"
                       " WHERE NOT EXISTS (SELECT 1 FROM parked WHERE kind = ? AND key = ?)",
                       [(u.kind.value, u.key, u.ts, u.body, u.reason[:500], time.time(), u.kind.value, u.key)
                        for u in unsendable])

    def head(self, limit: int) -> list[Waiting]:
        """The oldest waiting records, in the order they were put."""
        with self._lock:
            rows = self._db.execute("SELECT id, kind, key, ts, body FROM outbox ORDER BY id LIMIT ?",
                                    (limit,)).fetchall()
        return [Waiting(int(row_id), ForwardedRecord(kind=RecordKind(kind), key=key, ts=ts, body=json.loads(body)))
                for row_id, kind, key, ts, body in rows]

    def confirmed(self, ids: Sequence[int]) -> None:
        """The district committed these: they need not be kept any longer."""
        with self.transaction() as db:
            db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def park(self, waiting: Waiting, reason: str, now: float) -> None:
        """Set aside a record the district refused for what it is: kept, counted, no longer holding up the rest."""
        r = waiting.record
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO parked (id, kind, key, ts, body, reason, parked_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", (waiting.id, r.kind.value, r.key, r.ts,
                                                         json.dumps(r.body, ensure_ascii=False), reason[:500], now))
            db.execute("DELETE FROM outbox WHERE id = ?", (waiting.id,))

    def parked(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """The records set aside, newest first: (kind, key, the district's reason)."""
        with self._lock:
            rows = self._db.execute("SELECT kind, key, reason FROM parked ORDER BY parked_at DESC, id DESC LIMIT ?",
                                    (limit,)).fetchall()
        return [(str(kind), str(key), str(reason)) for kind, key, reason in rows]

    def depth(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)
