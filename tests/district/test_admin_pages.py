"""The district admin's page on a real PostgreSQL: accounts made and disabled and schools registered as the signed-in
admin, logged; every admin route a 403 for an inspector; tokens shown once; typed text kept as text."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.routing import iter_route_contexts

from hub.auth.credentials import Passwords
from hub.district import accounts
from hub.district.__main__ import main as district_cli
from hub.district.admin_pages import page_admin
from hub.district.inspectors import DistrictRole, Inspector, authenticate, inspector_named
from hub.district.settings import DistrictSettings
from hub.district.store import COMMAND_LINE, DistrictStore
from tests.district.helpers import ROOT, two_schools_one_hot_fridge
from tests.district.test_pages import PASSWORD, District, csrf, sign_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def district(district_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[District]:
    store = DistrictStore(district_dsn, "setup")
    two_schools_one_hot_fridge(store, "第二中学", "1号冷藏柜 11.5 °C")
    for argv in (["add-inspector", "bureau", "区教育局信息科", "--all", "--admin"],
                 ["add-inspector", "inspector-a", "李督学", "--site", "school-a"]):
        assert district_cli(["--dsn", district_dsn, *argv]) == 0
    for name in ("bureau", "inspector-a"):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        assert district_cli(["--dsn", district_dsn, "set-password", name]) == 0
    yield District(district_dsn, store, DistrictSettings(dsn=district_dsn, worker="admin", secure_cookies=False))
    store.close()


def shown_token(page: str) -> str:
    found = re.search(r"<code class=\"token\">([A-Za-z0-9_-]{43})</code>", page)
    assert found is not None, page[:800]
    return found.group(1)


def test_an_admin_makes_an_inspector_who_signs_in_and_sees_only_their_school(district: District) -> None:
    with district.client() as admin:
        sign_in(admin, "bureau")
        page = admin.get("/district/")
        assert "账号管理" in page.text
        form = admin.get("/district/accounts")
        assert form.status_code == 200 and "inspector-a" in form.text
        made = admin.post("/district/accounts", data={
            "csrf_token": csrf(form.text), "name": "zhang", "display_name": "张督学", "role": "inspector",
            "sites": "school-b", "password": "食安-周排查-2026", "created_by": "somebody-else"})
        assert made.status_code == 200, made.text
        token = shown_token(made.text)
        assert admin.get("/district/accounts").text.count(token) == 0  # shown once, on the answer only
    found = authenticate(district.store, token)
    assert found is not None and found.sites == frozenset({"school-b"}) and not found.is_admin
    (zhang,) = [a for a in accounts.accounts(district.store) if a.name == "zhang"]
    assert zhang.created_by == "bureau" and zhang.has_password  # the signed-in admin, never a form field
    newest = accounts.log(district.store)[0]
    assert (newest.actor, newest.action, newest.subject) == ("bureau", "account.added", "zhang")
    assert any(line.actor == COMMAND_LINE and line.subject == "bureau" for line in accounts.log(district.store))
    with district.client() as person:
        assert sign_in(person, "zhang", "食安-周排查-2026").status_code == 303  # type: ignore[attr-defined]
        assert person.get("/district/schools/school-b").status_code == 200
        assert person.get("/district/schools/school-a").status_code == 403
        assert "账号管理" not in person.get("/district/").text


def test_a_disabled_account_opens_nothing_at_once(district: District) -> None:
    token = accounts.make_account(district.store, Passwords(), _admin(district), "wu", "吴督学",
                                  DistrictRole.INSPECTOR, ["school-a"], "食安-月总查-2026")
    with district.client() as person, district.client() as admin:
        sign_in(person, "wu", "食安-月总查-2026")
        assert person.get("/district/").status_code == 200
        sign_in(admin, "bureau")
        page = admin.get("/district/accounts").text
        own = admin.post("/district/accounts/bureau/disable", data={"csrf_token": csrf(page)})
        assert own.status_code == 422 and "name: you cannot disable your own account" in own.text
        gone = admin.post("/district/accounts/wu/disable", data={"csrf_token": csrf(page)})
        assert gone.status_code == 303
        assert person.get("/district/").headers["location"] == "/district/login"  # the session ended
        again = sign_in(person, "wu", "食安-月总查-2026")
        assert again.status_code == 401  # type: ignore[attr-defined]
        assert person.get("/district/v1/schools", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        listed = admin.get("/district/accounts").text
        assert "已停用" in listed and listed.count("/district/accounts/wu/disable") == 0
    (wu,) = [a for a in accounts.accounts(district.store) if a.name == "wu"]
    assert wu.disabled_by == "bureau" and wu.disabled_at is not None


def test_a_school_registered_on_the_page_forwards_with_the_token_shown(district: District) -> None:
    with district.client() as admin:
        sign_in(admin, "bureau")
        page = admin.get("/district/accounts").text
        made = admin.post("/district/schools", data={"csrf_token": csrf(page), "site": "school-c",
                                                      "school_name": "<b>第三小学</b>"})
        assert made.status_code == 200, made.text
        assert district.store.authenticate("school-c", shown_token(made.text))
        listed = admin.get("/district/").text
        assert "&lt;b&gt;第三小学&lt;/b&gt;" in listed and "<b>第三小学" not in listed
        twice = admin.post("/district/schools", data={"csrf_token": csrf(page), "site": "school-c",
                                                       "school_name": "又一所"})
        assert twice.status_code == 422 and "site: &#39;school-c&#39; is registered already" in twice.text
        control = admin.post("/district/schools", data={"csrf_token": csrf(page), "site": "school-d",
                                                         "school_name": "第四\u202e小学"})
        assert control.status_code == 422 and "name: 1 to 100 characters" in control.text
        refused = admin.post("/district/accounts", data={
            "csrf_token": csrf(page), "name": "li", "display_name": "<i>李</i>", "role": "inspector",
            "sites": "school-z", "password": "食安-日巡视-2026"})
        assert refused.status_code == 422 and "not registered at the district: school-z" in refused.text
        assert 'value="&lt;i&gt;李&lt;/i&gt;"' in refused.text and "食安-日巡视-2026" not in refused.text
        short = admin.post("/district/accounts", data={
            "csrf_token": csrf(page), "name": "li", "display_name": "李", "role": "admin", "password": "short"})
        assert short.status_code == 422 and "password: 10 to 200 characters" in short.text
        forged = admin.post("/district/schools", data={"site": "school-e", "school_name": "第五小学"})
        assert forged.status_code == 403
    assert [line.subject for line in accounts.log(district.store)][:1] == ["school-c"]


def test_every_admin_route_is_a_403_for_an_inspector(district: District) -> None:
    """Walks the routes that want an admin, so an admin route added later is checked without a line here."""
    with district.client() as person:
        sign_in(person, "inspector-a")
        page = person.get("/district/").text
        walked = 0
        for route in iter_route_contexts(person.app.routes):  # type: ignore[attr-defined]
            dependant = getattr(route, "dependant", None)
            if dependant is None or page_admin not in {dependency.call for dependency in dependant.dependencies}:
                continue
            for method in set(route.methods or ()) - {"HEAD"}:
                url = (route.path or "").replace("{name}", "bureau")
                answer = person.request(method, url, data={"csrf_token": csrf(page), "name": "x",
                                                           "site": "school-x", "school_name": "x"})
                assert answer.status_code == 403, (method, url, answer.status_code)
                walked += 1
        assert walked >= 4
    assert [a.disabled_at for a in accounts.accounts(district.store) if a.name == "bureau"] == [None]


def test_an_admin_is_made_on_the_command_line_for_every_school_only(district_dsn: str) -> None:
    made = subprocess.run([sys.executable, "-m", "hub.district", "--dsn", district_dsn, "add-inspector", "boss",
                           "局长", "--site", "school-a", "--admin"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert made.returncode == 2 and "role: an admin sees every school" in made.stderr


def _admin(district: District) -> Inspector:
    found = inspector_named(district.store, "bureau")
    assert found is not None
    return found
