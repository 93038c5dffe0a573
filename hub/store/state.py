"""The hub's own state in SQLite: devices, sensors, seen message ids, dead letters, alerts.

This is the record of what the hub knows and decided. It stays in SQLite even when
readings go to InfluxDB: alerts need transactions, not a time-series engine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.wire import MessageId, SensorInfo
from hub.store.sqlite_series import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'unknown',
    boot_id TEXT,
    version TEXT,
    state_since REAL,
    last_seen REAL,
    health TEXT
);
CREATE TABLE IF NOT EXISTS sensors (
    key TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    kind TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    profile TEXT NOT NULL DEFAULT '',
    low REAL,
    high REAL,
    last_value REAL,
    last_ts REAL,
    last_fault TEXT,
    last_state TEXT
);
CREATE TABLE IF NOT EXISTS seen (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (device, boot_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    value REAL,
    peak REAL,
    threshold REAL,
    started_at REAL NOT NULL,
    fired_at REAL,
    resolved_at REAL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
CREATE TABLE IF NOT EXISTS rule_state (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
"""

#: How much of a dead-lettered payload is kept (enough to see what a device sent).
DEAD_LETTER_KEEP_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    reason: str
    payload: bytes
    received: float


@dataclass(frozen=True)
class SensorUpdate:
    key: str
    device: str
    sensor: str
    kind: str
    unit: str
    value: float | None
    ts: float
    fault: str | None = None
    state: str | None = None


@dataclass
class Alert:
    rule: str
    subject: str
    kind: str
    severity: str
    state: str
    message: str
    started_at: float
    updated_at: float
    value: float | None = None
    peak: float | None = None
    threshold: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None


_ALERT_COLUMNS = ("id, rule, subject, kind, severity, state, message, value, peak, threshold, started_at,"
                  " fired_at, resolved_at, updated_at, data")


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(id=row[0], rule=row[1], subject=row[2], kind=row[3], severity=row[4], state=row[5],
                 message=row[6], value=row[7], peak=row[8], threshold=row[9], started_at=row[10],
                 fired_at=row[11], resolved_at=row[12], updated_at=row[13], data=json.loads(row[14]))


