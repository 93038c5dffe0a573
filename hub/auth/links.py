"""One-tap alarm links: act on one alarm from the message, as the person it was sent to, without signing in.

Each message that asks for an acknowledgement carries a link per recipient. Its token
is 192 random bits bound, in the accounts database, to one alarm and one account; only
its SHA-256 digest is kept, so the database does not hold a usable link. A token is
good once and for ``ttl_s`` (30 minutes by default). Using it opens a *link session*:
a cookie limited to that alarm's pages (its path) and to ``session_s``, which lets the
person acknowledge the alarm and record interim actions on it — nothing else. Closing,
verifying and every other page still need a normal sign-in.

A link is refused when it is unknown, used, expired, presented for another alarm than
its own, or opened in a browser signed in as somebody else (then it is spent, too: it
has been seen by another account). Chat apps that preview links fetch them: opening
the link only shows what it is for, and the token is used by the button on that page.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from hub.auth.credentials import digest, new_session_id
from hub.auth.roles import Permission, Role, allows
from hub.auth.store import AccountStore
from hub.auth.users import User

#: A link is good for this long after the message was made.
DEFAULT_LINK_TTL_S = 30 * 60.0
#: The alarm page a used link opened stays open this long (the cookie's lifetime too).
DEFAULT_LINK_SESSION_S = 15 * 60.0
#: The queries (fixed text; every value is bound). An account's columns come in ``_user``'s order.
_NAMED = "SELECT u.id, u.username, u.display_name, u.role, u.locale FROM users u WHERE username = ? AND disabled = 0"
_OF_ROLE = ("SELECT u.id, u.username, u.display_name, u.role, u.locale FROM users u"
            " WHERE role = ? AND disabled = 0 ORDER BY id")
_LINK = ("SELECT l.alert_id, l.expires_at, l.used_at, u.disabled, u.id, u.username, u.display_name, u.role, u.locale"
         " FROM alarm_links l JOIN users u ON u.id = l.user_id WHERE l.token_digest = ?")
_SESSION = ("SELECT s.alert_id, s.expires_at, u.disabled, u.id, u.username, u.display_name, u.role, u.locale"
            " FROM link_sessions s JOIN users u ON u.id = s.user_id WHERE s.id_digest = ?")


class LinkRefusal(StrEnum):
    """Why a link does not open its alarm; the refusal page says it in Chinese and English."""

    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    OTHER_ALARM = "other_alarm"
    OTHER_ACCOUNT = "other_account"


class LinkRefused(Exception):
    def __init__(self, reason: LinkRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class LinkGrant:
    """What a link (or the session it opened) allows: acting on ``alert_id`` as ``user``, until ``expires_at``."""

    alert_id: int
    user: User
    expires_at: float


def _user(row: tuple[object, ...]) -> User:
    return User(id=int(str(row[0])), username=str(row[1]), display_name=str(row[2]), role=Role(str(row[3])),
                locale=str(row[4]))


class AlarmLinks:
    def __init__(self, accounts: AccountStore, *, ttl_s: float = DEFAULT_LINK_TTL_S,
                 session_s: float = DEFAULT_LINK_SESSION_S, clock: Callable[[], float] = time.time) -> None:
        self._accounts = accounts
        self.ttl_s = ttl_s
        self.session_s = session_s
        #: Seam for tests of expiry.
        self.clock = clock

    def mint(self, alert_id: int, user_id: int) -> str:
        """A new token for ``user_id`` on ``alert_id``; returned only here (the database keeps its digest)."""
        token = secrets.token_urlsafe(24)
        now = self.clock()
        with self._accounts.transaction() as db:
            db.execute("INSERT INTO alarm_links (token_digest, alert_id, user_id, created_at, expires_at)"
                       " VALUES (?, ?, ?, ?, ?)", (digest(token), alert_id, user_id, now, now + self.ttl_s))
        return token

    def recipients(self, usernames: Iterable[str], roles: Iterable[str]) -> list[User]:
        """The enabled accounts named, then those holding one of ``roles``, each once, in that order.

        Only accounts whose role may acknowledge alarms: a link or an SMS reply can do no more
        than the person could signed in.
        """
        names, held = list(usernames), [Role(r).value for r in roles]
        found: dict[int, User] = {}
        with self._accounts.transaction() as db:
            for name in names:
                row = db.execute(_NAMED, (name,)).fetchone()
                if row is not None:
                    found.setdefault(int(row[0]), _user(row))
            for role in held:
                for row in db.execute(_OF_ROLE, (role,)):
                    found.setdefault(int(row[0]), _user(row))
        return [user for user in found.values() if allows(user.role, Permission.ALERT_ACK)]

    def phone_of(self, user_id: int) -> str | None:
        """The account's mobile number (its alarm SMS go there when it is paged)."""
        return self._accounts.phone_of(user_id)

    def check(self, alert_id: int, token: str) -> LinkGrant:
        """What an unused link would allow, without using it (the page a link opens first); else LinkRefused."""
        with self._accounts.transaction() as db:
            return self._grant(db.execute(_LINK, (digest(token),)).fetchone(), alert_id)

    def redeem(self, alert_id: int, token: str, signed_in: User | None = None) -> tuple[str, LinkGrant]:
        """Use the link: a new link session's id (for the cookie) and what it allows; else LinkRefused.

        ``signed_in`` is the account the browser is signed in as, if any: a link opened in
        another account's browser is refused and spent.
        """
        now = self.clock()
        key = digest(token)
        with self._accounts.transaction() as db:
            grant = self._grant(db.execute(_LINK, (key,)).fetchone(), alert_id)
            db.execute("UPDATE alarm_links SET used_at = ? WHERE token_digest = ?", (now, key))
            if signed_in is not None and signed_in.id != grant.user.id:
                refused: LinkRefused | None = LinkRefused(LinkRefusal.OTHER_ACCOUNT)
            else:
                refused = None
                session_id = new_session_id()
                expires = min(now + self.session_s, grant.expires_at + self.session_s)
                db.execute("INSERT INTO link_sessions (id_digest, alert_id, user_id, created_at, expires_at)"
                           " VALUES (?, ?, ?, ?, ?)", (digest(session_id), alert_id, grant.user.id, now, expires))
        if refused is not None:  # raised after the commit: the link stays spent
            raise refused
        return session_id, LinkGrant(alert_id, grant.user, expires)

    def session(self, alert_id: int, session_id: str) -> LinkGrant | None:
        """The grant of a live link session on ``alert_id`` of an enabled account, or None."""
        now = self.clock()
        with self._accounts.transaction() as db:
            row = db.execute(_SESSION, (digest(session_id),)).fetchone()
        if row is None or row[0] != alert_id or row[1] <= now or row[2]:
            return None
        return LinkGrant(alert_id, _user(row[3:]), row[1])

    def prune(self) -> int:
        """Forget expired links and link sessions (a used link's row goes when it would have expired)."""
        now = self.clock()
        with self._accounts.transaction() as db:
            links = db.execute("DELETE FROM alarm_links WHERE expires_at <= ?", (now,)).rowcount
            sessions = db.execute("DELETE FROM link_sessions WHERE expires_at <= ?", (now,)).rowcount
        return links + sessions

    def _grant(self, row: tuple[object, ...] | None, alert_id: int) -> LinkGrant:
        if row is None or row[3]:  # unknown, or its account was disabled since
            raise LinkRefused(LinkRefusal.UNKNOWN)
        if row[2] is not None:
            raise LinkRefused(LinkRefusal.USED)
        expires = float(str(row[1]))
        if expires <= self.clock():
            raise LinkRefused(LinkRefusal.EXPIRED)
        if row[0] != alert_id:
            raise LinkRefused(LinkRefusal.OTHER_ALARM)
        return LinkGrant(alert_id, _user(row[4:]), expires)
