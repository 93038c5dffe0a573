"""The hub's own state in SQLite: devices, sensors, seen message ids, dead letters, alerts.

This is the record of what the hub knows and decided. It stays in SQLite even when
readings go to InfluxDB: alerts need transactions, not a time-series engine.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import time as dt_time
from typing import Any

from edge.wire import MessageId, SensorInfo
from hub import audit
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.rules.silence import DailyWindow, Silence
from hub.store.sqlite import Migration, SqliteStore

#: Version 1, the schema of 0.1.0, as released: its ``rule_feed`` and ``ingest_workers`` (the retired same-machine
#: scale-out's) are dropped again by version 8.
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
    last_state TEXT,
    last_received REAL
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
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    value REAL,
    peak REAL,
    threshold REAL,
    fired_at REAL,
    resolved_at REAL,
    acked_at REAL,
    acked_by TEXT,
    ack_note TEXT,
    closed_at REAL,
    closed_by TEXT,
    action TEXT,
    verified_at REAL,
    verified_by TEXT,
    verify_note TEXT,
    incident TEXT,
    silenced INTEGER NOT NULL DEFAULT 0,
    notified_tier INTEGER NOT NULL DEFAULT -1,
    last_notified_at REAL,
    notify_count INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (started_at);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    starts_at REAL,
    ends_at REAL,
    window_start TEXT,
    window_end TEXT,
    weekdays TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    removed_at REAL
);
CREATE TABLE IF NOT EXISTS limit_edits (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rule_state (
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (rule, subject)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rule_feed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_workers (
    worker TEXT PRIMARY KEY,
    done_before REAL NOT NULL,
    beat REAL NOT NULL
) WITHOUT ROWID;
"""

#: Readings taken before the node's clock synced, held until their boot's anchor is known (hub.restamp), and the
#: anchors: one per (device, boot), the first one heard (a later one of the same boot differs only by NTP's slewing).
_UNTIMED = """
CREATE TABLE untimed_readings (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    mono REAL NOT NULL,
    sent_ts REAL NOT NULL,
    value REAL,
    fault TEXT,
    received REAL NOT NULL,
    PRIMARY KEY (device, boot_id, seq, idx)
) WITHOUT ROWID;
CREATE INDEX untimed_by_sensor ON untimed_readings (sensor, received);
CREATE TABLE clock_anchors (
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    offset_s REAL NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (device, boot_id)
) WITHOUT ROWID;
"""

#: Version 3: limits beyond the regulatory band wait here for a second person's approval.
_LIMIT_PROPOSALS = """
CREATE TABLE limit_proposals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at REAL NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided_at REAL
);
CREATE INDEX limit_proposals_open ON limit_proposals (key) WHERE decision IS NULL;
"""

#: Version 5: notes on closed records (an alarm, a sample record, a signed period). A note is how
#: something is still said about a record that can no longer change; notes are themselves final.
_NOTES = """
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX notes_subject ON notes (subject, id);
CREATE TRIGGER notes_no_update BEFORE UPDATE ON notes
BEGIN SELECT RAISE(ABORT, 'a note is final: it cannot be changed'); END;
CREATE TRIGGER notes_no_delete BEFORE DELETE ON notes
BEGIN SELECT RAISE(ABORT, 'a note is final: it cannot be removed'); END;
"""

#: How much of a dead-lettered payload is kept (enough to see what a device sent).
DEAD_LETTER_KEEP_BYTES = 64 * 1024

#: Version 6: interim actions, what people did while an alarm was still active (each final, like a note).
_ALERT_ACTIONS = """
CREATE TABLE alert_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    at REAL NOT NULL,
    who TEXT NOT NULL,
    text TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '[]',
    photos TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX alert_actions_alert ON alert_actions (alert_id, id);
CREATE TRIGGER alert_actions_no_update BEFORE UPDATE ON alert_actions
BEGIN SELECT RAISE(ABORT, 'an interim action is final'); END;
CREATE TRIGGER alert_actions_no_delete BEFORE DELETE ON alert_actions
BEGIN SELECT RAISE(ABORT, 'an interim action is final'); END;
"""

#: Schema 7: each change of an alarm's state or time, as the whole alarm then stood, written in the save's own
#: transaction. Read on from a cursor by the district link (hub.forward), so no change can fall between the save
#: and a listener that a crash never called.
_ALERT_CHANGES = """
CREATE TABLE alert_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    snapshot TEXT NOT NULL
);
"""

#: Schema 8: the same-machine scale-out is retired (docs/scale-out.md, "Retired"): one hub process serves one
#: school, and several workers are the district service's, on PostgreSQL. Its rule feed and its workers' progress
#: go; whatever an old scale-out group left in them was either applied by its rules worker or is stored anyway (the
#: readings and events are in the series, the ids in ``seen``), so nothing of a school's record is in them.
_RETIRE_SCALE_OUT = """
DROP TABLE IF EXISTS rule_feed;
DROP TABLE IF EXISTS ingest_workers;
"""

