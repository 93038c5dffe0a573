"""API tokens for integrations and the administration of accounts over HTTP."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from hub.auth.credentials import Passwords
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth.conftest import FAST
from tests.hub.auth_helpers import PASSWORD, authorize, bearer, csrf_headers, login, make_user


def test_wrong_malformed_and_revoked_tokens_get_401(client: TestClient, hub: Hub) -> None:
    user, headers = bearer(hub, Role.GATEKEEPER)
    assert client.get("/api/me", headers=headers).json()["username"] == user.username
    for bad in ("Bearer xa_not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", headers["Authorization"] + "x"):
        response = client.get("/api/alerts", headers={"Authorization": bad})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", bad
    (listed,) = client.get("/api/tokens", headers=headers).json()
    assert client.delete(f"/api/tokens/{listed['id']}", headers=headers).status_code == 204
    assert client.get("/api/alerts", headers=headers).status_code == 401


def test_tokens_are_created_once_listed_without_secret_and_revocable(client: TestClient, hub: Hub) -> None:
    admin = authorize(client, hub)
    created = client.post("/api/tokens", json={"name": "prometheus"})
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("xa_") and len(token) > 40
    listed = client.get("/api/tokens").json()
    assert all("token" not in t for t in listed) and token not in str(listed)
    mine = next(t for t in listed if t["name"] == "prometheus")
    assert mine["username"] == admin.username and mine["hint"] == token[:7] + "…"
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert metrics.status_code == 200 and "xiaoan_" in metrics.text
    assert next(t for t in client.get("/api/tokens").json() if t["id"] == mine["id"])["last_used_at"] is not None
    assert client.delete(f"/api/tokens/{mine['id']}").status_code == 204
    assert client.delete(f"/api/tokens/{mine['id']}").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post("/api/tokens", json={"name": ""}).status_code == 422


def test_a_token_acts_with_its_owners_role(client: TestClient, hub: Hub) -> None:
    authorize(client, hub)
    staff = make_user(hub, Role.CANTEEN_STAFF, "scanner-1")
    token = client.post("/api/tokens", json={"name": "scanner", "user_id": staff.id}).json()["token"]
    as_staff = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me", headers=as_staff).json()["role"] == "canteen_staff"
    assert client.get("/api/users", headers=as_staff).status_code == 403
    other = make_user(hub, Role.ADMIN)
    refused = client.post("/api/tokens", json={"name": "x", "user_id": other.id}, headers=as_staff)
    assert refused.status_code == 403
    admins_token = next(t for t in client.get("/api/tokens", params={"all": "true"}).json() if t["user_id"] != staff.id)
    assert client.delete(f"/api/tokens/{admins_token['id']}", headers=as_staff).status_code == 404


def test_admin_manages_accounts(client: TestClient, hub: Hub) -> None:
    authorize(client, hub)
    created = client.post("/api/users", json={"username": "王师傅", "display_name": "食堂 王师傅",
                                              "role": "canteen_staff", "password": PASSWORD})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "canteen_staff" and body["has_password"]
    assert PASSWORD not in str(body) and "argon2" not in str(body) and "password_hash" not in body
    assert client.post("/api/users", json={"username": "王师傅", "role": "admin"}).status_code == 409
    for bad, field in (({"username": "a b", "role": "admin"}, "username"),
                       ({"username": "ok-name", "role": "admin", "password": "short"}, "password"),
                       ({"username": "ok-name", "role": "janitor"}, "role"),
                       ({"username": "ok-name", "role": "admin", "locale": "fr"}, "locale")):
        response = client.post("/api/users", json=bad)
        assert response.status_code == 422 and field in response.text, bad
    user_id = body["id"]
    changed = client.patch(f"/api/users/{user_id}", json={"role": "canteen_manager", "locale": "en"}).json()
    assert changed["role"] == "canteen_manager" and changed["locale"] == "en"
    assert client.patch("/api/users/9999", json={"role": "admin"}).status_code == 404
    assert any(u["username"] == "王师傅" for u in client.get("/api/users").json())
    actions = [e["action"] for e in client.get("/api/audit").json()]
    assert "user.created" in actions and "user.updated" in actions


def test_the_last_admin_cannot_be_removed(client: TestClient, hub: Hub) -> None:
    admin = authorize(client, hub)
    response = client.patch(f"/api/users/{admin.id}", json={"role": "gatekeeper"})
    assert response.status_code == 409
    assert client.patch(f"/api/users/{admin.id}", json={"disabled": True}).status_code == 409
    assert client.get("/api/me").json()["role"] == "admin"


def test_password_change_by_self_and_reset_by_admin(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.SAFETY_OFFICER, "li", PASSWORD)
    csrf = login(client, "li")
    wrong = client.post("/api/me/password", json={"old_password": "nope", "new_password": "a new passphrase"},
                        headers=csrf_headers(csrf))
    assert wrong.status_code == 403
    short = client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "short"},
                        headers=csrf_headers(csrf))
    assert short.status_code == 422 and "password" in short.text
    changed = client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "a new passphrase"},
                          headers=csrf_headers(csrf))
    assert changed.status_code == 200 and changed.json()["tokens_revoked"] == 0
    assert client.get("/api/me").status_code == 200  # this session lives on
    assert hub.accounts.authenticate("li", "a new passphrase") is not None

    with TestClient(client.app) as admin_client:
        authorize(admin_client, hub)
        reset = admin_client.post(f"/api/users/{user.id}/password", json={"new_password": "reset by the admin"})
        assert reset.status_code == 200 and reset.json()["sessions_ended"] == 1
    assert client.get("/api/me").status_code == 401  # a reset ends every session of the account
    assert hub.accounts.authenticate("li", "reset by the admin") is not None


def test_outdated_password_hashes_are_upgraded_on_login(hub: Hub) -> None:
    make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    stronger = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    hub.accounts.passwords = Passwords(stronger)
    (stored_before,) = [h for (h,) in hub.accounts._db.execute("SELECT password_hash FROM users")]
    assert stronger.check_needs_rehash(stored_before) and not FAST.check_needs_rehash(stored_before)
    assert hub.accounts.authenticate("chen", PASSWORD) is not None
    (stored_after,) = [h for (h,) in hub.accounts._db.execute("SELECT password_hash FROM users")]
    assert stored_after.startswith("$argon2id$") and not stronger.check_needs_rehash(stored_after)
    assert hub.accounts.authenticate("chen", PASSWORD) is not None
