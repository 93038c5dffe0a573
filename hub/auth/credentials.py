"""Secrets the hub hands out or is given: passwords (argon2id), session ids and API tokens (SHA-256).

Passwords are chosen by people and may be weak, so they get a slow, memory-hard hash.
Session ids and API tokens are 256 random bits made here: a plain SHA-256 of them is
enough, and lets a request be checked with one indexed lookup. None of them is ever
stored or logged as given.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: API tokens start with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "xa_"  # noqa: S105 - a marker, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_password() -> str:
    """A random password for a first account: 20 characters, easy to type from a terminal."""
    return secrets.token_urlsafe(15)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_for(session_id: str) -> str:
    """The CSRF token of a session: derived from its id, so it needs no storage and dies with it."""
    return hmac.new(session_id.encode("utf-8"), b"xiaoan csrf", hashlib.sha256).hexdigest()


class Passwords:
    """argon2id hashing with the hasher's current parameters; old hashes are upgraded on login."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # Check against a decoy when there is no hash (unknown name, no password set), so a wrong
            # name costs as long as a wrong password and timing does not tell which names exist.
            if self._decoy is None:
                self._decoy = self.hasher.hash(secrets.token_urlsafe(16))
            stored_or_decoy = self._decoy
        else:
            stored_or_decoy = stored
        try:
            return self.hasher.verify(stored_or_decoy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
