"""Short codes in alarm SMS: "回复 1 或 确认 4821" acknowledges the alarm that SMS was about.

A code is four random digits, made for one number and one alarm when the SMS is sent,
good for ``ttl_s`` and once. "1" means the newest code sent to that number. A reply
counts only from the number the code was sent to, and only when that number is an
account's (``AccountStore.user_by_phone``): the number is the identity, the code says
which alarm. Four digits are enough for that, not a secret on their own: guessing one
needs the phone too, and a wrong code acts on nothing.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable

from hub.auth.store import AccountStore

DEFAULT_CODE_TTL_S = 30 * 60.0


class SmsCodes:
    def __init__(self, accounts: AccountStore, *, ttl_s: float = DEFAULT_CODE_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._accounts = accounts
        self.ttl_s = ttl_s
        #: Seam for tests of expiry.
        self.clock = clock

    def mint(self, number: str, alert_id: int) -> str:
        """A new code for ``alert_id`` sent to ``number`` (unique among that number's codes)."""
        now = self.clock()
        while True:
            code = f"{1000 + secrets.randbelow(9000)}"
            try:
                with self._accounts.transaction() as db:
                    db.execute("DELETE FROM sms_codes WHERE number = ? AND code = ? AND expires_at <= ?",
                               (number, code, now))
                    db.execute("INSERT INTO sms_codes (number, code, alert_id, created_at, expires_at)"
                               " VALUES (?, ?, ?, ?, ?)", (number, code, alert_id, now, now + self.ttl_s))
                return code
            except sqlite3.IntegrityError:
                continue  # that number holds this code for another alarm still: draw again

    def use(self, number: str, code: str | None) -> int | None:
        """The alarm ``code`` (None: the newest) names for ``number``, marked used; None if none is live."""
        now = self.clock()
        with self._accounts.transaction() as db:
            if code is None:
                row = db.execute("SELECT code, alert_id FROM sms_codes WHERE number = ? AND used_at IS NULL"
                                 " AND expires_at > ? ORDER BY created_at DESC LIMIT 1", (number, now)).fetchone()
            else:
                row = db.execute("SELECT code, alert_id FROM sms_codes WHERE number = ? AND code = ?"
                                 " AND used_at IS NULL AND expires_at > ?", (number, code, now)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE sms_codes SET used_at = ? WHERE number = ? AND code = ?", (now, number, row[0]))
        return int(row[1])

    def prune(self) -> int:
        with self._accounts.transaction() as db:
            return db.execute("DELETE FROM sms_codes WHERE expires_at <= ?", (self.clock(),)).rowcount
