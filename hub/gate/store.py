"""The gate-duty record in SQLite (``gate.sqlite3``): closing sweeps, patrol visits and rounds, overrides.

A file of its own, like the food-sample record: the patrol log and the sweep
reports are a register kept for inspections and the weekly report, written from the
ingest thread and read from the API threads. Rows are keyed so that evaluating the
same closing time or round window twice (a restart between the work and the
bookkeeping) records it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.gate.overrides import DefaultConfirmation, DefaultWindows, OverrideSpec, StoredOverride
from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS gate_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    grp TEXT NOT NULL,
    closing_at REAL NOT NULL,
    swept_at REAL NOT NULL,
    states TEXT NOT NULL,
    not_closed INTEGER NOT NULL,
    UNIQUE (grp, closing_at)
);
CREATE TABLE IF NOT EXISTS patrol_visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    checkpoint TEXT,
    tag TEXT NOT NULL DEFAULT '',
    sensor TEXT NOT NULL,
    device TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    input TEXT NOT NULL DEFAULT '',
    UNIQUE (device, boot_id, seq)
);
CREATE INDEX IF NOT EXISTS patrol_visits_by_time ON patrol_visits (ts);
CREATE TABLE IF NOT EXISTS patrol_rounds (
    route TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    complete INTEGER NOT NULL,
    missing TEXT NOT NULL,
    evaluated_at REAL NOT NULL,
    PRIMARY KEY (route, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS calendar_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    removed_by TEXT,
    removed_at REAL
);
"""


