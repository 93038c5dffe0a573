"""PostgreSQL schemas as numbered steps, the way the hub's SQLite stores keep theirs (hub.store.sqlite).

Each step runs once, in order, in one transaction with the ``schema_version`` row that
records it (one row per store, so a district database and a school's series store can
share a database). Several processes starting at once take a transaction-scoped
advisory lock first, so exactly one applies a step and the others find it done.
Released steps are never edited: a change is a new step (docs/operations.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

_LOGGER = logging.getLogger(__name__)

#: The advisory lock key migrations serialise on ("xiaoan-m" as bytes).
MIGRATION_LOCK = 0x7869_616F_616E_2D6D


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


def check_steps(store: str, migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"{store}: migration versions must be 1, 2, 3 … in order, got {versions}")


def migrate(db: psycopg.Connection[tuple[object, ...]], store: str, migrations: Sequence[Migration]) -> int:
    """Bring ``store``'s tables to the newest version; returns it. Raises if the database is newer than this release."""
    latest = migrations[-1].version
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (store TEXT PRIMARY KEY, version INTEGER NOT NULL,"
                   " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        row = db.execute("SELECT version FROM schema_version WHERE store = %s", (store,)).fetchone()
        found = 0 if row is None else int(str(row[0]))
        if found > latest:
            raise RuntimeError(f"the {store} tables are at schema version {found}, this release knows up to"
                               f" {latest}: they were written by a newer xiaoan; install that release")
        for step in migrations:
            if step.version > found:
                _LOGGER.info("%s schema version %d: %s", store, step.version, step.description)
                db.execute(step.sql.encode())
        if latest > found:
            db.execute("INSERT INTO schema_version (store, version) VALUES (%s, %s) ON CONFLICT (store)"
                       " DO UPDATE SET version = excluded.version, applied_at = now()", (store, latest))
    return latest
