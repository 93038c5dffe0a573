"""Accounts, sessions, API tokens and failed logins, in the hub's state database (``hub.sqlite3``).

Its own tables and connection (WAL lets it share the file with ``StateStore``). Only
digests of session ids and tokens are stored, and only argon2id hashes of passwords.
Every lookup re-reads the account, so disabling someone or changing a role takes
effect on their next request, not when a session happens to end.
"""

from __future__ import annotations

import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.auth.credentials import Passwords, digest, new_session_id, new_token
from hub.auth.roles import Role
from hub.auth.users import (
    DEFAULT_LOCALE,
    AccountError,
    LastAdmin,
    NameTaken,
    User,
    UserInfo,
    borrowed_title,
    check_display_name,
    check_locale,
    check_password,
    name_key,
    normalize_username,
)
from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    locale TEXT NOT NULL DEFAULT 'zh-CN',
    disabled INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_digest TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_digest TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures (key, ts);
"""

#: Version 2: who minted each token (the account signed in when it was made; NULL: the hub's shell),
#: so an admin reading the list sees a token made for someone by someone else.
_TOKENS_CREATOR = """
ALTER TABLE api_tokens ADD COLUMN created_by INTEGER REFERENCES users (id);
"""

#: Version 3: one-tap links in alarm messages (hub.auth.links): a single-use token per recipient and alarm,
#: and the short session a used link opens, scoped to that alarm. Only digests are kept.
_ALARM_LINKS = """
CREATE TABLE IF NOT EXISTS alarm_links (
    token_digest TEXT PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS link_sessions (
    id_digest TEXT PRIMARY KEY,
    alert_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;
"""

#: Version 4: SMS replies (hub.alerts.smsreplies): an account's mobile number, so a reply from it acts as
#: that person, and the short codes each alarm SMS offered to each number.
_SMS_REPLIES = """
ALTER TABLE users ADD COLUMN phone TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS users_by_phone ON users (phone) WHERE phone IS NOT NULL;
CREATE TABLE IF NOT EXISTS sms_codes (
    number TEXT NOT NULL,
    code TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    PRIMARY KEY (number, code)
) WITHOUT ROWID;
"""

#: A mobile number as the modem reports a sender: ``+``, country code, number (hub.notify.pdu writes the same).
PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
_USER_COLUMNS = "u.id, u.username, u.display_name, u.role, u.locale"
#: Last-seen and last-used times are written at most this often: a dashboard polling every
#: few seconds should not turn every read into a write.
_TOUCH_EVERY_S = 60.0
#: A token's row with its owner's and its creator's usernames (fixed text; values are always bound).
_SELECT_TOKENS = ("SELECT t.id, t.name, t.hint, t.user_id, u.username, t.created_at, t.last_used_at, t.revoked_at,"
                  " t.created_by, c.username FROM api_tokens t JOIN users u ON u.id = t.user_id"
                  " LEFT JOIN users c ON c.id = t.created_by")


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], username=row[1], display_name=row[2], role=Role(row[3]), locale=row[4])


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    #: The first characters of the token, to recognise it in a list (the rest is not kept).
    hint: str
    user_id: int
    username: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    #: The account that minted it (None: made from the hub's shell, or before this was recorded).
    created_by: int | None = None
    created_by_username: str | None = None


@dataclass(frozen=True)
class Revoked:
    """What a password change or reset ended: the account's other sessions and its live API tokens."""

    sessions: int
    tokens: int


class AccountStore(SqliteStore):
    """Versioned as ``accounts``, apart from the state store it shares ``hub.sqlite3`` with."""

    STORE = "accounts"
    MIGRATIONS = (Migration(1, "users, sessions, API tokens and failed logins (0.1.0)", _SCHEMA),
                  Migration(2, "API tokens record who created them", _TOKENS_CREATOR),
                  Migration(3, "one-tap alarm links and the sessions they open", _ALARM_LINKS),
                  Migration(4, "accounts' mobile numbers and the codes alarm SMS offer", _SMS_REPLIES))

    def __init__(self, path: Path, passwords: Passwords | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(path)
        self.passwords = passwords or Passwords()
        #: Seam for tests of expiry and rate limits.
        self.clock = clock

    # -- accounts ------------------------------------------------------------------------------

    def count_users(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM users").fetchone()
        return int(count)

    def create_user(self, username: str, display_name: str, role: Role, locale: str = DEFAULT_LOCALE,
                    password: str | None = None) -> User:
        """A new account; without a password it can act only through API tokens."""
        name = normalize_username(username)
        shown = check_display_name(display_name or name)
        check_locale(locale)
        hashed = self.passwords.hash(check_password(password)) if password is not None else None
        now = self.clock()
        try:
            with self.transaction() as db:
                self._check_name_free(db, shown, name, Role(role), None)
                cursor = db.execute(
                    "INSERT INTO users (username, display_name, role, locale, password_hash, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)", (name, shown, Role(role).value, locale, hashed, now, now))
        except sqlite3.IntegrityError:
            raise NameTaken("username", f"{name!r} is taken · 用户名已存在") from None
        assert cursor.lastrowid is not None
        return User(cursor.lastrowid, name, shown, Role(role), locale)

    def user(self, user_id: int) -> User | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users u WHERE id = ?", (user_id,)).fetchone()
        return _user(row) if row else None

    def user_by_name(self, username: str) -> User | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users u WHERE username = ?",
                                   (unicodedata.normalize("NFC", username.strip()),)).fetchone()
        return _user(row) if row else None

    def users(self) -> list[UserInfo]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_USER_COLUMNS}, u.disabled, u.password_hash IS NOT NULL, u.created_at, u.updated_at"
                " FROM users u ORDER BY u.id").fetchall()
        return [UserInfo(_user(r), bool(r[5]), bool(r[6]), r[7], r[8]) for r in rows]

    def info(self, user_id: int) -> UserInfo | None:
        return next((i for i in self.users() if i.user.id == user_id), None)

    def update_user(self, user_id: int, *, display_name: str | None = None, role: Role | None = None,
                    locale: str | None = None, disabled: bool | None = None) -> User:
        """Change an account; refuses to leave the hub without an enabled administrator."""
        changes: dict[str, Any] = {}
        if display_name is not None:
            changes["display_name"] = check_display_name(display_name)
        if role is not None:
            changes["role"] = Role(role).value
        if locale is not None:
            changes["locale"] = check_locale(locale)
        if disabled is not None:
            changes["disabled"] = int(disabled)
        with self.transaction() as db:
            row = db.execute("SELECT username, role FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise KeyError(user_id)
            if "display_name" in changes:
                self._check_name_free(db, changes["display_name"], row[0], Role(changes.get("role", row[1])), user_id)
            if changes:
                admins_before = self._enabled_admins(db)
                changes["updated_at"] = self.clock()
                db.execute(f"UPDATE users SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                           [*changes.values(), user_id])
                if admins_before and not self._enabled_admins(db):
                    raise LastAdmin("role", "the hub needs at least one enabled admin · 至少保留一个启用的管理员")
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        user = self.user(user_id)
        assert user is not None
        return user

    @staticmethod
    def _check_name_free(db: sqlite3.Connection, display_name: str, username: str, role: Role,
                         user_id: int | None) -> None:
        """Refuse a display name that passes for someone else: another account's name or a title not one's own.

        The account's own username is always acceptable (it is what a nameless account shows anyway).
        """
        key = name_key(display_name)
        if key == name_key(username):
            return
        title = borrowed_title(display_name, role)
        if title is not None:
            raise AccountError("display_name", f"may not carry the title {title!r} of another role"
                                               f" · 显示名称不能含有其他岗位的称谓“{title}”")
        for other_name, other_shown in db.execute("SELECT username, display_name FROM users WHERE id IS NOT ?",
                                                  (user_id,)):
            if key in (name_key(other_name), name_key(other_shown)):
                raise AccountError("display_name", "is another account's name · 显示名称与其他账号的姓名或用户名相同")

    @staticmethod
    def _enabled_admins(db: sqlite3.Connection) -> int:
        (count,) = db.execute("SELECT count(*) FROM users WHERE role = ? AND disabled = 0",
                              (Role.ADMIN.value,)).fetchone()
        return int(count)

    def set_password(self, user_id: int, password: str, keep_session: str | None = None) -> Revoked:
        """Set a new password, end the account's other sessions and revoke every API token it has.

        A stolen cookie or a token minted with a stolen session must die with the old password;
        only ``keep_session`` (the browser that just proved the old password) stays signed in.
        """
        hashed = self.passwords.hash(check_password(password))
        now = self.clock()
        with self.transaction() as db:
            cursor = db.execute("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?",
                                (hashed, now, user_id))
            if not cursor.rowcount:
                raise KeyError(user_id)
            keep = digest(keep_session) if keep_session else ""
            sessions = db.execute("DELETE FROM sessions WHERE user_id = ? AND id_digest != ?", (user_id, keep))
            tokens = db.execute("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                                (now, user_id))
        return Revoked(sessions.rowcount, tokens.rowcount)

    def set_phone(self, user_id: int, phone: str | None) -> None:
        """The account's mobile number (``+86…``), whose SMS replies act as it; None removes it."""
        if phone is not None and not PHONE_PATTERN.match(phone):
            raise AccountError("phone", "write +86 and the 11 digits · 请填写 +86 开头的手机号")
        try:
            with self.transaction() as db:
                if not db.execute("UPDATE users SET phone = ?, updated_at = ? WHERE id = ?",
                                  (phone, self.clock(), user_id)).rowcount:
                    raise KeyError(user_id)
        except sqlite3.IntegrityError:
            raise NameTaken("phone", "another account has this number · 该号码已属于其他账号") from None

    def phone_of(self, user_id: int) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT phone FROM users WHERE id = ?", (user_id,)).fetchone()
        return row[0] if row else None

    def user_by_phone(self, phone: str) -> User | None:
        """The enabled account with this mobile number, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users u WHERE phone = ? AND disabled = 0",
                                   (phone,)).fetchone()
        return _user(row) if row else None

    def active_user(self, username: str) -> User | None:
        """The enabled account of this username, or None (unknown or disabled): whom a record may name."""
        with self._lock:
            row = self._db.execute(f"SELECT {_USER_COLUMNS} FROM users u WHERE username = ? AND disabled = 0",
                                   (unicodedata.normalize("NFC", username.strip()),)).fetchone()
        return _user(row) if row else None

    def authenticate(self, username: str, password: str) -> User | None:
        """The enabled account with this name and password, or ``None``; upgrades an outdated hash."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_USER_COLUMNS}, u.password_hash, u.disabled FROM users u WHERE username = ?",
                (unicodedata.normalize("NFC", username.strip()),)).fetchone()
        stored: str | None = row[5] if row else None
        if not self.passwords.verify(stored, password) or row is None or stored is None or row[6]:
            return None
        if self.passwords.needs_rehash(stored):
            with self._lock:
                self._db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                                 (self.passwords.hash(password), row[0]))
        return _user(row)

    # -- sessions ------------------------------------------------------------------------------

    def start_session(self, user_id: int) -> str:
        """A new session for ``user_id``; returns its id for the cookie (only its digest is kept)."""
        session_id = new_session_id()
        now = self.clock()
        with self._lock:
            self._db.execute("INSERT INTO sessions (id_digest, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                             (digest(session_id), user_id, now, now))
        return session_id

    def session_user(self, session_id: str, idle_s: float, max_s: float) -> User | None:
        """The enabled user of a live session; an idle or too old session is ended here."""
        key = digest(session_id)
        now = self.clock()
        with self._lock:
            row = self._db.execute(
                f"SELECT {_USER_COLUMNS}, u.disabled, s.created_at, s.last_seen FROM sessions s"
                " JOIN users u ON u.id = s.user_id WHERE s.id_digest = ?", (key,)).fetchone()
            if row is None:
                return None
            if row[5] or now - row[6] >= max_s or now - row[7] >= idle_s:
                self._db.execute("DELETE FROM sessions WHERE id_digest = ?", (key,))
                return None
            if now - row[7] >= _TOUCH_EVERY_S:
                self._db.execute("UPDATE sessions SET last_seen = ? WHERE id_digest = ?", (now, key))
        return _user(row)

    def end_session(self, session_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE id_digest = ?", (digest(session_id),))

    def prune_sessions(self, idle_s: float, max_s: float) -> int:
        now = self.clock()
        with self._lock:
            cursor = self._db.execute("DELETE FROM sessions WHERE created_at <= ? OR last_seen <= ?",
                                      (now - max_s, now - idle_s))
        return cursor.rowcount

    # -- API tokens ----------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str, created_by: int | None = None) -> tuple[str, TokenInfo]:
        """A new token acting as ``user_id`` (with its role); the token itself is returned only here.

        ``created_by`` is the signed-in account that minted it (None: the hub's shell).
        """
        name = name.strip()
        if not name or len(name) > 64:
            raise AccountError("name", "1–64 characters · 名称为 1–64 个字符")
        token = new_token()
        now = self.clock()
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
                raise KeyError(user_id)
            cursor = db.execute(
                "INSERT INTO api_tokens (token_digest, hint, name, user_id, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)", (digest(token), token[:7], name, user_id, now, created_by))
        assert cursor.lastrowid is not None
        info = self.token(cursor.lastrowid)
        assert info is not None
        return token, info

    def token_user(self, token: str) -> User | None:
        """The enabled owner of a live token (and note when it was used)."""
        key = digest(token)
        now = self.clock()
        with self._lock:
            row = self._db.execute(
                f"SELECT {_USER_COLUMNS}, t.id, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id"
                " WHERE t.token_digest = ? AND t.revoked_at IS NULL AND u.disabled = 0", (key,)).fetchone()
            if row is None:
                return None
            if row[6] is None or now - row[6] >= _TOUCH_EVERY_S:
                self._db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, row[5]))
        return _user(row)

    def tokens(self, user_id: int | None = None) -> list[TokenInfo]:
        """Tokens of one user (or everyone's), revoked ones included for the record."""
        query = _SELECT_TOKENS
        args: list[Any] = []
        if user_id is not None:
            query += " WHERE t.user_id = ?"
            args.append(user_id)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY t.id", args).fetchall()
        return [TokenInfo(*row) for row in rows]

    def token(self, token_id: int) -> TokenInfo | None:
        with self._lock:
            row = self._db.execute(
                _SELECT_TOKENS + " WHERE t.id = ?", (token_id,)).fetchone()
        return TokenInfo(*row) if row else None

    def revoke_token(self, token_id: int) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                      (self.clock(), token_id))
        return bool(cursor.rowcount)

    # -- failed logins -------------------------------------------------------------------------

    def login_wait(self, keys: Sequence[str], limit: int, window_s: float) -> float:
        """Seconds until another login may be tried for any of ``keys`` (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                rows = self._db.execute(
                    "SELECT ts FROM login_failures WHERE key = ? AND ts > ? ORDER BY ts DESC LIMIT ?",
                    (key, now - window_s, limit)).fetchall()
                if len(rows) >= limit:
                    # The oldest of the last ``limit`` failures must leave the window first.
                    wait = max(wait, rows[-1][0] + window_s - now)
        return wait

    def record_login_failure(self, keys: Sequence[str], window_s: float) -> None:
        now = self.clock()
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE ts <= ?", (now - window_s,))
            self._db.executemany("INSERT INTO login_failures (key, ts) VALUES (?, ?)", [(k, now) for k in keys])

    def clear_login_failures(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE key = ?", (key,))
