"""Nobody passes for someone else: display names, and credentials that die with a password (issue 15, items 3 and 5)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth_helpers import PASSWORD, authorize, bearer, csrf_headers, login, make_user


@pytest.mark.parametrize("name", ["安全员 李老师", "安全员李老师", "总务主任王", "食堂经理", "门卫 老张", "系统管理员",
                                  "Safety Officer Li", "ADMINISTRATOR", "李老师", "li-officer", "ＬＩ－ＯＦＦＩＣＥＲ"])
def test_a_cook_cannot_take_a_title_or_another_accounts_name(client: TestClient, hub: Hub, name: str) -> None:
    make_user(hub, Role.SAFETY_OFFICER, "li-officer", display_name="李老师")
    cook = make_user(hub, Role.CANTEEN_STAFF, "wang-cook", PASSWORD, display_name="王师傅")
    csrf = login(client, cook.username)
    refused = client.patch("/api/me", json={"display_name": name}, headers=csrf_headers(csrf))
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "display_name", refused.text
    assert client.get("/api/me").json()["display_name"] == "王师傅"
    with TestClient(client.app) as admin:
        authorize(admin, hub)
        by_admin = admin.patch(f"/api/users/{cook.id}", json={"display_name": name})
        assert by_admin.status_code == 422 and by_admin.json()["detail"]["field"] == "display_name"
        made = admin.post("/api/users", json={"username": "new-cook", "role": "canteen_staff", "display_name": name})
        assert made.status_code == 422 and made.json()["detail"]["field"] == "display_name"


def test_own_titles_are_allowed_and_renames_are_audited(client: TestClient, hub: Hub) -> None:
    officer = make_user(hub, Role.SAFETY_OFFICER, "li-officer", PASSWORD, display_name="李老师")
    csrf = login(client, officer.username)
    renamed = client.patch("/api/me", json={"display_name": "安全员 李老师"}, headers=csrf_headers(csrf))
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "安全员 李老师"
    with TestClient(client.app) as admin_client:
        admin = authorize(admin_client, hub)
        assert admin_client.patch(f"/api/users/{officer.id}", json={"display_name": "李红"}).status_code == 200
    changes = [(e.actor, json.loads(e.detail)) for e in hub.state.audit_entries()
               if e.action == "user.display_name_changed"]
    assert changes == [
        ("li-officer", {"username": "li-officer", "before": "李老师", "after": "安全员 李老师"}),
        (admin.username, {"username": "li-officer", "before": "安全员 李老师", "after": "李红"})]


def test_a_password_change_revokes_tokens_minted_from_the_session(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.CANTEEN_MANAGER, "zhou", PASSWORD)
    csrf = login(client, "zhou")
    minted = client.post("/api/tokens", json={"name": "my phone"}, headers=csrf_headers(csrf))
    assert minted.status_code == 201
    stolen = {"Authorization": f"Bearer {minted.json()['token']}"}
    with TestClient(client.app) as thief:
        assert thief.get("/api/me", headers=stolen).status_code == 200
        changed = client.post("/api/me/password", json={"old_password": PASSWORD, "new_password": "a new passphrase"},
                              headers=csrf_headers(csrf))
        assert changed.status_code == 200
        assert changed.json()["tokens_revoked"] == 1 and "令牌" in changed.json()["message"]
        assert thief.get("/api/me", headers=stolen).status_code == 401
    assert all(t.revoked_at is not None for t in hub.accounts.tokens(user.id))


def test_an_admin_reset_revokes_every_session_and_token(client: TestClient, hub: Hub) -> None:
    user = make_user(hub, Role.GATEKEEPER, "chen", PASSWORD)
    login(client, "chen")
    token, _ = hub.accounts.create_token(user.id, "gate tablet")
    with TestClient(client.app) as admin:
        authorize(admin, hub)
        reset = admin.post(f"/api/users/{user.id}/password", json={"new_password": "reset by the admin"})
        assert reset.status_code == 200
        assert reset.json()["sessions_ended"] == 1 and reset.json()["tokens_revoked"] == 1
        assert "已退出" in reset.json()["message"]
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_token_lists_its_creator_and_an_admin_revokes_it(client: TestClient, hub: Hub) -> None:
    admin = authorize(client, hub)
    staff, as_staff = bearer(hub, Role.CANTEEN_STAFF)
    made = client.post("/api/tokens", json={"name": "scanner", "user_id": staff.id})
    assert made.status_code == 201
    assert (made.json()["created_by"], made.json()["created_by_username"]) == (admin.id, admin.username)
    own = client.post("/api/tokens", json={"name": "own"}, headers=as_staff).json()
    assert own["created_by_username"] == staff.username
    listed = {t["name"]: t for t in client.get("/api/tokens", params={"all": "true"}).json()}
    scanner = listed["scanner"]
    assert (scanner["username"], scanner["created_by_username"]) == (staff.username, admin.username)
    assert listed["tests"]["created_by"] is None  # made from the hub's shell (or by a test), not by a signed-in account
    page = client.get("/admin", headers={"Accept": "text/html"}).text
    assert f'data-api="/api/tokens/{made.json()["id"]}" data-method="DELETE"' in page  # the admin page revokes it
    assert "scanner" in page and "创建人" in page
    assert client.delete(f"/api/tokens/{own['id']}").status_code == 204
    assert client.get("/api/me", headers={"Authorization": f"Bearer {own['token']}"}).status_code == 401
    revoked = [e for e in hub.state.audit_entries() if e.action == "token.revoked"]
    assert [e.actor for e in revoked] == [admin.username]
