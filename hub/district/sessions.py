"""An inspector signs in to the district's pages with a password; a session cookie then stands for them.

Tokens are for programs (a provincial platform, a script); people use a name and a
password (``python -m hub.district set-password NAME`` reads it from standard input).
The password is kept as an argon2id hash (the hub's own ``Passwords``). Five wrong
passwords in a row lock the account for 15 minutes, so guessing is slow whatever the
network; a locked account is told it is locked. A session is a random id kept as its
SHA-256; it ends after 8 idle hours or 7 days, or when its inspector signs out, and an
inspector holds at most 20 (the oldest go first).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import StrEnum

from hub.auth.credentials import Passwords
from hub.district.inspectors import Inspector, inspector_named
from hub.district.store import DistrictStore, token_digest

#: Wrong passwords in a row before the account is locked, and for how long.
MAX_FAILURES = 5
LOCK_S = 900
#: A session ends after this long without a request, and this long after it began, whatever.
IDLE_S = 8 * 3600
MAX_AGE_S = 7 * 86_400
#: Sessions one inspector holds at most (a new sign-in ends the oldest).
MAX_SESSIONS = 20
#: Passwords shorter than this are refused when set.
MIN_PASSWORD = 10


class SignIn(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignIn
    session_id: str = ""


def check_password(password: str) -> None:
    """The rule a new password keeps; raises ValueError naming the field."""
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise ValueError(f"password: {MIN_PASSWORD} to 200 characters")


def set_password(store: DistrictStore, passwords: Passwords, name: str, password: str) -> None:
    """Give an inspector a password (and unlock them); raises ValueError naming the field."""
    check_password(password)
    with store.pool.connection() as db:
        changed = db.execute("UPDATE inspectors SET password_hash = %s, failed_logins = 0, locked_until = NULL"
                             " WHERE name = %s", (passwords.hash(password), name)).rowcount
        # A new password ends every session of the old one.
        db.execute("DELETE FROM district_sessions WHERE inspector = %s", (name,))
    if not changed:
        raise ValueError(f"name: no inspector called {name!r}")


def sign_in(store: DistrictStore, passwords: Passwords, name: str, password: str) -> SignInResult:
    with store.pool.connection() as db:
        # A disabled account is as good as none: the same answer as a wrong password.
        row = db.execute("SELECT password_hash, coalesce(locked_until > now(), false) FROM inspectors"
                         " WHERE name = %s AND disabled_at IS NULL", (name[:64],)).fetchone()
    stored = None if row is None or row[0] is None else str(row[0])
    if row is not None and row[1]:
        passwords.verify(None, password)  # the same work as a try: the answer's time tells nothing
        return SignInResult(SignIn.LOCKED)
    if not passwords.verify(stored, password):
        if row is not None:
            with store.pool.connection() as db:
                # The fifth wrong try in a row locks the account and starts the count again.
                db.execute("UPDATE inspectors SET"
                           " locked_until = CASE WHEN failed_logins + 1 >= %(max)s"
                           " THEN now() + make_interval(secs => %(lock)s) ELSE locked_until END,"
                           " failed_logins = CASE WHEN failed_logins + 1 >= %(max)s THEN 0 ELSE failed_logins + 1 END"
                           " WHERE name = %(name)s", {"max": MAX_FAILURES, "lock": LOCK_S, "name": name})
        return SignInResult(SignIn.WRONG)
    session_id = secrets.token_urlsafe(32)
    with store.pool.connection() as db, db.transaction():
        db.execute("UPDATE inspectors SET failed_logins = 0, locked_until = NULL WHERE name = %s", (name,))
        db.execute("INSERT INTO district_sessions (id_sha256, inspector) VALUES (%s, %s)",
                   (token_digest(session_id), name))
        db.execute("DELETE FROM district_sessions WHERE inspector = %s AND id_sha256 NOT IN"
                   " (SELECT id_sha256 FROM district_sessions WHERE inspector = %s ORDER BY created_at DESC LIMIT %s)",
                   (name, name, MAX_SESSIONS))
    return SignInResult(SignIn.OK, session_id)


def session_inspector(store: DistrictStore, session_id: str) -> Inspector | None:
    """The inspector a live session belongs to (and the session touched), or None."""
    with store.pool.connection() as db:
        row = db.execute("UPDATE district_sessions SET last_seen = now() WHERE id_sha256 = %s"
                         " AND last_seen > now() - make_interval(secs => %s)"
                         " AND created_at > now() - make_interval(secs => %s) RETURNING inspector",
                         (token_digest(session_id), IDLE_S, MAX_AGE_S)).fetchone()
    return None if row is None else inspector_named(store, str(row[0]))


def sign_out(store: DistrictStore, session_id: str) -> None:
    with store.pool.connection() as db:
        db.execute("DELETE FROM district_sessions WHERE id_sha256 = %s", (token_digest(session_id),))