#: Dead letters kept per device by default (the oldest go first): at most 20 × 64 KiB ≈ 1.3 MB
#: per device, however much a broken or stolen node sends (HubSettings.dead_letters_per_device).
DEAD_LETTERS_PER_DEVICE = 20


def _dead_letter_devices(db: sqlite3.Connection) -> None:
    """Migration 4: dead letters name their device (capped per device), and a count of those dropped.

    Rows from before are given the device named in their topic (``xiaoan/v1/site/device/…``),
    or "" when the topic names none; the cap then applies to them too.
    """
    db.execute("ALTER TABLE dead_letters ADD COLUMN device TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT id, topic FROM dead_letters").fetchall()
    db.executemany("UPDATE dead_letters SET device = ? WHERE id = ?",
                   [(_topic_device(topic), row_id) for row_id, topic in rows])
    db.execute("CREATE INDEX dead_letters_device ON dead_letters (device, id)")
    db.execute("CREATE INDEX dead_letters_received ON dead_letters (received)")
    db.execute("CREATE TABLE dead_letter_drops (device TEXT PRIMARY KEY, dropped INTEGER NOT NULL,"
               " last_dropped REAL NOT NULL)")


def _topic_device(topic: str) -> str:
    """The device a topic names (its fourth level), or "" when it names none."""
    parts = topic.split("/")
    return parts[3][:64] if len(parts) >= 5 else ""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    reason: str
    payload: bytes
    received: float
    #: The device the topic names ("" when none): dead letters are capped per device.
    device: str = ""


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


@dataclass(frozen=True, slots=True)
class UntimedReading:
    """A reading taken before its node's clock synced, held until its boot's anchor is known (hub.restamp)."""

    device: str
    boot_id: str
    seq: int
    #: Its place in its telemetry message (a message holds one reading per sensor, usually).
    idx: int
    sensor: str  # sensor_key
    #: The edge's monotonic clock when it was taken.
    mono: float
    #: The wrong wall time it was sent with (1970, or the time the node last saved).
    sent_ts: float
    value: float | None
    fault: str | None
    received: float


@dataclass(frozen=True)
class Note:
    """Something said about a record after it closed: who, when, what; audited, never changed."""

    id: int
    subject: str
    text: str
    author: str
    created_at: float


@dataclass(frozen=True)
class LimitProposal:
    """Limits beyond the regulatory band, proposed with a reason, waiting for (or given) a second person's decision."""

    id: int
    key: str
    limits: dict[str, Any]
    reason: str
    proposed_by: str
    proposed_at: float
    #: ``approved``, ``rejected``, ``superseded`` (a newer proposal for the sensor); None while open.
    decision: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None


_PROPOSAL_COLUMNS = "id, key, body, reason, proposed_by, proposed_at, decision, decided_by, decided_at"


def _proposal(row: Sequence[Any]) -> LimitProposal:
    return LimitProposal(row[0], row[1], json.loads(row[2]), *row[3:])


@dataclass
class Alert:
    """One alert record through its whole lifecycle (see hub.alerts.lifecycle)."""

    rule: RuleKind
    subject: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    message: str
    started_at: float
    updated_at: float
    value: float | None = None
    peak: float | None = None
    threshold: float | None = None
    fired_at: float | None = None
    resolved_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    action: str | None = None
    verified_at: float | None = None
    verified_by: str | None = None
    verify_note: str | None = None
    #: Alerts of one incident (a door left open and the rise it caused) share this key.
    incident: str | None = None
    silenced: bool = False
    notified_tier: int = -1
    last_notified_at: float | None = None
    notify_count: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def __post_init__(self) -> None:
        """Hold the typed values whatever was passed (a column read back, a plain string): an unknown one fails here."""
        self.rule = RuleKind(self.rule)
        self.kind = AlertKind(self.kind)
        self.severity = Severity(self.severity)
        self.state = AlertState(self.state)


@dataclass(frozen=True)
class AlertAction:
    """One thing a person did about an alarm, recorded when it was done (an interim action).

    ``steps`` are the playbook steps it ticks off (hub.alerts.playbooks); ``photos`` the names of
    photos already kept with the alarm (hub.web.photos). Final once written (a trigger refuses changes).
    """

    alert_id: int
    at: float
    who: str
    text: str
    steps: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()
    id: int | None = None


_ACTION_COLUMNS = "id, alert_id, at, who, text, steps, photos"


def _action(row: Sequence[Any]) -> AlertAction:
    return AlertAction(row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), tuple(json.loads(row[6])),
                       id=row[0])