class StateStore:
    def __init__(self, path: Path) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- ingest --------------------------------------------------------------------------------

    def unseen(self, ids: Iterable[MessageId]) -> set[MessageId]:
        """Those of ``ids`` the hub has not stored before."""
        wanted = set(ids)
        if not wanted:
            return set()
        with self._lock:
            found = {
                MessageId(*row)
                for row in self._db.execute(
                    "SELECT device, boot_id, seq FROM seen WHERE (device, boot_id, seq) IN"
                    f" (VALUES {','.join('(?,?,?)' for _ in wanted)})",
                    [value for mid in wanted for value in mid],
                )
            }
        return wanted - found

    def commit_ingest(
        self,
        seen: Sequence[MessageId],
        now: float,
        sensors: Sequence[SensorUpdate],
        dead_letters: Sequence[DeadLetter],
    ) -> None:
        """Record a stored batch: its ids as seen, the latest value per sensor, and the dead letters."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO seen (device, boot_id, seq, received) VALUES (?, ?, ?, ?)",
                    [(*mid, now) for mid in seen],
                )
                self._db.executemany(
                    "INSERT INTO sensors (key, device, sensor, kind, unit, last_value, last_ts, last_fault, last_state)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                    " last_value = excluded.last_value, last_ts = excluded.last_ts,"
                    " last_fault = excluded.last_fault,"
                    " last_state = coalesce(excluded.last_state, sensors.last_state)"
                    " WHERE excluded.last_ts >= coalesce(sensors.last_ts, 0)",
                    [(s.key, s.device, s.sensor, s.kind, s.unit, s.value, s.ts, s.fault, s.state) for s in sensors],
                )
                devices = {(s.device, s.ts) for s in sensors}
                self._db.executemany(
                    "UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE device = ?",
                    [(now, device) for device, _ in devices],
                )
                self._db.executemany(
                    "INSERT INTO dead_letters (received, topic, reason, size, payload) VALUES (?, ?, ?, ?, ?)",
                    [(d.received, d.topic, d.reason, len(d.payload), d.payload[:DEAD_LETTER_KEEP_BYTES])
                     for d in dead_letters],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def record_status(self, site: str, device: str, state: str, boot_id: str, version: str, ts: float,
                      now: float, sensors: Sequence[SensorInfo]) -> None:
        """Apply a device's (retained) status, registering the sensors it announces."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO devices (device, site, state, boot_id, version, state_since, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET site = excluded.site,"
                " state = excluded.state, boot_id = excluded.boot_id, version = excluded.version,"
                " state_since = excluded.state_since, last_seen = max(coalesce(last_seen, 0), excluded.last_seen)",
                (device, site, state, boot_id, version, ts, now if state == "online" else ts),
            )
            for info in sensors:
                self._db.execute(
                    "INSERT INTO sensors (key, device, sensor, kind, unit, name, profile, low, high)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET kind = excluded.kind,"
                    " unit = excluded.unit, name = excluded.name, profile = excluded.profile,"
                    " low = excluded.low, high = excluded.high",
                    (f"{device}/{info.sensor}", device, info.sensor, info.kind, info.unit, info.name,
                     info.profile, info.low, info.high),
                )
            self._db.execute("COMMIT")

    def record_health(self, device: str, health_json: str, now: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE devices SET health = ?, last_seen = ? WHERE device = ?", (health_json, now, device)
            )

    # -- reading back --------------------------------------------------------------------------

    def devices(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT device, site, state, boot_id, version, state_since, last_seen, health FROM devices"
                " ORDER BY device"
            ).fetchall()
        keys = ("device", "site", "state", "boot_id", "version", "state_since", "last_seen", "health")
        result = []
        for row in rows:
            item = dict(zip(keys, row, strict=True))
            item["health"] = json.loads(item["health"]) if item["health"] else None
            result.append(item)
        return result

    def sensors(self) -> list[dict[str, Any]]:
        keys = ("key", "device", "sensor", "kind", "unit", "name", "profile", "low", "high", "last_value",
                "last_ts", "last_fault", "last_state")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(keys)} FROM sensors ORDER BY key").fetchall()
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, received, topic, reason, size, payload FROM dead_letters ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"id": i, "received": r, "topic": t, "reason": why, "size": size,
             "payload_preview": bytes(p[:512]).decode("utf-8", "replace")}
            for i, r, t, why, size, p in rows
        ]

    def dead_letter_count(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM dead_letters").fetchone()
        return int(count)

    # -- alerts and rule state -----------------------------------------------------------------

    def alerts(self, states: Sequence[str] | None = None, limit: int = 500) -> list[Alert]:
        query = f"SELECT {_ALERT_COLUMNS} FROM alerts"
        args: list[Any] = []
        if states:
            query += f" WHERE state IN ({','.join('?' for _ in states)})"
            args.extend(states)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            return [_alert(row) for row in self._db.execute(query, args).fetchall()]

    def alert(self, alert_id: int) -> Alert | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None

    def save_alert(self, alert: Alert) -> Alert:
        values = (alert.rule, alert.subject, alert.kind, alert.severity, alert.state, alert.message, alert.value,
                  alert.peak, alert.threshold, alert.started_at, alert.fired_at, alert.resolved_at,
                  alert.updated_at, json.dumps(alert.data, ensure_ascii=False))
        with self._lock:
            if alert.id is None:
                cursor = self._db.execute(
                    "INSERT INTO alerts (rule, subject, kind, severity, state, message, value, peak, threshold,"
                    " started_at, fired_at, resolved_at, updated_at, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                alert.id = cursor.lastrowid
            else:
                self._db.execute(
                    "UPDATE alerts SET rule = ?, subject = ?, kind = ?, severity = ?, state = ?, message = ?,"
                    " value = ?, peak = ?, threshold = ?, started_at = ?, fired_at = ?, resolved_at = ?,"
                    " updated_at = ?, data = ? WHERE id = ?",
                    (*values, alert.id),
                )
        return alert

    def rule_states(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT rule, subject, state FROM rule_state").fetchall()
        return {(rule, subject): json.loads(state) for rule, subject, state in rows}

    def save_rule_state(self, rule: str, subject: str, state: dict[str, Any] | None) -> None:
        """Persist a rule's timer state so a restart does not restart a pending delay from zero."""
        with self._lock:
            if state is None:
                self._db.execute("DELETE FROM rule_state WHERE rule = ? AND subject = ?", (rule, subject))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO rule_state (rule, subject, state) VALUES (?, ?, ?)",
                    (rule, subject, json.dumps(state)),
                )