#: Version 2: an admin's confirmations (or edits) of the default group's opening windows; the newest is in force.
_DEFAULT_CONFIRMATIONS = """
CREATE TABLE default_confirmations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    windows TEXT NOT NULL,
    confirmed_by TEXT NOT NULL,
    confirmed_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Sweep:
    id: int
    group: str
    closing_at: float
    swept_at: float
    #: sensor key → {"state", "name", "since"}
    states: dict[str, dict[str, Any]]
    not_closed: int


@dataclass(frozen=True)
class Visit:
    id: int
    ts: float
    checkpoint: str | None  # None: a tag no checkpoint carries
    tag: str
    sensor: str
    device: str
    input: str


_SWEEP_COLUMNS = "id, grp, closing_at, swept_at, states, not_closed"
_VISIT_COLUMNS = "id, ts, checkpoint, tag, sensor, device, input"


def _sweep(row: tuple[Any, ...]) -> Sweep:
    return Sweep(row[0], row[1], row[2], row[3], json.loads(row[4]), row[5])


class GateStore(SqliteStore):
    STORE = "gate"
    MIGRATIONS = (Migration(1, "closing sweeps, patrol visits and rounds, calendar overrides (0.1.0)", _SCHEMA),
                  Migration(2, "confirmations of the default door group's opening windows", _DEFAULT_CONFIRMATIONS))

    # -- bookkeeping ---------------------------------------------------------------------------

    def last_tick(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM gate_meta WHERE key = 'last_tick'").fetchone()
        return float(row[0]) if row else None

    def set_last_tick(self, now: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO gate_meta (key, value) VALUES ('last_tick', ?)", (repr(now),))

    # -- sweeps --------------------------------------------------------------------------------

    def add_sweep(self, group: str, closing_at: float, swept_at: float, states: dict[str, dict[str, Any]],
                  not_closed: int) -> Sweep | None:
        """Record a closing sweep; None when this closing time was already swept."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO sweeps (grp, closing_at, swept_at, states, not_closed) VALUES (?, ?, ?, ?, ?)",
                (group, closing_at, swept_at, json.dumps(states, ensure_ascii=False), not_closed))
            if not cursor.rowcount:
                return None
            return Sweep(int(cursor.lastrowid or 0), group, closing_at, swept_at, states, not_closed)

    def sweeps(self, group: str | None = None, since: float | None = None, until: float | None = None,
               limit: int = 100) -> list[Sweep]:
        """Sweeps newest first."""
        clauses, args = ["1 = 1"], []
        for clause, value in (("grp = ?", group), ("closing_at >= ?", since), ("closing_at < ?", until)):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        where = " AND ".join(clauses)  # fixed clauses only; values are bound
        query = f"SELECT {_SWEEP_COLUMNS} FROM sweeps WHERE {where} ORDER BY closing_at DESC LIMIT ?"  # noqa: S608
        with self._lock:
            rows = self._db.execute(query, [*args, limit]).fetchall()
        return [_sweep(row) for row in rows]

    def last_sweep(self, group: str) -> Sweep | None:
        found = self.sweeps(group, limit=1)
        return found[0] if found else None

    # -- patrols -------------------------------------------------------------------------------

    def add_visit(self, ts: float, checkpoint: str | None, tag: str, sensor: str, device: str, boot_id: str,
                  seq: int, input_: str) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO patrol_visits (ts, checkpoint, tag, sensor, device, boot_id, seq, input)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (ts, checkpoint, tag, sensor, device, boot_id, seq, input_))
        return bool(cursor.rowcount)

    def visits(self, since: float, until: float, limit: int = 10_000) -> list[Visit]:
        """Visits in [since, until), oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_VISIT_COLUMNS} FROM patrol_visits WHERE ts >= ? AND ts < ? ORDER BY ts, id LIMIT ?",  # noqa: S608
                (since, until, limit)).fetchall()
        return [Visit(*row) for row in rows]

    def add_round(self, route: str, start: float, end: float, complete: bool, missing: list[str],
                  evaluated_at: float) -> bool:
        """Record a round window's outcome; False when it was already evaluated."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO patrol_rounds (route, start, end, complete, missing, evaluated_at)"
                " VALUES (?, ?, ?, ?, ?, ?)", (route, start, end, int(complete), json.dumps(missing), evaluated_at))
        return bool(cursor.rowcount)

    def rounds(self, since: float, until: float) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT route, start, end, complete, missing, evaluated_at FROM patrol_rounds"
                " WHERE start >= ? AND start < ? ORDER BY start", (since, until)).fetchall()
        return [{"route": r, "start": s, "end": e, "complete": bool(c), "missing": json.loads(m), "evaluated_at": at}
                for r, s, e, c, m, at in rows]

    # -- calendar overrides --------------------------------------------------------------------

    def add_override(self, spec: OverrideSpec, who: str, now: float) -> StoredOverride:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO calendar_overrides (spec, created_by, created_at) VALUES (?, ?, ?)",
                (spec.model_dump_json(), who, now))
        return StoredOverride(int(cursor.lastrowid or 0), spec, who, now)

    def remove_override(self, override_id: int, who: str, now: float) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE calendar_overrides SET removed_by = ?, removed_at = ? WHERE id = ? AND removed_at IS NULL",
                (who, now, override_id))
        return bool(cursor.rowcount)

    def overrides(self) -> list[StoredOverride]:
        with self._lock:
            rows = self._db.execute("SELECT id, spec, created_by, created_at FROM calendar_overrides"
                                    " WHERE removed_at IS NULL ORDER BY id").fetchall()
        return [StoredOverride(i, OverrideSpec.model_validate_json(spec), who, at) for i, spec, who, at in rows]

    # -- the default group's windows -----------------------------------------------------------

    def confirm_defaults(self, windows: DefaultWindows, who: str, now: float) -> DefaultConfirmation:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO default_confirmations (windows, confirmed_by, confirmed_at) VALUES (?, ?, ?)",
                (windows.model_dump_json(), who, now))
        return DefaultConfirmation(int(cursor.lastrowid or 0), windows, who, now)

    def default_confirmation(self) -> DefaultConfirmation | None:
        """The newest confirmation (None: the default windows are the config's, not yet confirmed)."""
        with self._lock:
            row = self._db.execute("SELECT id, windows, confirmed_by, confirmed_at FROM default_confirmations"
                                   " ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return DefaultConfirmation(row[0], DefaultWindows.model_validate_json(row[1]), row[2], row[3])
