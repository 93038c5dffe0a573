"""The calibration record in SQLite (``calibration.sqlite3`` in the hub's state directory).

Every check of every probe with its points, and every offset a node reported in force
(from its status), with the time it was first seen: a stored reading is traced to the
offset in force when it was taken by the latest offset row at or before its time.
A file of its own: it is a register an inspector asks for, kept for years.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.calibration.kinds import Method
from hub.calibration.rules import Point
from hub.store.rows import Rows
from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calibrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    hardware_id TEXT NOT NULL DEFAULT '',
    checked_at REAL NOT NULL,
    checked_by TEXT NOT NULL,
    method TEXT NOT NULL,
    certificate_no TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    tolerance REAL NOT NULL,
    old_offset REAL NOT NULL,
    correction REAL NOT NULL,
    offset REAL NOT NULL,
    residual REAL NOT NULL,
    passed INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    next_due REAL NOT NULL,
    offset_sent INTEGER NOT NULL DEFAULT 0,
    certificate TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS calibrations_by_probe ON calibrations (device, sensor, checked_at);
CREATE TABLE IF NOT EXISTS calibration_points (
    calibration_id INTEGER NOT NULL REFERENCES calibrations(id),
    position INTEGER NOT NULL,
    reference REAL NOT NULL,
    probe REAL NOT NULL,
    PRIMARY KEY (calibration_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offset_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    sensor TEXT NOT NULL,
    since REAL NOT NULL,
    offset REAL,
    source TEXT NOT NULL,
    calibration_id INTEGER,
    hardware_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS offset_history_by_probe ON offset_history (device, sensor, since);
CREATE TABLE IF NOT EXISTS calibration_reminders (
    calibration_id INTEGER PRIMARY KEY,
    sent_at REAL NOT NULL
);
"""

MIGRATIONS = (Migration(1, "calibration checks, their points, offsets in force, reminders sent", _SCHEMA),)

@dataclass(frozen=True)
class NewCheck:
    device: str
    sensor: str
    hardware_id: str
    checked_at: float
    checked_by: str
    method: Method
    certificate_no: str
    note: str
    tolerance: float
    old_offset: float
    correction: float
    offset: float
    residual: float
    passed: bool
    reason: str
    next_due: float
    points: tuple[Point, ...]


@dataclass(frozen=True)
class CheckRecord:
    """One recorded check."""

    id: int
    device: str
    sensor: str
    hardware_id: str
    checked_at: float
    checked_by: str
    method: Method
    certificate_no: str
    note: str
    tolerance: float
    old_offset: float
    correction: float
    offset: float
    residual: float
    passed: bool
    reason: str
    next_due: float
    offset_sent: bool
    certificate: str
    points: tuple[Point, ...] = ()


@dataclass(frozen=True)
class OffsetChange:
    """An offset a node reported in force from ``since`` (until the next change of the same sensor)."""

    device: str
    sensor: str
    since: float
    offset: float | None
    source: str
    calibration_id: int | None
    hardware_id: str


_CHECKS = Rows("calibrations", (
    "id", "device", "sensor", "hardware_id", "checked_at", "checked_by", "method", "certificate_no", "note",
    "tolerance", "old_offset", "correction", "offset", "residual", "passed", "reason", "next_due", "offset_sent",
    "certificate"), CheckRecord, {"method": Method, "passed": bool, "offset_sent": bool})

_NEWEST_FIRST = "checked_at DESC, id DESC"