_ALERT_FIELDS = [f.name for f in fields(Alert) if f.name != "id"]
_ALERT_COLUMNS = ", ".join(["id", *_ALERT_FIELDS])


def _alert(row: Sequence[Any]) -> Alert:
    values = dict(zip(_ALERT_FIELDS, row[1:], strict=True))
    values["data"] = json.loads(values["data"])
    values["silenced"] = bool(values["silenced"])
    return Alert(id=row[0], **values)


def _alert_values(alert: Alert) -> list[Any]:
    values = [getattr(alert, name) for name in _ALERT_FIELDS]
    values[_ALERT_FIELDS.index("data")] = json.dumps(alert.data, ensure_ascii=False)
    values[_ALERT_FIELDS.index("silenced")] = int(alert.silenced)
    return values


class StateStore(SqliteStore):
    """Devices, sensors, alerts and the rest of the hub's record, with the audit log, in ``hub.sqlite3``.

    The file is shared with the accounts (hub.auth.store), which version their tables on their own.
    """

    STORE = "state"
    MIGRATIONS = (Migration(1, "devices, sensors, alerts, silences, rule state and the audit log (0.1.0)",
                            _SCHEMA + audit.SCHEMA),
                  Migration(2, "readings whose time is not yet known, and the clock anchors that re-stamp them",
                            _UNTIMED),
                  Migration(3, "limit proposals: limits beyond the regulatory band await a second person",
                            _LIMIT_PROPOSALS),
                  Migration(4, "dead letters name their device, capped per device with a count of those dropped",
                            _dead_letter_devices),
                  Migration(5, "notes on closed records (alarms, sample records, signed periods), final",
                            _NOTES),
                  Migration(6, "interim actions: what people did while an alarm was still active, with steps"
                               " ticked and photos", _ALERT_ACTIONS),
                  Migration(7, "each change of an alarm's state or time, as the alarm then stood", _ALERT_CHANGES),
                  Migration(8, "the retired same-machine scale-out's rule feed and worker progress dropped"
                               " (one hub per school; several workers are the district service's)",
                            _RETIRE_SCALE_OUT))

    #: Dead letters kept per device; older ones are dropped and counted (the runtime sets it from settings).
    dead_letters_per_device: int = DEAD_LETTERS_PER_DEVICE

    # -- ingest --------------------------------------------------------------------------------

    def unseen(self, ids: Iterable[MessageId]) -> set[MessageId]:
        """Those of ``ids`` the hub has not stored before."""
        wanted = set(ids)
        if not wanted:
            return set()
        # One query per (device, boot_id) so SQLite walks the primary key; a row-value
        # IN (VALUES …) list made it scan the whole table, which grows with every message.
        by_boot: dict[tuple[str, str], list[int]] = {}
        for mid in wanted:
            by_boot.setdefault((mid.device, mid.boot_id), []).append(mid.seq)
        found: set[MessageId] = set()
        with self._lock:
            for (device, boot_id), seqs in by_boot.items():
                for start in range(0, len(seqs), 500):
                    chunk = seqs[start:start + 500]
                    rows = self._db.execute(
                        f"SELECT seq FROM seen WHERE device = ? AND boot_id = ? AND seq IN"
                        f" ({','.join('?' for _ in chunk)})",
                        [device, boot_id, *chunk],
                    )
                    found.update(MessageId(device, boot_id, seq) for (seq,) in rows)
        return wanted - found

    def prune_seen(self, older_than: float) -> int:
        """Forget message ids received before ``older_than``; returns how many.

        Safe because storing is idempotent: a reading replayed after its id was
        forgotten overwrites itself (keyed by sensor and time), an event is keyed by
        its identity, and the rules ignore readings older than the last one applied.
        """
        with self._lock:
            cursor = self._db.execute("DELETE FROM seen WHERE received < ?", (older_than,))
        return cursor.rowcount

    def commit_ingest(
        self,
        seen: Sequence[MessageId],
        now: float,
        sensors: Sequence[SensorUpdate],
        dead_letters: Sequence[DeadLetter],
    ) -> None:
        """Record a stored batch: its ids as seen, the latest value per sensor, and the dead letters.

        Durable (synced) commit: the hub confirms these messages to their devices right after.
        """
        with self.transaction(durable=True):
            self._commit_ingest(seen, now, sensors, dead_letters)

    def _commit_ingest(self, seen: Sequence[MessageId], now: float, sensors: Sequence[SensorUpdate],
                       dead_letters: Sequence[DeadLetter]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO seen (device, boot_id, seq, received) VALUES (?, ?, ?, ?)",
            [(*mid, now) for mid in seen],
        )
        self._db.executemany(
            "INSERT INTO sensors (key, device, sensor, kind, unit, last_value, last_ts, last_fault, last_state,"
            " last_received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
            " last_value = excluded.last_value, last_ts = excluded.last_ts,"
            " last_fault = excluded.last_fault,"
            " last_state = coalesce(excluded.last_state, sensors.last_state),"
            " last_received = excluded.last_received"
            " WHERE excluded.last_ts >= coalesce(sensors.last_ts, 0)",
            [(s.key, s.device, s.sensor, s.kind, s.unit, s.value, s.ts, s.fault, s.state, now)
             for s in sensors],
        )
        devices = {(s.device, s.ts) for s in sensors}
        self._db.executemany(
            "UPDATE devices SET last_seen = max(coalesce(last_seen, 0), ?) WHERE device = ?",
            [(now, device) for device, _ in devices],
        )
        self._db.executemany(
            "INSERT INTO dead_letters (received, topic, reason, size, payload, device) VALUES (?, ?, ?, ?, ?, ?)",
            [(d.received, d.topic, d.reason, len(d.payload), d.payload[:DEAD_LETTER_KEEP_BYTES], d.device)
             for d in dead_letters],
        )
        for device in {d.device for d in dead_letters}:
            self._cap_dead_letters(device, now)

    def _cap_dead_letters(self, device: str, now: float) -> None:
        """Keep the newest ``dead_letters_per_device`` of a device's dead letters; count the rest as dropped.

        One device (a broken node, a stolen Pi's account) then cannot fill the disk: what it
        can cost is bounded per device, and the other devices' dead letters stay.
        """
        cursor = self._db.execute(
            "DELETE FROM dead_letters WHERE device = ? AND id <= (SELECT id FROM dead_letters WHERE device = ?"
            " ORDER BY id DESC LIMIT 1 OFFSET ?)", (device, device, max(0, self.dead_letters_per_device)))
        if cursor.rowcount > 0:
            self._db.execute(
                "INSERT INTO dead_letter_drops (device, dropped, last_dropped) VALUES (?, ?, ?) ON CONFLICT(device)"
                " DO UPDATE SET dropped = dropped + excluded.dropped, last_dropped = excluded.last_dropped",
                (device, cursor.rowcount, now))

    # -- readings whose time is not yet known (hub.restamp) ----------------------------------

    def hold_untimed(self, readings: Sequence[UntimedReading]) -> None:
        """Keep readings taken before sync until their boot's anchor arrives; a copy of one is ignored."""
        if not readings:
            return
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO untimed_readings (device, boot_id, seq, idx, sensor, mono, sent_ts, value,"
                " fault, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.device, r.boot_id, r.seq, r.idx, r.sensor, r.mono, r.sent_ts, r.value, r.fault, r.received)
                 for r in readings])

    def record_anchor(self, device: str, boot_id: str, offset_s: float, now: float) -> None:
        """A boot's clock anchor (wall − monotonic once synced); the first one heard is kept."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO clock_anchors (device, boot_id, offset_s, at) VALUES (?, ?, ?, ?)",
                             (device, boot_id, offset_s, now))

    def anchors(self, boots: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The known anchors of these (device, boot_id) pairs."""
        found: dict[tuple[str, str], float] = {}
        with self._lock:
            for device, boot_id in set(boots):
                row = self._db.execute("SELECT offset_s FROM clock_anchors WHERE device = ? AND boot_id = ?",
                                       (device, boot_id)).fetchone()
                if row is not None:
                    found[(device, boot_id)] = float(row[0])
        return found

    def untimed_of_boot(self, device: str, boot_id: str) -> list[UntimedReading]:
        """Every held reading of one boot, in the order it was written."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device, boot_id, seq, idx, sensor, mono, sent_ts, value, fault, received FROM untimed_readings"
                " WHERE device = ? AND boot_id = ? ORDER BY seq, idx", (device, boot_id)).fetchall()
        return [UntimedReading(*row) for row in rows]

    def untimed(self, sensor: str | None = None, limit: int = 10_000) -> list[UntimedReading]:
        """Held readings (of one sensor), oldest received first: what is listed as "time not yet known"."""
        query = "SELECT device, boot_id, seq, idx, sensor, mono, sent_ts, value, fault, received FROM untimed_readings"
        args: list[Any] = []
        if sensor is not None:
            query += " WHERE sensor = ?"
            args.append(sensor)
        query += " ORDER BY received, device, boot_id, seq, idx LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [UntimedReading(*row) for row in rows]

    def finish_restamp(self, held: Sequence[UntimedReading], offset_s: float, now: float, actor: str,
                       action: str) -> int:
        """Release held readings now stored at their true times; audit how many this call moved, if any.

        The count is of the rows this transaction deleted, so a boot re-stamped again (a retried
        batch, the next heartbeat) is never audited twice for the same readings.
        """
        if not held:
            return 0
        with self.transaction() as db:
            cursor = db.executemany(
                "DELETE FROM untimed_readings WHERE device = ? AND boot_id = ? AND seq = ? AND idx = ?",
                [(r.device, r.boot_id, r.seq, r.idx) for r in held])
            moved = cursor.rowcount
            if moved > 0:
                first = held[0]
                self._append_audit(now, actor, action, first.device, {
                    "boot_id": first.boot_id, "readings": moved, "offset_s": round(offset_s, 3),
                    "sensors": sorted({r.sensor for r in held})})
        return moved

    def record_status(self, site: str, device: str, state: str, boot_id: str, version: str, ts: float,
                      now: float, sensors: Sequence[SensorInfo]) -> None:
        """Apply a device's (retained) status, registering the sensors it announces."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO devices (device, site, state, boot_id, version, state_since, last_seen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET site = excluded.site,"
                " state = excluded.state, boot_id = excluded.boot_id, version = excluded.version,"
                " state_since = excluded.state_since, last_seen = max(coalesce(last_seen, 0), excluded.last_seen)",
                (device, site, state, boot_id, version, ts, now if state == "online" else ts),
            )
            for info in sensors:
                db.execute(
                    "INSERT INTO sensors (key, device, sensor, kind, unit, name, profile, low, high)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET kind = excluded.kind,"
                    " unit = excluded.unit, name = excluded.name, profile = excluded.profile,"
                    " low = excluded.low, high = excluded.high",
                    (f"{device}/{info.sensor}", device, info.sensor, info.kind, info.unit, info.name,
                     info.profile, info.low, info.high),
                )

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

    def site_of(self, device: str) -> str | None:
        """The site a device belongs to (one primary-key lookup; used on the alert path)."""
        with self._lock:
            row = self._db.execute("SELECT site FROM devices WHERE device = ?", (device,)).fetchone()
        return str(row[0]) if row else None

    def sensors(self) -> list[dict[str, Any]]:
        keys = ("key", "device", "sensor", "kind", "unit", "name", "profile", "low", "high", "last_value",
                "last_ts", "last_fault", "last_state", "last_received")
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

    def dead_letter_count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                (count,) = self._db.execute("SELECT count(*) FROM dead_letters").fetchone()
            else:
                (count,) = self._db.execute("SELECT count(*) FROM dead_letters WHERE device = ?",
                                            (device,)).fetchone()
        return int(count)

    def dead_letters_kept(self) -> dict[str, int]:
        """Per device: dead letters kept now (at most ``dead_letters_per_device`` each)."""
        with self._lock:
            rows = self._db.execute("SELECT device, count(*) FROM dead_letters GROUP BY device ORDER BY device"
                                    ).fetchall()
        return {device: int(count) for device, count in rows}

    def dead_letters_dropped(self) -> dict[str, int]:
        """Per device: dead letters dropped (over the per-device cap, or pruned by age) since the hub began."""
        with self._lock:
            rows = self._db.execute("SELECT device, dropped FROM dead_letter_drops ORDER BY device").fetchall()
        return {device: int(dropped) for device, dropped in rows}

    def prune_dead_letters(self, older_than: float, now: float) -> int:
        """Delete dead letters received before ``older_than`` (counted as dropped); returns how many."""
        with self.transaction() as db:
            rows = db.execute("SELECT device, count(*) FROM dead_letters WHERE received < ? GROUP BY device",
                              (older_than,)).fetchall()
            db.execute("DELETE FROM dead_letters WHERE received < ?", (older_than,))
            db.executemany(
                "INSERT INTO dead_letter_drops (device, dropped, last_dropped) VALUES (?, ?, ?) ON CONFLICT(device)"
                " DO UPDATE SET dropped = dropped + excluded.dropped, last_dropped = excluded.last_dropped",
                [(device, count, now) for device, count in rows])
        return sum(int(count) for _, count in rows)

    # -- alerts and rule state -----------------------------------------------------------------

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 500, kind: str | None = None,
               subject: str | None = None, since: float | None = None, until: float | None = None) -> list[Alert]:
        """Alerts newest first; filters combine (``since``/``until`` on when the alert started)."""
        clauses: list[str] = []
        args: list[Any] = []
        if states:
            clauses.append(f"state IN ({','.join('?' for _ in states)})")
            args.extend(states)
        for column, op, value in (("kind", "=", kind), ("subject", "=", subject), ("started_at", ">=", since),
                                  ("started_at", "<", until)):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                args.append(value)
        query = f"SELECT {_ALERT_COLUMNS} FROM alerts"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            return [_alert(row) for row in self._db.execute(query, args).fetchall()]

    def alert(self, alert_id: int) -> Alert | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _alert(row) if row else None

    def save_alert(self, alert: Alert, actor: str = "system", action: str | None = None,
                   detail: Mapping[str, Any] | None = None) -> Alert:
        """Insert or update an alert and, in the same transaction, append the change to the audit log.

        A change of the alert's state or time is also appended to ``alert_changes`` (a save
        that only counts a notification is not one).
        """
        values = _alert_values(alert)
        with self.transaction() as db:
            if alert.id is None:
                cursor = db.execute(
                    f"INSERT INTO alerts ({', '.join(_ALERT_FIELDS)})"
                    f" VALUES ({', '.join('?' for _ in _ALERT_FIELDS)})",
                    values,
                )
                alert.id = cursor.lastrowid
                changed = True
            else:
                before = db.execute("SELECT state, updated_at FROM alerts WHERE id = ?", (alert.id,)).fetchone()
                changed = before is None or (before[0], before[1]) != (alert.state.value, alert.updated_at)
                db.execute(
                    f"UPDATE alerts SET {', '.join(f'{name} = ?' for name in _ALERT_FIELDS)} WHERE id = ?",
                    [*values, alert.id],
                )
            if changed:
                db.execute("INSERT INTO alert_changes (alert_id, snapshot) VALUES (?, ?)",
                           (alert.id, json.dumps(dataclasses.asdict(alert), ensure_ascii=False, default=str)))
            if action is not None:
                self._append_audit(alert.updated_at, actor, action, f"alert/{alert.id}",
                                   {"state": alert.state, "subject": alert.subject, **(detail or {})})
        return alert

    def alert_changes(self, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
        """Changes of alarms after ``after_seq``, oldest first: (seq, the alarm as it then stood, enums as values)."""
        with self._lock:
            rows = self._db.execute("SELECT seq, snapshot FROM alert_changes WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [(int(seq), json.loads(snapshot)) for seq, snapshot in rows]

    def add_alert_action(self, action: AlertAction) -> AlertAction:
        """Keep an interim action and, in the same transaction, its audit entry (the person is the actor)."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO alert_actions (alert_id, at, who, text, steps, photos)"
                                " VALUES (?, ?, ?, ?, ?, ?)",
                                (action.alert_id, action.at, action.who, action.text,
                                 json.dumps(list(action.steps)), json.dumps(list(action.photos))))
            self._append_audit(action.at, action.who, "alert.interim_action", f"alert/{action.alert_id}",
                               {"text": action.text, "steps": list(action.steps), "photos": list(action.photos)})
        return dataclasses.replace(action, id=cursor.lastrowid)

    def alert_actions(self, alert_ids: Iterable[int]) -> dict[int, list[AlertAction]]:
        """The interim actions of each alert, oldest first (alerts without any are absent)."""
        wanted = sorted(set(alert_ids))
        found: dict[int, list[AlertAction]] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
                chunk = wanted[start:start + 500]
                rows = self._db.execute(
                    f"SELECT {_ACTION_COLUMNS} FROM alert_actions WHERE alert_id IN ({','.join('?' for _ in chunk)})"
                    " ORDER BY id", chunk).fetchall()
                for row in rows:
                    found.setdefault(row[1], []).append(_action(row))
        return found

    # -- audit ---------------------------------------------------------------------------------

    def _append_audit(self, ts: float, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        row = self._db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        entry = audit.chain(row[0] if row else audit.GENESIS, ts, actor, action, subject, detail)
        self._db.execute(
            "INSERT INTO audit (ts, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (entry.ts, entry.actor, entry.action, entry.subject, entry.detail, entry.prev_hash, entry.hash),
        )

    def append_audit(self, ts: float, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Record a change that is not an alert's (a silence created, a week signed off)."""
        with self.transaction():
            self._append_audit(ts, actor, action, subject, detail)

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[audit.AuditEntry]:
        query = "SELECT id, ts, actor, action, subject, detail, prev_hash, hash FROM audit WHERE id > ? ORDER BY id"
        args: list[Any] = [after_id]
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [audit.AuditEntry(id=r[0], ts=r[1], actor=r[2], action=r[3], subject=r[4], detail=r[5],
                                 prev_hash=r[6], hash=r[7]) for r in rows]

    # -- notes on closed records ---------------------------------------------------------------

    def add_note(self, subject: str, text: str, author: str, now: float) -> Note:
        """Keep a note on ``subject`` (``alert/12``, ``sample/5``, ``report/weekly/2026-W47``), audited."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO notes (subject, text, author, created_at) VALUES (?, ?, ?, ?)",
                                (subject, text, author, now))
            note = Note(int(cursor.lastrowid or 0), subject, text, author, now)
            self._append_audit(now, author, "note.added", subject, {"note": note.id, "text": text})
        return note

    def notes(self, subject: str) -> list[Note]:
        with self._lock:
            rows = self._db.execute("SELECT id, subject, text, author, created_at FROM notes WHERE subject = ?"
                                    " ORDER BY id", (subject,)).fetchall()
        return [Note(*row) for row in rows]

    # -- silences ------------------------------------------------------------------------------

    def add_silence(self, silence: Silence, created_by: str, now: float) -> Silence:
        window = silence.window
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO silences (subject, rules, starts_at, ends_at, window_start, window_end, weekdays,"
                " reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (silence.subject, json.dumps(sorted(silence.rules)), silence.starts_at, silence.ends_at,
                 window.start.isoformat() if window else None, window.end.isoformat() if window else None,
                 json.dumps(sorted(window.weekdays)) if window and window.weekdays is not None else None,
                 silence.reason, created_by, now),
            )
            self._append_audit(now, created_by, "silence.created", f"silence/{cursor.lastrowid}",
                               {"subject": silence.subject, "reason": silence.reason})
        return dataclasses.replace(silence, id=cursor.lastrowid)

    def remove_silence(self, silence_id: int, removed_by: str, now: float) -> bool:
        with self.transaction() as db:
            cursor = db.execute("UPDATE silences SET removed_at = ? WHERE id = ? AND removed_at IS NULL",
                                (now, silence_id))
            if cursor.rowcount:
                self._append_audit(now, removed_by, "silence.removed", f"silence/{silence_id}", {})
        return bool(cursor.rowcount)

    def silences(self, now: float, endless_max_s: float | None = None) -> list[Silence]:
        """Silences not removed and not yet over.

        ``endless_max_s``: a silence without an end (set before every silence had to end) is
        over this long after it was created, so none stays in force for ever.
        """
        endless_since = now - endless_max_s if endless_max_s is not None else float("-inf")
        with self._lock:
            rows = self._db.execute(
                "SELECT id, subject, rules, starts_at, ends_at, window_start, window_end, weekdays, reason"
                " FROM silences WHERE removed_at IS NULL"
                " AND (ends_at > ? OR (ends_at IS NULL AND created_at > ?)) ORDER BY id",
                (now, endless_since),
            ).fetchall()
        result = []
        for sid, subject, rules, starts, ends, w_start, w_end, weekdays, reason in rows:
            window = None
            if w_start is not None and w_end is not None:
                days = frozenset(json.loads(weekdays)) if weekdays is not None else None
                window = DailyWindow(dt_time.fromisoformat(w_start), dt_time.fromisoformat(w_end), days)
            result.append(Silence(subject=subject, rules=frozenset(json.loads(rules)), starts_at=starts,
                                  ends_at=ends, window=window, reason=reason, id=sid))
        return result

    # -- limits edited through the API --------------------------------------------------------

    def limit_edits(self) -> dict[str, dict[str, Any]]:
        """Sensor key → the limits last set for it through the API (they beat the config file)."""
        with self._lock:
            rows = self._db.execute("SELECT key, body FROM limit_edits").fetchall()
        return {key: json.loads(body) for key, body in rows}

    def save_limit_edit(self, key: str, body: Mapping[str, Any], who: str, now: float,
                        approval: Mapping[str, Any] | None = None) -> None:
        """Store a sensor's edited limits and, in the same transaction, audit who set what.

        ``approval`` (who proposed, why, who approved) goes into the audit entry of a change
        beyond the regulatory band; the report prints it with the edit.
        """
        with self.transaction():
            self._save_limit_edit(key, body, who, now, approval)

    def _save_limit_edit(self, key: str, body: Mapping[str, Any], who: str, now: float,
                         approval: Mapping[str, Any] | None) -> None:
        before = self._db.execute("SELECT body FROM limit_edits WHERE key = ?", (key,)).fetchone()
        self._db.execute(
            "INSERT OR REPLACE INTO limit_edits (key, body, updated_by, updated_at) VALUES (?, ?, ?, ?)",
            (key, json.dumps(dict(body)), who, now))
        self._append_audit(now, who, "limits.edited", f"sensor/{key}",
                           {"limits": dict(body), "before": json.loads(before[0]) if before else None,
                            **(approval or {})})

    def propose_limits(self, key: str, body: Mapping[str, Any], reason: str, who: str, now: float) -> LimitProposal:
        """Record limits beyond the band as a proposal (an open one for the sensor is superseded), audited."""
        with self.transaction() as db:
            db.execute("UPDATE limit_proposals SET decision = 'superseded', decided_by = ?, decided_at = ?"
                       " WHERE key = ? AND decision IS NULL", (who, now, key))
            cursor = db.execute(
                "INSERT INTO limit_proposals (key, body, reason, proposed_by, proposed_at) VALUES (?, ?, ?, ?, ?)",
                (key, json.dumps(dict(body)), reason, who, now))
            proposal_id = int(cursor.lastrowid or 0)
            self._append_audit(now, who, "limits.proposed", f"sensor/{key}",
                               {"limits": dict(body), "reason": reason, "proposal": proposal_id})
        return LimitProposal(proposal_id, key, dict(body), reason, who, now)

    def limit_edit_history(self, since: float, until: float) -> list[tuple[float, str, dict[str, Any]]]:
        """Limits edits put in force in ``[since, until)``, oldest first: (when, who, the audit detail)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, actor, subject, detail FROM audit WHERE action = 'limits.edited' AND ts >= ? AND ts < ?"
                " ORDER BY id", (since, until)).fetchall()
        return [(ts, actor, {**json.loads(detail), "sensor": subject.removeprefix("sensor/")})
                for ts, actor, subject, detail in rows]

    def silences_between(self, since: float, until: float) -> list[tuple[Silence, str, float, float | None]]:
        """Silences in force at some time in ``[since, until)``: (silence, created by, created at, removed at)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, subject, rules, starts_at, ends_at, window_start, window_end, weekdays, reason,"
                " created_by, created_at, removed_at FROM silences WHERE created_at < ?"
                " AND (starts_at IS NULL OR starts_at < ?) AND (ends_at IS NULL OR ends_at > ?)"
                " AND (removed_at IS NULL OR removed_at > ?) ORDER BY id", (until, until, since, since)).fetchall()
        result = []
        for sid, subject, rules, starts, ends, w_start, w_end, weekdays, reason, by, at, removed in rows:
            window = None
            if w_start is not None and w_end is not None:
                days = frozenset(json.loads(weekdays)) if weekdays is not None else None
                window = DailyWindow(dt_time.fromisoformat(w_start), dt_time.fromisoformat(w_end), days)
            result.append((Silence(subject=subject, rules=frozenset(json.loads(rules)), starts_at=starts,
                                   ends_at=ends, window=window, reason=reason, id=sid), by, at, removed))
        return result

    def limit_proposals(self, open_only: bool = True) -> list[LimitProposal]:
        """Proposals newest first (only those waiting for a decision unless ``open_only`` is False)."""
        query = f"SELECT {_PROPOSAL_COLUMNS} FROM limit_proposals"
        if open_only:
            query += " WHERE decision IS NULL"
        with self._lock:
            return [_proposal(row) for row in self._db.execute(query + " ORDER BY id DESC").fetchall()]

    def limit_proposal(self, proposal_id: int) -> LimitProposal | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_PROPOSAL_COLUMNS} FROM limit_proposals WHERE id = ?",
                                   (proposal_id,)).fetchone()
        return _proposal(row) if row else None

    def decide_limits(self, proposal_id: int, approve: bool, who: str, now: float) -> LimitProposal | None:
        """Approve (put in force) or reject an open proposal, in one transaction with its audit entries.

        Returns the decided proposal, or None when it was not open any more (decided, superseded).
        Whether ``who`` may decide is the caller's question (``hub.api.limits``).
        """
        decision = "approved" if approve else "rejected"
        with self.transaction() as db:
            cursor = db.execute("UPDATE limit_proposals SET decision = ?, decided_by = ?, decided_at = ?"
                                " WHERE id = ? AND decision IS NULL", (decision, who, now, proposal_id))
            if not cursor.rowcount:
                return None
            row = db.execute(f"SELECT {_PROPOSAL_COLUMNS} FROM limit_proposals WHERE id = ?",
                             (proposal_id,)).fetchone()
            proposal = _proposal(row)
            if approve:
                self._save_limit_edit(proposal.key, proposal.limits, who, now,
                                      {"proposal": proposal.id, "proposed_by": proposal.proposed_by,
                                       "proposed_at": proposal.proposed_at, "reason": proposal.reason,
                                       "approved_by": who})
            else:
                self._append_audit(now, who, "limits.rejected", f"sensor/{proposal.key}",
                                   {"proposal": proposal.id, "proposed_by": proposal.proposed_by})
        return proposal

    def rule_states(self) -> dict[tuple[RuleKind, str], dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT rule, subject, state FROM rule_state").fetchall()
        return {(RuleKind(rule), subject): json.loads(state) for rule, subject, state in rows}

    def save_rule_state(self, rule: RuleKind, subject: str, state: dict[str, Any] | None) -> None:
        """Persist a rule's timer state so a restart does not restart a pending delay from zero."""
        with self._lock:
            if state is None:
                self._db.execute("DELETE FROM rule_state WHERE rule = ? AND subject = ?", (rule, subject))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO rule_state (rule, subject, state) VALUES (?, ?, ?)",
                    (rule, subject, json.dumps(state)),
                )
