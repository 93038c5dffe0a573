"""The gate register in SQLite (``visitors.sqlite3`` in the hub's state directory).

Visits (invited or not, in and out), leave slips and pupils' departures, and which
classes each teacher account heads. A file of its own: visitor records hold personal
data kept for a limited time (``visitors.retention_days``) and deleted by a duty, which
the hub's long-lived record must not hold. Identity numbers are never stored: only the
document's type and its last four characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.store.rows import Rows
from hub.store.sqlite import Migration, SqliteStore
from hub.visitors.kinds import ExitKind, IdType, SlipState, VisitState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key TEXT UNIQUE,
    state TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    organisation TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    party_size INTEGER NOT NULL DEFAULT 1,
    plate TEXT NOT NULL DEFAULT '',
    id_type TEXT NOT NULL,
    id_last4 TEXT NOT NULL DEFAULT '',
    expected_day TEXT,
    invited_by TEXT NOT NULL DEFAULT '',
    invited_at REAL,
    registered_by TEXT NOT NULL DEFAULT '',
    registered_at REAL,
    answered_by TEXT NOT NULL DEFAULT '',
    answered_at REAL,
    arrived_at REAL,
    left_at REAL,
    left_by TEXT NOT NULL DEFAULT '',
    touched_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS visits_by_state ON visits (state, expected_day);
CREATE INDEX IF NOT EXISTS visits_by_phone ON visits (phone);
CREATE INDEX IF NOT EXISTS visits_by_plate ON visits (plate);
CREATE INDEX IF NOT EXISTS visits_by_touch ON visits (touched_at);
CREATE TABLE IF NOT EXISTS leaves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key TEXT UNIQUE,
    exit_kind TEXT NOT NULL,
    state TEXT NOT NULL,
    pupil TEXT NOT NULL,
    class_name TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    start REAL NOT NULL,
    until REAL NOT NULL,
    returns INTEGER NOT NULL,
    collector TEXT NOT NULL DEFAULT '',
    issued_by TEXT NOT NULL DEFAULT '',
    issued_at REAL NOT NULL,
    out_at REAL,
    out_by TEXT NOT NULL DEFAULT '',
    returned_at REAL,
    returned_by TEXT NOT NULL DEFAULT '',
    touched_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_by_state ON leaves (state, until);
CREATE INDEX IF NOT EXISTS leaves_by_touch ON leaves (touched_at);
CREATE TABLE IF NOT EXISTS class_teachers (
    username TEXT NOT NULL,
    class_name TEXT NOT NULL,
    PRIMARY KEY (username, class_name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visitors_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

@dataclass
class Visit:
    id: int
    request_key: str | None
    state: VisitState
    name: str
    #: Digits only; shown masked everywhere but a visit's own details.
    phone: str
    organisation: str
    #: The account the visitor comes to see (who invited them, or whom the gatekeeper asked).
    host: str
    purpose: str
    party_size: int
    plate: str
    id_type: IdType
    id_last4: str
    #: An invitation's day (ISO date); None for a visitor who came unannounced.
    expected_day: str | None
    invited_by: str
    invited_at: float | None
    registered_by: str
    registered_at: float | None
    #: Who let them in or turned them away for the host (the host, or the safety officer), and when.
    answered_by: str
    answered_at: float | None
    arrived_at: float | None
    left_at: float | None
    left_by: str


@dataclass
class Leave:
    """A pupil's leave: a slip the head teacher issued, or a departure recorded at the gate without one."""

    id: int
    request_key: str | None
    exit_kind: ExitKind
    state: SlipState
    pupil: str
    class_name: str
    reason: str
    start: float
    until: float
    returns: bool
    collector: str
    issued_by: str
    issued_at: float
    out_at: float | None
    out_by: str
    returned_at: float | None
    returned_by: str


@dataclass(frozen=True)
class NewVisit:
    name: str
    phone: str
    organisation: str
    host: str
    purpose: str
    party_size: int
    plate: str
    id_type: IdType
    id_last4: str


_VISITS = Rows("visits", (
    "id", "request_key", "state", "name", "phone", "organisation", "host", "purpose", "party_size", "plate",
    "id_type", "id_last4", "expected_day", "invited_by", "invited_at", "registered_by", "registered_at",
    "answered_by", "answered_at", "arrived_at", "left_at", "left_by"),
    Visit, {"state": VisitState, "id_type": IdType})
_LEAVES = Rows("leaves", (
    "id", "request_key", "exit_kind", "state", "pupil", "class_name", "reason", "start", "until", "returns",
    "collector", "issued_by", "issued_at", "out_at", "out_by", "returned_at", "returned_by"),
    Leave, {"exit_kind": ExitKind, "state": SlipState, "returns": bool})


