"""Generated reports, sign-offs and reminders in SQLite (``reports.sqlite3`` in the hub's state directory).

A file of its own like the sample and gate registers: the record of which weeks were
reviewed and signed is kept for inspections, apart from the alert store's working set.
The signature itself is also written to the hub's hash-chained audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS report_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS report_runs (
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    generated_at REAL NOT NULL,
    path TEXT NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, label)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signer_name TEXT NOT NULL,
    signed_at REAL NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    UNIQUE (kind, label)
);
CREATE TABLE IF NOT EXISTS reminders (
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    reminded_at REAL NOT NULL,
    PRIMARY KEY (kind, label, reminded_at)
) WITHOUT ROWID;
"""

#: Version 2: a signature is final. The database itself refuses to change or remove one, so no
#: code path (nor a second signature, which the UNIQUE key already refuses) can rewrite what was signed.
_SIGNOFFS_FINAL = """
CREATE TRIGGER IF NOT EXISTS signoffs_no_update BEFORE UPDATE ON signoffs
BEGIN SELECT RAISE(ABORT, 'a signed report is final: its sign-off cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS signoffs_no_delete BEFORE DELETE ON signoffs
BEGIN SELECT RAISE(ABORT, 'a signed report is final: its sign-off cannot be removed'); END;
"""


@dataclass(frozen=True)
class Run:
    kind: str
    label: str
    generated_at: float
    path: str


@dataclass(frozen=True)
class SignOff:
    id: int
    kind: str
    label: str
    signed_by: str
    signer_name: str
    signed_at: float
    comment: str


class ReportStore(SqliteStore):
    STORE = "reports"
    MIGRATIONS = (Migration(1, "report runs, sign-offs and reminders (0.1.0)", _SCHEMA),
                  Migration(2, "sign-offs cannot be changed or removed", _SIGNOFFS_FINAL))

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM report_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO report_meta (key, value) VALUES (?, ?)", (key, value))

    # -- generated reports -----------------------------------------------------------------------

    def add_run(self, kind: str, label: str, generated_at: float, path: str) -> bool:
        """Record a generated report; False when this period was already generated."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO report_runs (kind, label, generated_at, path) VALUES (?, ?, ?, ?)",
                (kind, label, generated_at, path))
        return bool(cursor.rowcount)

    def run(self, kind: str, label: str) -> Run | None:
        with self._lock:
            row = self._db.execute("SELECT kind, label, generated_at, path FROM report_runs WHERE kind = ? AND"
                                   " label = ?", (kind, label)).fetchone()
        return Run(*row) if row else None

    def runs(self, kind: str | None = None) -> list[Run]:
        query = "SELECT kind, label, generated_at, path FROM report_runs"
        args: list[str] = []
        if kind is not None:
            query += " WHERE kind = ?"
            args.append(kind)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY generated_at", args).fetchall()
        return [Run(*row) for row in rows]

    # -- sign-offs -------------------------------------------------------------------------------

    def add_signoff(self, kind: str, label: str, signed_by: str, signer_name: str, signed_at: float,
                    comment: str) -> SignOff | None:
        """Record a signature; None when the period is already signed."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO signoffs (kind, label, signed_by, signer_name, signed_at, comment)"
                " VALUES (?, ?, ?, ?, ?, ?)", (kind, label, signed_by, signer_name, signed_at, comment))
            if not cursor.rowcount:
                return None
        return SignOff(int(cursor.lastrowid or 0), kind, label, signed_by, signer_name, signed_at, comment)

    def signoffs(self, kind: str | None = None, label: str | None = None) -> list[SignOff]:
        clauses, args = ["1 = 1"], []
        for clause, value in (("kind = ?", kind), ("label = ?", label)):
            if value is not None:
                clauses.append(clause)
                args.append(value)
        query = ("SELECT id, kind, label, signed_by, signer_name, signed_at, comment FROM signoffs WHERE "  # noqa: S608
                 + " AND ".join(clauses) + " ORDER BY signed_at")  # fixed clauses only; values are bound
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [SignOff(*row) for row in rows]

    # -- reminders -------------------------------------------------------------------------------

    def last_reminded(self, kind: str, label: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT max(reminded_at) FROM reminders WHERE kind = ? AND label = ?",
                                   (kind, label)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def add_reminder(self, kind: str, label: str, at: float) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO reminders (kind, label, reminded_at) VALUES (?, ?, ?)",
                             (kind, label, at))

    def reminders(self, kind: str, label: str) -> list[float]:
        with self._lock:
            rows = self._db.execute("SELECT reminded_at FROM reminders WHERE kind = ? AND label = ? ORDER BY"
                                    " reminded_at", (kind, label)).fetchall()
        return [float(r[0]) for r in rows]
