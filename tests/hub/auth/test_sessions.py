"""People in a browser: the login form, the session cookie, CSRF, expiry, logout, disabled accounts."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.deps import SESSION_COOKIE
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth_helpers import PASSWORD, csrf_headers, login, make_user


def test_login_sets_a_hardened_cookie_and_goes_where_asked(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.CANTEEN_STAFF, "wang", PASSWORD)
    response = client.post("/login", data={"username": "wang", "password": PASSWORD, "next": "/samples/daily"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/samples/daily"
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP unless the settings say the hub is served over HTTPS
    me = client.get("/api/me").json()
    assert me["username"] == "wang" and me["auth"] == "session" and "sample.log" in me["permissions"]


def test_the_session_cookie_is_secure_over_https(hub: Hub) -> None:
    hub.settings = hub.settings.model_copy(update={"https": True})
    make_user(hub, Role.ADMIN, "root", PASSWORD)
    with TestClient(create_app(hub.settings, hub=hub), base_url="https://testserver") as client:
        response = client.post("/login", data={"username": "root", "password": PASSWORD}, follow_redirects=False)
        assert "Secure" in response.headers["set-cookie"]


def test_the_login_form_is_no_open_redirect(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        client.cookies.clear()
        response = client.post("/login", data={"username": "chen", "password": PASSWORD, "next": target},
                               follow_redirects=False)
        assert response.headers["location"] == "/", target


def test_wrong_password_and_unknown_user_look_alike(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    wrong = client.post("/login", data={"username": "chen", "password": "not the password"})
    unknown = client.post("/login", data={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    assert SESSION_COOKIE not in client.cookies


def test_csrf_is_required_for_cookie_writes_and_bound_to_the_session(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.SAFETY_OFFICER, "li", PASSWORD)
    token = login(client, "li")
    silence = {"subject": "dev-a/*", "ends_at": time.time() + 3600, "reason": "维修"}
    refused = client.post("/api/silences", json=silence)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert client.post("/api/silences", json=silence, headers=csrf_headers("0" * 64)).status_code == 403
    created = client.post("/api/silences", json=silence, headers=csrf_headers(token))
    assert created.status_code == 201
    # The form field works too (pages without script).
    form = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/login"
    # A new session has a new token; the old one is worthless.
    new_token = login(client, "li")
    assert new_token != token
    assert client.delete(f"/api/silences/{created.json()['id']}", headers=csrf_headers(token)).status_code == 403
    assert client.delete(f"/api/silences/{created.json()['id']}",
                         headers=csrf_headers(new_token)).status_code == 204


def test_cross_site_origin_is_refused(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.SAFETY_OFFICER, "li", PASSWORD)
    token = login(client, "li")
    evil = {**csrf_headers(token), "Origin": "https://evil.example"}
    body = {"subject": "x", "ends_at": time.time() + 3600}
    assert client.post("/api/silences", json=body, headers=evil).status_code == 403
    same = {**csrf_headers(token), "Origin": "http://testserver"}
    assert client.post("/api/silences", json=body, headers=same).status_code == 201
    client.cookies.clear()
    assert client.post("/login", data={"username": "li", "password": PASSWORD},
                       headers={"Origin": "https://evil.example"}).status_code == 403


def test_bearer_requests_need_no_csrf_token(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.SAFETY_OFFICER)
    token, _ = hub.accounts.create_token(user.id, "integration")
    response = client.post("/api/silences", json={"subject": "x", "ends_at": time.time() + 3600},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


def test_logout_ends_the_session_on_the_server(client: TestClient, hub: Hub) -> None:
    make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    token = login(client, "chen")
    stolen = client.cookies.get(SESSION_COOKIE)
    assert client.post("/logout", headers=csrf_headers(token), follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, stolen or "")  # replayed after logout
    assert client.get("/api/me").status_code == 401


def test_sessions_expire_when_idle_and_when_old(client: TestClient, hub: Hub) -> None:
    now = [1_000_000.0]
    hub.accounts.clock = lambda: now[0]
    make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    idle, lifetime = hub.settings.session_idle_s, hub.settings.session_max_s
    login(client, "chen")
    now[0] += idle - 120
    assert client.get("/api/me").status_code == 200  # used in time: the idle clock restarts
    now[0] += idle - 120
    assert client.get("/api/me").status_code == 200
    now[0] += idle
    assert client.get("/api/me").status_code == 401
    assert client.get("/samples/daily", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303

    login(client, "chen")
    started = now[0]
    while now[0] - started < lifetime - idle:
        now[0] += idle / 2
        assert client.get("/api/me").status_code == 200
    now[0] = started + lifetime
    assert client.get("/api/me").status_code == 401  # however busy, a session ends


def test_a_disabled_user_is_refused_at_once(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.CANTEEN_STAFF, "zhao", PASSWORD)
    token, _ = hub.accounts.create_token(user.id, "scanner")
    login(client, "zhao")
    hub.accounts.update_user(user.id, disabled=True)
    assert client.get("/api/me").status_code == 401
    client.cookies.clear()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/login", data={"username": "zhao", "password": PASSWORD}).status_code == 401


def test_a_role_change_applies_to_the_next_request(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    login(client, "chen")
    assert client.get("/api/audit").status_code == 403
    hub.accounts.update_user(user.id, role=Role.SAFETY_OFFICER)
    assert client.get("/api/audit").status_code == 200