class VisitorStore(SqliteStore):
    STORE = "visitors"
    MIGRATIONS = (Migration(1, "visits, leave slips and departures, teachers' classes", _SCHEMA),)

    # -- visits --------------------------------------------------------------------------------

    def _visits(self, where: str, args: Sequence[Any], order: str = "id", limit: int = 1000) -> list[Visit]:
        return self.select(_VISITS, where, args, order, limit)

    def visit(self, visit_id: int) -> Visit | None:
        return self.first(_VISITS, "id = ?", [visit_id])

    def visit_by_key(self, request_key: str) -> Visit | None:
        return self.first(_VISITS, "request_key = ?", [request_key])

    def visits_in(self, states: Sequence[VisitState]) -> list[Visit]:
        marks = ",".join("?" for _ in states)
        return self._visits(f"state IN ({marks})", list(states), order="coalesce(arrived_at, registered_at), id")

    def expected_on(self, day: str) -> list[Visit]:
        return self._visits("state = ? AND expected_day = ?", [VisitState.EXPECTED, day])

    def hosted_by(self, host: str, states: Sequence[VisitState]) -> list[Visit]:
        marks = ",".join("?" for _ in states)
        return self._visits(f"host = ? AND state IN ({marks})", [host, *states], order="id DESC")

    def arrived_between(self, since: float, until: float) -> list[Visit]:
        """Visits that came in during ``[since, until)``, or were inside then (the day's register)."""
        return self._visits("arrived_at IS NOT NULL AND arrived_at < ? AND (left_at IS NULL OR left_at >= ?)",
                            [until, since], order="arrived_at, id", limit=100_000)

    def seen_by(self, phone: str | None, plate: str | None, limit: int = 10) -> list[Visit]:
        """Earlier visits of the same phone or plate, newest first (a repeat visitor's details to reuse)."""
        clauses, args = [], []
        if phone:
            clauses.append("phone = ?")
            args.append(phone)
        if plate:
            clauses.append("plate = ?")
            args.append(plate)
        if not clauses:
            return []
        return self._visits(f"({' OR '.join(clauses)}) AND arrived_at IS NOT NULL", args, order="id DESC",
                            limit=limit)

    def seen_by_phone_end(self, digits: str, limit: int = 20) -> list[Visit]:
        """Earlier visits whose phone ends in these digits (what a gatekeeper types in two taps)."""
        return self._visits("phone LIKE ? AND arrived_at IS NOT NULL", [f"%{digits}"], order="id DESC", limit=limit)

    def add_visit(self, visit: NewVisit, state: VisitState, request_key: str | None, at: float, *,
                  expected_day: str | None = None, invited_by: str = "", registered_by: str = "") -> int:
        """Insert a visit; raises ``sqlite3.IntegrityError`` when the request key is already on record."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO visits (request_key, state, name, phone, organisation, host, purpose, party_size, plate,"
                " id_type, id_last4, expected_day, invited_by, invited_at, registered_by, registered_at, arrived_at,"
                " touched_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [request_key, state, visit.name, visit.phone, visit.organisation, visit.host, visit.purpose,
                 visit.party_size, visit.plate, visit.id_type, visit.id_last4, expected_day, invited_by,
                 at if invited_by else None, registered_by, at if registered_by else None, None, at])
            return int(cursor.lastrowid or 0)

    def move_visit(self, visit_id: int, expected: VisitState, state: VisitState, at: float,
                   changes: dict[str, Any]) -> bool:
        """Move a visit from ``expected`` to ``state``; False when it was no longer ``expected``."""
        allowed = {"registered_by", "registered_at", "answered_by", "answered_at", "arrived_at", "left_at",
                   "left_by", "id_type", "id_last4", "request_key"}
        assert set(changes) <= allowed, changes
        sets = "".join(f", {column} = ?" for column in changes)
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE visits SET state = ?, touched_at = ?{sets}"  # noqa: S608 - fixed names
                                " WHERE id = ? AND state = ?", [state, at, *changes.values(), visit_id, expected])
            return cursor.rowcount == 1

    # -- leaves --------------------------------------------------------------------------------

    def _leaves(self, where: str, args: Sequence[Any], order: str = "id", limit: int = 1000) -> list[Leave]:
        return self.select(_LEAVES, where, args, order, limit)

    def leave(self, leave_id: int) -> Leave | None:
        return self.first(_LEAVES, "id = ?", [leave_id])

    def leave_by_key(self, request_key: str) -> Leave | None:
        return self.first(_LEAVES, "request_key = ?", [request_key])

    def leaves_in(self, states: Sequence[SlipState]) -> list[Leave]:
        marks = ",".join("?" for _ in states)
        return self._leaves(f"state IN ({marks})", list(states), order="start, id")

    def leaves_between(self, since: float, until: float) -> list[Leave]:
        """Slips and departures whose time at the gate (or whose slip) falls in ``[since, until)``."""
        return self._leaves("coalesce(out_at, start) >= ? AND coalesce(out_at, start) < ?", [since, until],
                            order="coalesce(out_at, start), id", limit=100_000)

    def add_leave(self, exit_kind: ExitKind, state: SlipState, pupil: str, class_name: str, reason: str,
                  start: float, until: float, returns: bool, collector: str, issued_by: str, at: float,
                  request_key: str | None, out_by: str = "") -> int:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO leaves (request_key, exit_kind, state, pupil, class_name, reason, start, until, returns,"
                " collector, issued_by, issued_at, out_at, out_by, touched_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [request_key, exit_kind, state, pupil, class_name, reason, start, until, int(returns), collector,
                 issued_by, at, at if out_by else None, out_by, at])
            return int(cursor.lastrowid or 0)

    def move_leave(self, leave_id: int, expected: SlipState, state: SlipState, at: float,
                   changes: dict[str, Any]) -> bool:
        allowed = {"out_at", "out_by", "returned_at", "returned_by"}
        assert set(changes) <= allowed, changes
        sets = "".join(f", {column} = ?" for column in changes)
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE leaves SET state = ?, touched_at = ?{sets}"  # noqa: S608 - fixed names
                                " WHERE id = ? AND state = ?", [state, at, *changes.values(), leave_id, expected])
            return cursor.rowcount == 1

    # -- what registrations happened when (an after-hours opening is checked against them) ----

    def registrations_between(self, since: float, until: float) -> list[float]:
        """Every time someone was registered at the gate in ``[since, until]``: in, out, turned away, pupils."""
        query = """
            SELECT ts FROM (
                SELECT registered_at AS ts FROM visits UNION ALL SELECT arrived_at FROM visits
                UNION ALL SELECT left_at FROM visits UNION ALL SELECT answered_at FROM visits
                UNION ALL SELECT out_at FROM leaves UNION ALL SELECT returned_at FROM leaves)
            WHERE ts IS NOT NULL AND ts >= ? AND ts <= ? ORDER BY ts"""
        with self._lock:
            return [float(ts) for (ts,) in self._db.execute(query, [since, until])]

    # -- teachers' classes ---------------------------------------------------------------------

    def classes_of(self, username: str) -> list[str]:
        with self._lock:
            return [c for (c,) in self._db.execute(
                "SELECT class_name FROM class_teachers WHERE username = ? ORDER BY class_name", [username])]

    def teachers_of(self, class_name: str) -> list[str]:
        with self._lock:
            return [u for (u,) in self._db.execute(
                "SELECT username FROM class_teachers WHERE class_name = ? ORDER BY username", [class_name])]

    def all_classes(self) -> list[str]:
        with self._lock:
            return [c for (c,) in self._db.execute("SELECT DISTINCT class_name FROM class_teachers ORDER BY 1")]

    def set_classes(self, username: str, classes: Sequence[str]) -> list[str]:
        """Replace a teacher's classes; returns the ones before."""
        with self.transaction() as db:
            before = [c for (c,) in db.execute(
                "SELECT class_name FROM class_teachers WHERE username = ? ORDER BY class_name", [username])]
            db.execute("DELETE FROM class_teachers WHERE username = ?", [username])
            db.executemany("INSERT OR IGNORE INTO class_teachers (username, class_name) VALUES (?, ?)",
                           [(username, c) for c in classes])
        return before

    # -- bookkeeping and retention -------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM visitors_meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO visitors_meta (key, value) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])

    def delete_before(self, cutoff: float) -> tuple[int, int]:
        """Delete finished visits and leaves last touched before ``cutoff``; returns how many of each.

        A visitor still inside, a pupil still out or a slip still to be used is kept whatever its age:
        deleting it would hide someone the gate still answers for.
        """
        with self.transaction() as db:
            visits = db.execute("DELETE FROM visits WHERE touched_at < ? AND state NOT IN (?, ?)",
                                [cutoff, VisitState.INSIDE, VisitState.WAITING]).rowcount
            leaves = db.execute("DELETE FROM leaves WHERE touched_at < ? AND state != ?",
                                [cutoff, SlipState.OUT]).rowcount
        return visits, leaves
