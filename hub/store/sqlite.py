"""The base of the hub's SQLite stores: one connection, one lock, safe transactions, versioned schemas.

Every store (state, accounts, series, gate, samples, reports, notifications) is a
``SqliteStore``: it names itself (``STORE``) and declares its schema as numbered
``Migration`` steps (``MIGRATIONS``); version 1 is the schema of release 0.1.0, the
last one without versions. Opening a store applies the steps its file lacks, all in
one transaction, so a hub stopped half-way through an upgrade finds the file as it
was before, never half-changed.

Why a ``schema_version`` table and not ``PRAGMA user_version``: ``hub.sqlite3`` holds
two stores (the state with its audit log, and the accounts), each with its own steps,
and one integer per file cannot say whose step it counts. The table has one row per
store: ``schema_version(store, version, applied_at)``.

Rules for steps (docs/operations.md, "Schema versions"):

- every later change of a table is a new step with the next number; a released step
  is never edited, since databases in schools already ran it;
- version 1 only creates what is missing (``CREATE … IF NOT EXISTS``): a database of
  0.1.0 has the tables but no version row, and is adopted by running version 1 over it,
  which changes nothing there, and recording it.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from hub.store.rows import Rows

_LOGGER = logging.getLogger(__name__)

R = TypeVar("R")

#: Per-store schema versions of one database file (see the module docstring for why a table).
VERSION_TABLE = "schema_version"
_VERSION_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (store TEXT PRIMARY KEY,"
                   " version INTEGER NOT NULL, applied_at REAL NOT NULL)")


def connect(path: Path) -> sqlite3.Connection:
    """A WAL connection shared by threads under the caller's lock, in autocommit mode.

    ``isolation_level=None``: the stores say where transactions begin (``transaction()``),
    the sqlite3 module never opens one behind their back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable against a crash of the hub process, not against a power
    # cut: the WAL is synced only at checkpoints. Commits that are followed by a confirmation
    # to a device (the ingest commits) ask for ``transaction(durable=True)``, which syncs.
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db


@dataclass(frozen=True)
class Migration:
    """One numbered step of a store's schema: SQL text (one or more statements) or a function."""

    version: int
    description: str
    apply: str | Callable[[sqlite3.Connection], None]

    def run(self, db: sqlite3.Connection) -> None:
        """Apply the step on ``db`` inside the caller's transaction."""
        if isinstance(self.apply, str):
            # Statement by statement: ``executescript`` would commit the transaction first.
            for statement in statements(self.apply):
                db.execute(statement)
        else:
            self.apply(db)


class SchemaTooNew(RuntimeError):
    """A database written by a newer xiaoan: this release does not know its tables, and will not guess.

    Refused before anything is written, so going back to the newer release (or to a
    backup) finds the file untouched.
    """

    def __init__(self, path: Path, store: str, found: int, known: int) -> None:
        self.path, self.store, self.found, self.known = path, store, found, known
        super().__init__(
            f"{path}: the {store} tables are at schema version {found}, but this xiaoan release knows versions"
            f" up to {known} only: the database was written by a newer release of xiaoan. Install that release"
            f" (or a newer one) again, or restore a backup made with this release; the file was left unchanged."
            f" · 数据库 {path} 由更新版本的 xiaoan 写入（{store} 版本 {found}，本版本最高 {known}）："
            f"请升级 xiaoan，或恢复本版本的备份。")


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one by one (a trigger's ``BEGIN … END`` stays whole)."""
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start:end + 1]):
            statement = script[start:end + 1].strip()
            if statement != ";":
                yield statement
            start = end + 1
    rest = [line.strip() for line in script[start:].splitlines()]
    if any(line and not line.startswith("--") for line in rest):
        raise ValueError(f"incomplete SQL statement (no closing ';'): {script[start:].strip()[:80]!r}")


def check_steps(store: str, migrations: Sequence[Migration]) -> None:
    """Steps numbered 1, 2, 3 … in order: a gap or a repeat is a mistake in the code, found at import."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{store}: migration versions must be 1, 2, 3 … in order, got {versions}")


def _user_tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}


def _tables_created_by(step: Migration) -> set[str]:
    """The tables a step creates, found by running it on an empty in-memory database."""
    with closing(sqlite3.connect(":memory:", isolation_level=None)) as scratch:
        step.run(scratch)
        return _user_tables(scratch)


def recorded_version(db: sqlite3.Connection, store: str) -> int | None:
    """The schema version recorded for ``store`` in this file (None: no record, e.g. a 0.1.0 file)."""
    if VERSION_TABLE not in _user_tables(db):
        return None
    row = db.execute(f"SELECT version FROM {VERSION_TABLE} WHERE store = ?", (store,)).fetchone()
    return None if row is None else int(row[0])


def migrate(db: sqlite3.Connection, path: Path, store: str, migrations: Sequence[Migration]) -> int:
    """Bring ``store``'s tables in ``db`` to the newest version; returns it. Raises SchemaTooNew.

    ``BEGIN IMMEDIATE`` takes the file's write lock before reading the version, so two
    processes opening one file at once (the hub and a ``xiaoan`` command) apply each step
    once: the second waits, then finds the steps done.
    """
    latest = migrations[-1].version
    db.execute("BEGIN IMMEDIATE")
    try:
        found = recorded_version(db, store)
        if found is not None and found > latest:
            raise SchemaTooNew(path, store, found, latest)
        pending = [m for m in migrations if m.version > (found or 0)]
        adopted = found is None and bool(_tables_created_by(migrations[0]) & _user_tables(db))
        if adopted:
            # Tables without a version row: a database of 0.1.0. Version 1 only creates what is
            # missing, so running it over the old tables leaves their rows and shape as they are.
            _LOGGER.info("%s: %s tables from before schema versions, recorded as version 1", path, store)
        if pending:
            db.execute(_VERSION_SCHEMA)
            for step in pending:
                if not (adopted and step.version == 1):
                    _LOGGER.info("%s: %s schema version %d: %s", path, store, step.version, step.description)
                step.run(db)
            db.execute(f"INSERT INTO {VERSION_TABLE} (store, version, applied_at) VALUES (?, ?, ?)"
                       " ON CONFLICT (store) DO UPDATE SET version = excluded.version,"
                       " applied_at = excluded.applied_at", (store, latest, time.time()))
        db.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise
    return latest


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any (SQLite ends some on its own after certain errors).

    A failing ROLLBACK is logged, not raised: the caller is already raising the error
    that matters.
    """
    if not db.in_transaction:
        return
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        _LOGGER.exception("rollback failed; the connection may still be inside a transaction")


