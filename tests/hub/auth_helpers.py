"""Signing test clients in through the hub's real account store and login form.

``authorize`` is what most API tests need: a user of a role and an API token on the
client. ``login`` goes through ``POST /login`` for tests of cookies, sessions and CSRF.
"""

from __future__ import annotations

import itertools
import re

from fastapi.testclient import TestClient

from hub.auth.deps import CSRF_HEADER, SESSION_COOKIE
from hub.auth.roles import Role
from hub.auth.users import User
from hub.runtime import Hub

#: Long enough for the password rule; only tests that sign in through the form set one.
PASSWORD = "correct horse battery staple"

_names = itertools.count(1)


def make_user(hub: Hub, role: Role = Role.ADMIN, username: str | None = None, password: str | None = None,
              display_name: str | None = None) -> User:
    """A user of ``role`` in the hub's account store (an unused name unless ``username`` is given)."""
    name = username or f"{role.value.replace('_', '-')}-{next(_names)}"
    return hub.accounts.create_user(name, display_name or name, role, password=password)


def bearer(hub: Hub, role: Role = Role.ADMIN, username: str | None = None) -> tuple[User, dict[str, str]]:
    """A new user and the headers of a fresh API token of theirs, for a single request as them."""
    user = make_user(hub, role, username)
    token, _ = hub.accounts.create_token(user.id, "tests")
    return user, {"Authorization": f"Bearer {token}"}


def authorize(client: TestClient, hub: Hub, role: Role = Role.ADMIN, username: str | None = None) -> User:
    """Make every later request of ``client`` act as a new user of ``role`` (through an API token)."""
    user, headers = bearer(hub, role, username)
    client.headers.update(headers)
    return user


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the login form (session cookie); returns the session's CSRF token."""
    client.headers.pop("Authorization", None)
    response = client.post("/login", data={"username": username, "password": password, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert client.cookies.get(SESSION_COOKIE)
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    """The CSRF token the hub gives the signed-in ``client`` (from ``GET /api/me``)."""
    token = client.get("/api/me").json()["csrf_token"]
    assert isinstance(token, str) and re.fullmatch(r"[0-9a-f]{64}", token)
    return token


def csrf_headers(token: str) -> dict[str, str]:
    return {CSRF_HEADER: token}
