"""What a district admin does from the accounts page: list accounts, make one, disable one, register a school.

Making an account and registering a school are ``add_inspector`` and
``DistrictStore.add_site``, the same as on the command line; here they are done as
the signed-in admin, whose name goes into the row and the account log. An account is
disabled, never deleted: its signatures under past weeks name it. Disabling ends its
sessions and its token at once. An admin cannot disable themself, so a district is
never left with nobody to manage it by a slip of the hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.rows import class_row

from hub.auth.credentials import Passwords
from hub.district import sessions
from hub.district.inspectors import DistrictRole, Inspector, add_inspector
from hub.district.store import DistrictStore, log_account_change

#: Lines of the account log the page shows (the newest).
LOG_LINES = 50


@dataclass(frozen=True)
class Account:
    name: str
    display_name: str
    #: A DistrictRole's value.
    role: str
    all_sites: bool
    sites: list[str]
    created_at: dt.datetime
    created_by: str | None
    disabled_at: dt.datetime | None
    disabled_by: str | None
    has_password: bool


@dataclass(frozen=True)
class LogLine:
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


def accounts(store: DistrictStore) -> list[Account]:
    """Every account, disabled ones too (they are kept), by name."""
    with store.pool.connection() as db, db.cursor(row_factory=class_row(Account)) as rows:
        return rows.execute(
            "SELECT i.name, i.display_name, i.role, i.all_sites,"
            " coalesce(array_agg(s.site ORDER BY s.site) FILTER (WHERE s.site IS NOT NULL), '{}') AS sites,"
            " i.created_at, i.created_by, i.disabled_at, i.disabled_by, i.password_hash IS NOT NULL AS has_password"
            " FROM inspectors i LEFT JOIN inspector_sites s ON s.inspector = i.name"
            " GROUP BY i.name ORDER BY i.name").fetchall()


def make_account(store: DistrictStore, passwords: Passwords, admin: Inspector, name: str, display_name: str,
                 role: DistrictRole, sites: Sequence[str], password: str) -> str:
    """Make an account with its first password; returns its token (shown once). Raises ValueError naming a field.

    An admin's account sees every school; an inspector's names its schools.
    """
    sessions.check_password(password)  # before the account is made: never one left without its password
    every = role is DistrictRole.ADMIN
    token = add_inspector(store, name, display_name, [] if every else sites, all_sites=every, role=role,
                          created_by=admin.name)
    sessions.set_password(store, passwords, name, password)
    return token


def disable(store: DistrictStore, admin: Inspector, name: str) -> None:
    """Disable an account now: its token, password and sessions stop working. Raises ValueError naming ``name``."""
    if name == admin.name:
        raise ValueError("name: you cannot disable your own account")
    with store.pool.connection() as db, db.transaction():
        changed = db.execute("UPDATE inspectors SET disabled_at = now(), disabled_by = %s"
                             " WHERE name = %s AND disabled_at IS NULL", (admin.name, name)).rowcount
        if not changed:
            raise ValueError(f"name: no account {name!r} that is not disabled already")
        db.execute("DELETE FROM district_sessions WHERE inspector = %s", (name,))
        log_account_change(db, admin.name, "account.disabled", name, {})


def log(store: DistrictStore, limit: int = LOG_LINES) -> list[LogLine]:
    """The newest lines of the account log: who made, disabled or registered what, and when."""
    with store.pool.connection() as db, db.cursor(row_factory=class_row(LogLine)) as rows:
        return rows.execute("SELECT at, actor, action, subject, detail FROM district_account_log"
                            " ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