def known_versions() -> dict[str, int]:
    """Each store this release has (every imported ``SqliteStore`` subclass) → the newest version it knows."""
    found: dict[str, int] = {}
    pending = list(SqliteStore.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.STORE] = max(found.get(cls.STORE, 0), cls.MIGRATIONS[-1].version)
        pending.extend(cls.__subclasses__())
    return found


def refuse_newer(db_dir: Path, known: Mapping[str, int]) -> None:
    """Raise SchemaTooNew for the first database in ``db_dir`` that records a store newer than ``known``.

    Run before the hub starts (``xiaoan hub``), so a newer database stops it with that
    message instead of a failed web-server startup. Reads only; files that are not a
    store's (or not SQLite) are left to the stores, which report them when they open.
    """
    for path in sorted(db_dir.glob("*.sqlite3")):
        try:
            with closing(sqlite3.connect(path)) as db:
                rows = db.execute(f"SELECT store, version FROM {VERSION_TABLE}").fetchall()
        except sqlite3.DatabaseError:
            continue  # no version table (0.1.0, or not a store's file): nothing newer to refuse
        for store, version in rows:
            if store in known and int(version) > known[store]:
                raise SchemaTooNew(path, store, int(version), known[store])


class SqliteStore:
    """One SQLite file's store: its connection, its lock, ``transaction()``, its versioned schema.

    Subclasses set ``STORE`` (the name its version is recorded under) and ``MIGRATIONS``.
    The lock is re-entrant: a store method holding it may call another that takes it,
    and may open a ``transaction()`` inside it.
    """

    STORE: ClassVar[str]
    MIGRATIONS: ClassVar[tuple[Migration, ...]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        check_steps(cls.STORE, cls.MIGRATIONS)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._lock = threading.RLock()
        try:
            self.schema_version = migrate(self._db, path, self.STORE, self.MIGRATIONS)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def select(self, rows: Rows[R], where: str, args: Sequence[Any], order: str = "id",
               limit: int = 1000) -> list[R]:
        """The records of ``rows``' table matching ``where`` (fixed text; values in ``args``), at most ``limit``."""
        with self._lock:
            return [rows.record(row) for row in self._db.execute(rows.select(where, order), [*args, limit])]

    def first(self, rows: Rows[R], where: str, args: Sequence[Any], order: str = "id") -> R | None:
        """The first record matching ``where``, or None."""
        found = self.select(rows, where, args, order, limit=1)
        return found[0] if found else None

    @contextmanager
    def transaction(self, immediate: bool = True, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block as one transaction: COMMIT at its end, ROLLBACK on any exception.

        ``durable``: the COMMIT returns only once the WAL is on stable storage
        (``synchronous=FULL`` for this one commit). For commits the hub then confirms to a
        device (a PUBACK, a ``stored`` command), after which the device deletes its copy:
        with NORMAL, a power cut could roll such a commit back. A FULL commit also syncs
        every NORMAL commit before it in the same WAL. Other commits stay NORMAL (cheaper).

        ``immediate`` (the default) takes the file's write lock at BEGIN (``BEGIN IMMEDIATE``).
        Files are shared by more than one connection (the state and the accounts stores in
        ``hub.sqlite3``, the hub and a ``xiaoan`` command); a deferred transaction that reads and then
        writes is refused with "database is locked" at once when another connection
        committed after its read — the busy timeout does not apply to a stale snapshot.
        Taken at BEGIN, the lock makes the other writer wait instead. ``immediate=False``
        only for a block that never writes. Whatever the block raises, the connection
        leaves it outside any transaction, so the next ``BEGIN`` works.
        """
        with self._lock:
            if durable:
                self._db.execute("PRAGMA synchronous=FULL")  # only outside a transaction
            try:
                self._db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    rollback(self._db)
                    raise
            finally:
                if durable:
                    self._db.execute("PRAGMA synchronous=NORMAL")
