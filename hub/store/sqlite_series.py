"""Readings and events in SQLite (WAL): the embedded default for one school.

Readings use ``WITHOUT ROWID`` with primary key (sensor, ts): the layout measured
fastest for both bulk inserts and per-sensor range scans, and the key makes a
replayed reading overwrite itself instead of doubling.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from hub.store.base import StoredEvent, StoredReading

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    sensor TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL,
    fault TEXT,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sensor, ts_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    synced INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (device, boot_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts_ms);
CREATE INDEX IF NOT EXISTS events_by_sensor ON events (sensor, ts_ms);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A WAL connection shared by threads under the caller's lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable against a crash of the hub; the broker keeps
    # anything not yet acknowledged, and the hub acknowledges only after commit.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


class SqliteSeriesStore:
    def __init__(self, path: Path) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO readings (sensor, ts_ms, value, fault, synced) VALUES (?, ?, ?, ?, ?)",
                    [(r.sensor, round(r.ts * 1000), r.value, r.fault, int(r.clock_synced)) for r in readings],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO events (device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(e.device, e.boot_id, e.seq, round(e.ts * 1000), e.sensor, e.kind, e.state, e.detail,
                      int(e.clock_synced)) for e in events],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts_ms, value, fault, synced FROM readings WHERE sensor = ? AND ts_ms >= ? AND ts_ms < ?"
                " ORDER BY ts_ms LIMIT ?",
                (sensor, round(since * 1000), round(until * 1000), limit),
            ).fetchall()
        return [StoredReading(sensor, ts / 1000.0, value, fault, bool(synced)) for ts, value, fault, synced in rows]

    def events(self, since: float, until: float, sensor: str | None = None, limit: int = 10_000) -> list[StoredEvent]:
        query = ("SELECT device, boot_id, seq, ts_ms, sensor, kind, state, detail, synced FROM events"
                 " WHERE ts_ms >= ? AND ts_ms < ?")
        args: list[object] = [round(since * 1000), round(until * 1000)]
        if sensor is not None:
            query += " AND sensor = ?"
            args.append(sensor)
        query += " ORDER BY ts_ms LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [StoredEvent(d, b, s, ts / 1000.0, sn, k, st, det, bool(sy)) for d, b, s, ts, sn, k, st, det, sy in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
