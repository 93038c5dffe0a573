"""Login rate limit, security headers, secrets kept out of logs, and the first start's admin."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.auth.bootstrap import ensure_first_admin
from hub.auth.credentials import Passwords
from hub.auth.headers import CONTENT_SECURITY_POLICY
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.cli import main
from hub.runtime import Hub
from tests.hub.auth.conftest import FAST
from tests.hub.auth_helpers import PASSWORD, authorize, login, make_user


def _fail(client: TestClient, username: str, address_headers: dict[str, str] | None = None) -> int:
    response = client.post("/login", data={"username": username, "password": "wrong password!"},
                           headers=address_headers or {})
    status: int = response.status_code
    return status


def test_five_failures_lock_the_username_for_the_window_even_across_a_restart(client: TestClient, hub: Hub,
                                                                              tmp_path: Path) -> None:
    now = [5_000_000.0]
    hub.accounts.clock = lambda: now[0]
    make_user(hub, Role.ADMIN, "root", PASSWORD)
    assert [_fail(client, "root") for _ in range(5)] == [401] * 5
    locked = client.post("/login", data={"username": "root", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, until the window passes
    assert 0 < int(locked.headers["retry-after"]) <= hub.settings.login_window_s
    assert "尝试次数过多" in locked.text

    restarted = AccountStore(hub.settings.db_dir / "hub.sqlite3", Passwords(FAST), clock=lambda: now[0])
    try:
        assert restarted.login_wait(["user:root"], 5, hub.settings.login_window_s) > 0
    finally:
        restarted.close()

    now[0] += hub.settings.login_window_s + 1
    assert client.post("/login", data={"username": "root", "password": PASSWORD},
                       follow_redirects=False).status_code == 303


def test_one_address_trying_many_names_is_limited_too(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.ADMIN, "root", PASSWORD)
    assert [_fail(client, f"guess-{n}") for n in range(5)] == [401] * 5
    assert client.post("/login", data={"username": "root", "password": PASSWORD}).status_code == 429


def test_security_headers_on_api_pages_and_refusals(client: TestClient, hub: Hub) -> None:
    responses = [client.get("/api/health"), client.get("/login"), client.get("/api/alerts")]
    authorize(client, hub)
    responses += [client.get("/api/alerts"), client.get("/samples/daily")]
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"


def test_passwords_and_tokens_never_reach_the_log(client: TestClient, hub: Hub,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    make_user(hub, Role.ADMIN, "root", PASSWORD)
    client.post("/login", data={"username": "root", "password": "a wrong password"})
    client.post("/login", data={"username": PASSWORD, "password": PASSWORD})  # password typed as the name
    csrf = login(client, "root")
    token = client.post("/api/tokens", json={"name": "grafana"}, headers={"X-CSRF-Token": csrf}).json()["token"]
    client.cookies.clear()
    assert client.get("/api/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.get("/api/alerts", headers={"Authorization": f"Bearer {token}-wrong"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "signed in" in logged and "failed sign-in" in logged
    for secret in (PASSWORD, "a wrong password", token, token[3:]):
        assert secret not in logged


def test_first_start_creates_admin_once_and_it_signs_in(client: TestClient, hub: Hub,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    admin = ensure_first_admin(hub.accounts, out)
    assert admin is not None and admin.username == "admin" and admin.role is Role.ADMIN
    printed = out.getvalue()
    password = next(line.split()[-1] for line in printed.splitlines() if "password" in line and "密码" in line)
    assert len(password) >= 20 and "只显示这一次" in printed
    assert password not in caplog.text and "xiaoan user passwd admin" in caplog.text
    again = io.StringIO()
    assert ensure_first_admin(hub.accounts, again) is None and again.getvalue() == ""
    login(client, "admin", password)
    assert client.get("/api/me").json()["role"] == "admin"
    (stored,) = [h for (h,) in hub.accounts._db.execute("SELECT password_hash FROM users")]
    assert password not in stored and stored.startswith("$argon2id$")


def test_cli_user_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["user", "add", "张老师", "--role", "safety_officer", "--password-stdin"]) == 0
    assert main(["user", "add", "张老师", "--role", "admin", "--random"]) == 2  # the name is taken
    assert main(["user", "passwd", "张老师", "--random"]) == 0
    random_password = capsys.readouterr().out.strip().split()[-1]
    assert main(["user", "token", "张老师", "--name", "grafana"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["user", "list"]) == 0
    assert "张老师" in capsys.readouterr().out
    assert main(["user", "passwd", "nobody", "--random"]) == 2
    accounts = AccountStore(tmp_path / "hub" / "hub.sqlite3")
    try:
        assert accounts.authenticate("张老师", random_password) is not None
        user = accounts.token_user(token)
        assert user is not None and user.role is Role.SAFETY_OFFICER
    finally:
        accounts.close()