class CalibrationStore(SqliteStore):
    STORE = "calibration"
    MIGRATIONS = MIGRATIONS

    def add_check(self, check: NewCheck) -> CheckRecord:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO calibrations (device, sensor, hardware_id, checked_at, checked_by, method, certificate_no,"
                " note, tolerance, old_offset, correction, offset, residual, passed, reason, next_due)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (check.device, check.sensor, check.hardware_id, check.checked_at, check.checked_by, str(check.method),
                 check.certificate_no, check.note, check.tolerance, check.old_offset, check.correction, check.offset,
                 check.residual, int(check.passed), check.reason, check.next_due))
            check_id = int(cursor.lastrowid or 0)
            db.executemany("INSERT INTO calibration_points (calibration_id, position, reference, probe)"
                           " VALUES (?, ?, ?, ?)",
                           [(check_id, i, p.reference, p.probe) for i, p in enumerate(check.points)])
        found = self.check(check_id)
        assert found is not None
        return found

    def mark_sent(self, check_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE calibrations SET offset_sent = 1 WHERE id = ?", (check_id,))

    def set_certificate(self, check_id: int, name: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE calibrations SET certificate = ? WHERE id = ?", (name, check_id))

    def check(self, check_id: int) -> CheckRecord | None:
        found = self._checks("id = ?", [check_id], limit=1)
        return found[0] if found else None

    def _checks(self, where: str, args: Sequence[object], limit: int) -> list[CheckRecord]:
        """Checks newest first, each with its points (read in one query for all of them)."""
        with self._lock:
            rows = self._db.execute(_CHECKS.select(where, _NEWEST_FIRST), [*args, limit]).fetchall()
            of_those = f"SELECT id FROM calibrations WHERE {where} ORDER BY {_NEWEST_FIRST} LIMIT ?"  # noqa: S608
            query = f"SELECT calibration_id, reference, probe FROM calibration_points WHERE calibration_id IN ({of_those})"  # noqa: S608, E501
            points: dict[int, list[Point]] = {}
            for check_id, reference, probe in self._db.execute(query + " ORDER BY calibration_id, position",
                                                               [*args, limit]):
                points.setdefault(check_id, []).append(Point(float(reference), float(probe)))
        return [_CHECKS.record(row, points=tuple(points.get(row[0], ()))) for row in rows]

    def checks(self, device: str | None = None, sensor: str | None = None, until: float | None = None,
               limit: int = 500) -> list[CheckRecord]:
        """Checks, newest first (of one probe's sensor, up to a time)."""
        where = ["1 = 1"]
        args: list[object] = []
        if device is not None and sensor is not None:
            where.append("device = ? AND sensor = ?")
            args += [device, sensor]
        if until is not None:
            where.append("checked_at < ?")
            args.append(until)
        return self._checks(" AND ".join(where), args, limit)

    def latest_checks(self, until: float | None = None) -> dict[tuple[str, str, str], CheckRecord]:
        """The newest check of every (device, sensor, hardware id)."""
        found: dict[tuple[str, str, str], CheckRecord] = {}
        for check in reversed(self.checks(until=until, limit=100_000)):
            found[(check.device, check.sensor, check.hardware_id)] = check
        return found

    # -- offsets in force ------------------------------------------------------------------------

    def record_offset(self, change: OffsetChange) -> bool:
        """Keep an offset a node reported, if it differs from the last one of that sensor; True when kept."""
        with self.transaction() as db:
            last = db.execute("SELECT offset, source, calibration_id, hardware_id FROM offset_history"
                              " WHERE device = ? AND sensor = ? ORDER BY since DESC, id DESC LIMIT 1",
                              (change.device, change.sensor)).fetchone()
            if last is not None and tuple(last) == (change.offset, change.source, change.calibration_id,
                                                    change.hardware_id):
                return False
            db.execute("INSERT INTO offset_history (device, sensor, since, offset, source, calibration_id, hardware_id)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (change.device, change.sensor, change.since, change.offset, change.source,
                        change.calibration_id, change.hardware_id))
        return True

    def offsets(self, device: str | None = None, sensor: str | None = None,
                until: float | None = None) -> list[OffsetChange]:
        """Offset changes, oldest first (of one sensor; up to a time)."""
        query = ("SELECT device, sensor, since, offset, source, calibration_id, hardware_id FROM offset_history"
                 " WHERE 1 = 1")
        args: list[object] = []
        if device is not None and sensor is not None:
            query += " AND device = ? AND sensor = ?"
            args += [device, sensor]
        if until is not None:
            query += " AND since < ?"
            args.append(until)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY since, id", args).fetchall()
        return [OffsetChange(str(d), str(s), float(t), None if o is None else float(o), str(src),
                             None if c is None else int(c), str(h)) for d, s, t, o, src, c, h in rows]

    # -- reminders -------------------------------------------------------------------------------

    def reminded(self, check_id: int) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM calibration_reminders WHERE calibration_id = ?",
                                    (check_id,)).fetchone() is not None

    def add_reminder(self, check_id: int, now: float) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO calibration_reminders (calibration_id, sent_at) VALUES (?, ?)",
                       (check_id, now))
