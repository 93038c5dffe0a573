"""The district's pages on a real PostgreSQL: a password and a session, lock-out, scope, escaping, the week signed
from its page with the page's CSRF token."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from hub.auth.credentials import Passwords
from hub.district import sessions
from hub.district.__main__ import main as district_cli
from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from tests.district.helpers import two_schools_one_hot_fridge

pytestmark = pytest.mark.postgres

#: A week long over.
WEEK = "2026-W42"
PASSWORD = "冷链-每日巡查-2026"


@dataclass
class District:
    dsn: str
    store: DistrictStore
    app_settings: DistrictSettings

    def client(self) -> TestClient:
        return TestClient(create_district_app(self.app_settings), follow_redirects=False)


@pytest.fixture
def district(district_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[District]:
    store = DistrictStore(district_dsn, "setup")
    two_schools_one_hot_fridge(store, "<script>alert(1)</script>第二中学", "<img src=x onerror=alert(2)>")
    add_inspector(store, "county", "区教育局食安科", [], all_sites=True)
    add_inspector(store, "inspector-a", "李督学", ["school-a"])
    for name in ("county", "inspector-a"):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert district_cli(["--dsn", district_dsn, "set-password", name]) == 0
    yield District(district_dsn, store, DistrictSettings(dsn=district_dsn, worker="pages", secure_cookies=False))
    store.close()


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> object:
    return client.post("/district/login", data={"name": name, "password": password})


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found is not None, page[:500]
    return found.group(1)


def test_a_person_signs_in_and_sees_their_schools_as_text(district: District) -> None:
    with district.client() as client:
        assert client.get("/district/").headers["location"] == "/district/login"
        answer = sign_in(client, "county")
        assert answer.status_code == 303 and answer.headers["location"] == "/district/"  # type: ignore[attr-defined]
        cookie = answer.headers["set-cookie"]  # type: ignore[attr-defined]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/district" in cookie
        page = client.get("/district/")
        assert page.status_code == 200 and "第一小学" in page.text
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;第二中学" in page.text
        school = client.get("/district/schools/school-b")
        assert school.status_code == 200 and "<img src=x" not in school.text and "&lt;img src=x" in school.text
        assert "链条完整" in school.text
        # The JSON routes take the page's session too (the PDF and CSV links).
        assert client.get(f"/district/v1/compliance/{WEEK}.pdf").headers["content-type"] == "application/pdf"

    with district.client() as scoped:
        sign_in(scoped, "inspector-a")
        assert "第二中学" not in scoped.get("/district/").text
        assert scoped.get("/district/schools/school-b").status_code == 403
        assert scoped.get("/district/v1/schools/school-b").status_code == 403


def test_wrong_passwords_lock_the_account_and_a_new_password_unlocks_it(district: District) -> None:
    with district.client() as client:
        for _ in range(sessions.MAX_FAILURES):
            wrong = client.post("/district/login", data={"name": "county", "password": "x" * 12})
            assert wrong.status_code == 401 and "账号或密码不正确" in wrong.text
        locked = sign_in(client, "county")
        assert locked.status_code == 429 and "已锁定" in locked.text  # type: ignore[attr-defined]
        assert sign_in(client, "nobody").status_code == 401  # type: ignore[attr-defined]
        sessions.set_password(district.store, Passwords(), "county", PASSWORD)
        assert sign_in(client, "county").status_code == 303  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="password"):
        sessions.set_password(district.store, Passwords(), "county", "short")
    with pytest.raises(ValueError, match="name"):
        sessions.set_password(district.store, Passwords(), "nobody", PASSWORD)


def test_the_week_is_signed_from_its_page_with_the_page_s_token_only(district: District) -> None:
    with district.client() as client:
        sign_in(client, "county")
        page = client.get(f"/district/weeks/{WEEK}")
        assert page.status_code == 200 and "签署本周汇总" in page.text and "第一小学" in page.text
        token = csrf(page.text)
        assert client.post(f"/district/weeks/{WEEK}/sign", data={"comment": "已阅"}).status_code == 403
        assert client.post(f"/district/weeks/{WEEK}/sign",
                           data={"comment": "已阅\u202e", "csrf_token": token}).status_code == 422
        # The JSON route from a session wants the token in its header.
        assert client.post(f"/district/v1/compliance/{WEEK}/signoffs", json={}).status_code == 403
        signed = client.post(f"/district/weeks/{WEEK}/sign", data={"comment": "已阅 <b>", "csrf_token": token})
        assert signed.status_code == 303
        page = client.get(f"/district/weeks/{WEEK}")
        assert "已签署：区教育局食安科（county）" in page.text and "已阅 &lt;b&gt;" in page.text
        assert "签署本周汇总" not in page.text

        client.post("/district/logout", data={"csrf_token": token})
        assert client.get("/district/").status_code == 303


def test_a_form_body_is_bounded_before_it_is_read(district: District) -> None:
    with district.client() as client:
        answer = client.post("/district/login", content=b"name=" + b"a" * 100_000,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 413
        many = client.post("/district/login", content="&".join(f"f{n}=x" for n in range(50)).encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert many.status_code == 400
