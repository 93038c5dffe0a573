"""Places' QR codes and what a scan opens: the printed sheet, a signed-in report from a code, a stranger's
report within its bounds, and the staff member who makes it a work order or dismisses it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.checks.kinds import Category, ScanState
from hub.checks.places import SCAN_ACTOR
from hub.runtime import Hub
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY

BASE = "http://hub.test"


def _client(hub: Hub) -> TestClient:
    return TestClient(create_app(hub.settings, hub=hub), base_url=BASE, follow_redirects=False)


@pytest.fixture
def open_hub(make_hub: Callable[..., Hub]) -> Hub:
    """A school that lets anyone who scans a code report, with small bounds to reach."""
    return make_hub(scan_reports={"enabled": True, "per_address_per_hour": 2, "per_place_per_hour": 3,
                                  "pending_max": 4})


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with _client(hub) as test_client:
        yield test_client


def _token(hub: Hub, name: str) -> str:
    return next(p.token for p in hub.checks.places.all() if p.name == name)


def test_the_configured_places_get_codes_once_and_the_sheet_prints_one_per_place(hub: Hub, client: TestClient
                                                                                 ) -> None:
    names = [p.name for p in hub.checks.places.all()]
    assert names[:4] == ["食堂后厨", "食品库房", "留样间", "校门"]
    assert len({p.token for p in hub.checks.places.all()}) == len(names)
    _, officer = bearer(hub, Role.SAFETY_OFFICER)
    _, gatekeeper = bearer(hub, Role.GATEKEEPER)
    listed = client.get("/api/places", headers=officer).json()
    assert [p["name"] for p in listed] == names
    assert listed[0]["url"] == f"{BASE}/q/{_token(hub, '食堂后厨')}"

    sheet = client.get("/checks/places", headers=officer)
    assert sheet.status_code == 200
    assert len(re.findall(r'<img src="data:image/svg\+xml;base64,', sheet.text)) == len(names)
    assert "食品库房" in sheet.text
    assert client.get("/checks/places", headers=gatekeeper).status_code == 403
    assert client.get("/api/places", headers=gatekeeper).status_code == 403


def test_a_retired_or_unknown_code_opens_nothing_and_a_new_place_gets_a_new_code(hub: Hub, client: TestClient
                                                                                 ) -> None:
    officer, headers = bearer(hub, Role.SAFETY_OFFICER)
    store_room = next(p for p in hub.checks.places.all() if p.name == "食品库房")
    assert client.get(f"/q/{store_room.token}").status_code == 200
    assert client.get("/q/" + "x" * 16).status_code == 404  # another school's code, or a made-up one

    retired = client.post(f"/api/places/{store_room.id}/retire", headers=headers)
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    gone = client.get(f"/q/{store_room.token}")
    assert gone.status_code == 404 and 'data-refusal="unknown"' in gone.text
    assert client.post(f"/api/places/{store_room.id}/retire", headers=headers).status_code == 409

    again = client.post("/api/places", headers=headers, json={"name": "食品库房"})
    assert again.status_code == 201 and again.json()["url"] != f"{BASE}/q/{store_room.token}"
    assert client.post("/api/places", headers=headers, json={"name": "食品库房"}).status_code == 409
    assert client.post("/api/places", headers=headers, json={"name": "库房\u202e"}).status_code == 422
    actions = [(e.actor, e.action) for e in hub.state.audit_entries()]
    assert (officer.username, "place.retire") in actions and (officer.username, "place.add") in actions


def test_a_signed_in_scan_opens_the_place_s_form_and_is_recorded(hub: Hub, client: TestClient) -> None:
    teacher, headers = bearer(hub, Role.CANTEEN_STAFF)
    token = _token(hub, "实验楼")
    page = client.get(f"/q/{token}", headers=headers)
    assert page.status_code == 200 and 'data-api="/api/workorders"' in page.text
    assert '<input type="hidden" name="place" value="实验楼">' in page.text
    assert "data-here" not in page.text  # nothing is due at the lab
    (scan,) = [e for e in hub.state.audit_entries() if e.action == "place.scan"]
    assert scan.actor == teacher.username and scan.subject.startswith("place:")

    order = client.post("/api/workorders", headers=headers,
                        json={"title": "门锁坏", "place": "实验楼", "category": "door_lock"})
    assert order.status_code == 201 and order.json()["category"] == "door_lock"


def test_a_signed_in_scan_at_the_canteen_links_the_checklists_due_there(hub: Hub, client: TestClient,
                                                                         clock: Clock) -> None:
    clock.set(f"{MONDAY} 10:00")
    _, headers = bearer(hub, Role.CANTEEN_MANAGER)
    hub.checks.places.add("食堂", actor="officer")
    page = client.get(f"/q/{_token(hub, '食堂')}", headers=headers)
    assert 'data-here="canteen_daily"' in page.text and f"/checks#check-canteen_daily-{MONDAY}" in page.text


def test_without_the_school_s_consent_a_stranger_is_sent_to_sign_in(hub: Hub, client: TestClient) -> None:
    token = _token(hub, "校门")
    page = client.get(f"/q/{token}")
    assert page.status_code == 200 and 'data-refusal="closed"' in page.text and "/login?next=/q/" in page.text
    refused = client.post(f"/q/{token}", data={"category": "other", "text": "门坏了"})
    assert refused.status_code == 403 and hub.checks.store.scan_reports() == []


def test_a_stranger_s_report_is_bounded_by_address_place_and_queue(open_hub: Hub, clock: Clock) -> None:
    token = _token(open_hub, "宿舍楼")
    with _client(open_hub) as client:
        page = client.get(f"/q/{token}")
        assert "data-public-report" in page.text and 'name="text"' in page.text

        sent = client.post(f"/q/{token}", data={"category": "water", "text": "<b>二楼</b>水管漏水"})
        assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1")
        assert client.post(f"/q/{token}", data={"category": "water", "text": "还在漏"}).status_code == 303
        too_many = client.post(f"/q/{token}", data={"category": "water", "text": "第三次"})
        assert too_many.status_code == 429 and 'data-refusal="address"' in too_many.text
        assert too_many.headers["retry-after"] == "3600"

        # Another address may still report, until the place has had its share of the hour.
        with TestClient(create_app(open_hub.settings, hub=open_hub), base_url=BASE, follow_redirects=False,
                        client=("10.0.0.9", 5000)) as other:
            assert other.post(f"/q/{token}", data={"category": "water", "text": "很滑"}).status_code == 303
            place_full = other.post(f"/q/{token}", data={"category": "water", "text": "很滑"})
            assert place_full.status_code == 429 and 'data-refusal="place"' in place_full.text

        # An hour later the address and the place may report again, but the queue is full at four.
        clock.now += 3601
        gate = _token(open_hub, "校门")
        assert client.post(f"/q/{gate}", data={"category": "door_lock", "text": "门锁坏"}).status_code == 303
        queue_full = client.post(f"/q/{gate}", data={"category": "door_lock", "text": "门锁坏"})
        assert queue_full.status_code == 429 and 'data-refusal="queue"' in queue_full.text

        bad = client.post(f"/q/{gate}", data={"category": "other", "text": "a\x00b"})
        assert bad.status_code in (422, 429)
        too_long = client.post(f"/q/{gate}", data={"category": "other", "text": "长" * 501})
        assert too_long.status_code == 422
        huge = client.post(f"/q/{gate}", content=b"text=" + b"x" * 20_000,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert huge.status_code == 413
        cross = client.post(f"/q/{gate}", data={"category": "other", "text": "x"},
                            headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403

    pending = open_hub.checks.places.pending()
    assert len(pending) == 4 and pending[0].text == "<b>二楼</b>水管漏水" and pending[0].category is Category.WATER
    assert all(e.actor == SCAN_ACTOR for e in open_hub.state.audit_entries() if e.action == "scan.report")


def test_a_stranger_s_control_characters_are_refused_naming_the_field(open_hub: Hub) -> None:
    with _client(open_hub) as client:
        bad = client.post(f"/q/{_token(open_hub, '操场')}", data={"category": "other", "text": "滑梯\u202e坏了"})
    assert bad.status_code == 422 and "data-error" in bad.text and "U+202E" in bad.text
    assert open_hub.checks.store.scan_reports() == []


def test_staff_file_a_stranger_s_report_as_a_work_order_or_dismiss_it(open_hub: Hub) -> None:
    token = _token(open_hub, "教学楼")
    with _client(open_hub) as client:
        client.post(f"/q/{token}", data={"category": "electrical", "text": "三楼走廊<script>x</script>灯不亮"})
        client.post(f"/q/{token}", data={"category": "other", "text": "测试"})
        officer, headers = bearer(open_hub, Role.SAFETY_OFFICER)
        _, staff = bearer(open_hub, Role.CANTEEN_STAFF)
        assert client.get("/api/scan-reports", headers=staff).status_code == 403
        first, second = client.get("/api/scan-reports", headers=headers).json()
        assert first["place"] == "教学楼" and first["state"] == "pending"

        board = client.get("/checks", headers=headers).text
        assert "三楼走廊&lt;script&gt;x&lt;/script&gt;灯不亮" in board and "<script>x</script>" not in board

        filed = client.post(f"/api/scan-reports/{first['id']}/file", headers=headers,
                            json={"title": "三楼走廊灯不亮", "urgency": "high"})
        assert filed.status_code == 200 and filed.json()["state"] == "filed"
        order = client.get(f"/api/workorders/{filed.json()['order_id']}", headers=headers).json()
        assert order["reported_by"] == officer.username and order["place"] == "教学楼"
        assert order["category"] == "electrical" and order["urgency"] == "high"
        assert "三楼走廊<script>x</script>灯不亮" in order["text"]
        again = client.post(f"/api/scan-reports/{first['id']}/file", headers=headers, json={})
        assert again.status_code == 409

        no_reason = client.post(f"/api/scan-reports/{second['id']}/dismiss", headers=headers, json={"reason": ""})
        assert no_reason.status_code == 422
        dismissed = client.post(f"/api/scan-reports/{second['id']}/dismiss", headers=headers,
                                json={"reason": "学生测试"})
        assert dismissed.json()["state"] == "dismissed" and dismissed.json()["note"] == "学生测试"
        assert client.get("/api/scan-reports", headers=headers).json() == []
    assert open_hub.checks.store.scan_report(second["id"]).state is ScanState.DISMISSED  # type: ignore[union-attr]
    actions = {(e.actor, e.action) for e in open_hub.state.audit_entries()}
    assert {(officer.username, "scan.file"), (officer.username, "scan.dismiss"),
            (officer.username, "order.report")} <= actions
