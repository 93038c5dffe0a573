"""District inspectors on a real PostgreSQL: every school at a glance within their scope, one school's open alarms,
nothing beyond their schools, nothing written with their token."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from hub.auth.credentials import Passwords
from hub.district import sessions
from hub.district.api import SESSION_COOKIE
from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import RECORDS_PATH, SITE_HEADER, ForwardedRecord, RecordKind
from tests.district.helpers import ROOT

pytestmark = pytest.mark.postgres


def alarm(alert_id: int, kind: str, state: str, updated_at: float, message: str = "") -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.ALARM, key=f"{alert_id}/{state}/{updated_at!r}", ts=updated_at,
                           body={"id": alert_id, "kind": kind, "state": state, "severity": "critical",
                                 "message": message or f"{kind} {alert_id}", "started_at": 1_800_000_000.0,
                                 "updated_at": updated_at, "acked_by": "wang" if state == "acknowledged" else None})


@pytest.fixture
def district(district_dsn: str) -> Iterator[tuple[TestClient, DistrictStore, dict[str, str]]]:
    store = DistrictStore(district_dsn, "setup")
    tokens = {site: store.add_site(site, name) for site, name in (("school-a", "第一小学"), ("school-b", "第二中学"))}
    at = 1_800_000_100.0
    store.store("school-a", (
        alarm(1, "temperature", "firing", at, message="1号冷藏柜 <b>11.5 °C</b>"),
        alarm(2, "check", "acknowledged", at + 1),
        alarm(3, "work_order", "resolved", at + 2),   # fixed, still to be closed: open, no longer holding
        alarm(4, "device", "firing", at + 3),
        alarm(5, "temperature", "firing", at),
        alarm(5, "temperature", "verified", at + 4),  # handled to the end: not open
    ))
    store.store("school-b", (alarm(1, "gate", "firing", at),))
    while store.apply_alarm_jobs():
        pass
    tokens["county"] = add_inspector(store, "county", "区教育局食安科", [], all_sites=True)
    tokens["inspector-a"] = add_inspector(store, "inspector-a", "李督学", ["school-a"])
    app = create_district_app(DistrictSettings(dsn=district_dsn, worker="api-test"))
    with TestClient(app) as client:
        yield client, store, tokens
    store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_inspector_sees_its_schools_at_a_glance(district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, _, tokens = district
    scoped = client.get("/district/v1/schools", headers=bearer(tokens["inspector-a"]))
    assert scoped.status_code == 200, scoped.text
    (school,) = scoped.json()
    assert school["site"] == "school-a" and school["name"] == "第一小学" and school["last_contact"] is not None
    assert {k: school[k] for k in ("open_alarms", "unacknowledged", "cold_out_of_band", "overdue_checks",
                                   "overdue_orders", "offline_devices")} == {
        "open_alarms": 4, "unacknowledged": 2, "cold_out_of_band": 1, "overdue_checks": 1, "overdue_orders": 0,
        "offline_devices": 1}

    every = client.get("/district/v1/schools", headers=bearer(tokens["county"])).json()
    assert [s["site"] for s in every] == ["school-a", "school-b"]  # the most open alarms first
    assert every[1]["open_alarms"] == 1 and every[1]["cold_out_of_band"] == 0


def test_a_school_s_page_lists_its_open_alarms_newest_first_as_text(
        district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, _, tokens = district
    page = client.get("/district/v1/schools/school-a", headers=bearer(tokens["inspector-a"]))
    assert page.status_code == 200, page.text
    alarms = page.json()["alarms"]
    assert [a["alert_id"] for a in alarms] == [4, 3, 2, 1]
    assert alarms[0]["kind"] == "device" and alarms[2]["acked_by"] == "wang"
    assert alarms[3]["message"] == "1号冷藏柜 <b>11.5 °C</b>"  # data, served as JSON
    assert client.get("/district/v1/schools/school-b", headers=bearer(tokens["county"])).status_code == 200
    assert client.get("/district/v1/schools/school-x", headers=bearer(tokens["county"])).status_code == 404


@pytest.mark.parametrize("site", ["school-b", "school-x", "SCHOOL-A", "school-a%00"])
def test_a_school_outside_the_inspector_s_scope_is_a_403_whether_it_exists_or_not(
        district: tuple[TestClient, DistrictStore, dict[str, str]], site: str) -> None:
    client, _, tokens = district
    assert client.get(f"/district/v1/schools/{site}", headers=bearer(tokens["inspector-a"])).status_code == 403


def test_every_route_of_a_school_is_a_403_for_an_inspector_of_other_schools(
        district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    """Walks the routes naming a school, so a school route added later is scope-checked without a line here."""
    client, store, tokens = district
    # The pages take a person's session, the JSON routes a token: inspector A holds both.
    sessions.set_password(store, Passwords(), "inspector-a", "冷链-每日巡查-2026")
    session = sessions.sign_in(store, Passwords(), "inspector-a", "冷链-每日巡查-2026").session_id
    walked = 0
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if "{site}" not in path:
            continue
        for method in set(route.methods or ()) - {"HEAD"}:
            url = path.replace("{site}", "school-b").replace("{dataset}", "readings")
            credentials = (bearer(tokens["inspector-a"]) if path.startswith("/district/v1/")
                           else {"Cookie": f"{SESSION_COOKIE}={session}"})
            # Every query a route may want, valid, so the scope is what answers.
            response = client.request(method, url, headers=credentials,
                                      params={"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00"})
            assert response.status_code == 403, (method, path, response.status_code, response.text[:200])
            walked += 1
    assert walked >= 4


def test_tokens_open_only_their_own_doors(district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    client, store, tokens = district
    for wrong in ({}, bearer(tokens["school-a"]), bearer("x" * 43), {"Authorization": f"Basic {tokens['county']}"}):
        assert client.get("/district/v1/schools", headers=wrong).status_code == 401
        assert client.get("/district/v1/schools/school-a", headers=wrong).status_code == 401
    # An inspector's token posts nothing, not even as the school it reads.
    record = {"kind": "alarm", "key": "9/firing/1.0", "ts": 1.0, "body": {"id": 9, "state": "firing",
                                                                           "updated_at": 1.0}}
    sent = client.post(RECORDS_PATH, json={"records": [record]},
                       headers={SITE_HEADER: "school-a", **bearer(tokens["inspector-a"])})
    assert sent.status_code == 401
    assert store.counts("school-a") == {"alarm": 6}


def test_an_inspector_account_names_known_schools_or_all_of_them(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "setup")
    try:
        store.add_site("school-a", "第一小学")
        with pytest.raises(ValueError, match="sites: not registered at the district: school-z"):
            add_inspector(store, "li", "李督学", ["school-a", "school-z"])
        with pytest.raises(ValueError, match="sites"):
            add_inspector(store, "li", "李督学", ["school-a"], all_sites=True)
        with pytest.raises(ValueError, match="sites"):
            add_inspector(store, "li", "李督学", [])
        with pytest.raises(ValueError, match="display_name"):
            add_inspector(store, "li", "李督学\n管理员", ["school-a"])
        with pytest.raises(ValueError, match="name"):
            add_inspector(store, "Li Wei", "李督学", ["school-a"])
    finally:
        store.close()
    made = subprocess.run([sys.executable, "-m", "hub.district", "--dsn", district_dsn, "add-inspector", "li",
                           "李督学", "--site", "school-a"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           check=False)
    assert made.returncode == 0, made.stderr
    assert len(made.stdout.strip()) >= 43  # the token, printed once
    refused = subprocess.run([sys.executable, "-m", "hub.district", "--dsn", district_dsn, "add-inspector", "wu",
                              "吴", "--site", "school-q"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              check=False)
    assert refused.returncode == 2 and "school-q" in refused.stderr


def test_every_district_route_but_health_wants_a_token(
        district: tuple[TestClient, DistrictStore, dict[str, str]]) -> None:
    """Walks the app's routes, so a route added later is covered without a line here: a JSON route is a 401, a
    page is the sign-in page (the sign-in itself, and signing out, are open)."""
    client, _, _ = district
    walked = 0
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path = route.path or ""
        if not path.startswith("/district/") or path in ("/district/v1/health", "/district/login", "/district/logout"):
            continue
        for method in set(route.methods or ()) - {"HEAD"}:
            response = client.request(method, path.replace("{site}", "school-a").replace("{week}", "2026-W42")
                                      .replace("{dataset}", "readings"), follow_redirects=False)
            if path.startswith("/district/v1/"):
                assert response.status_code == 401, (method, path, response.status_code)
            else:
                assert (response.status_code, response.headers.get("location")) == (303, "/district/login"), path
            walked += 1
    assert walked >= 10
