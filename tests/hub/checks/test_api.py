"""The checks API through the real app: who may do what, the actor is the signed-in account, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def _night_round(failing: str | None = None, note: str = "") -> list[dict[str, object]]:
    return [{"item": key, "answer": "fail" if key == failing else "ok", "note": note if key == failing else ""}
            for key in ("rooms_locked", "power_off", "windows_shut", "gate_locked")]


def test_a_night_round_with_a_failed_item_becomes_a_work_order_through_to_acceptance(
        client: TestClient, hub: Hub, clock: Clock) -> None:
    clock.set(f"{MONDAY} 21:00")
    gatekeeper, as_gatekeeper = bearer(hub, Role.GATEKEEPER)
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    manager, as_manager = bearer(hub, Role.CANTEEN_MANAGER)
    due = client.get("/api/checks", headers=as_gatekeeper).json()
    night = next(c for c in due if c["key"] == "night_round" and c["period"] == MONDAY)
    assert night["run_id"] is None and not night["overdue"]
    assert any(c["key"] == "night_round" and c["overdue"] for c in due)  # Sunday's, missed, to make up

    missing_note = client.post("/api/checks/night_round", headers=as_gatekeeper,
                               json={"answers": _night_round("windows_shut"), "opened_at": clock() - 600})
    assert missing_note.status_code == 422 and "windows_shut" in missing_note.json()["detail"]["field"]

    body = {"answers": _night_round("windows_shut", "实验楼 302 <script>x</script> 窗锁坏"),
            "opened_at": clock() - 600, "request_id": "phone-0001", "submitted_by": "someone-else"}
    done = client.post("/api/checks/night_round", headers=as_gatekeeper, json=body)
    assert done.status_code == 201, done.text
    run = done.json()
    assert run["submitted_by"] == gatekeeper.username and not run["too_fast"] and run["failed"] == 1
    (failed,) = [a for a in run["answers"] if a["answer"] == "fail"]
    assert failed["order_id"] is not None
    again = client.post("/api/checks/night_round", headers=as_gatekeeper, json=body)
    assert again.status_code == 201 and again.json()["id"] == run["id"] and again.json()["created"] is False

    order_id = failed["order_id"]
    (listed,) = client.get("/api/workorders", headers=as_gatekeeper).json()
    assert listed["id"] == order_id and listed["state"] == "reported" and "<script>" in listed["text"]

    forbidden = client.post(f"/api/workorders/{order_id}/assign", headers=as_gatekeeper,
                            json={"assignee": manager.username})
    assert forbidden.status_code == 403
    unknown = client.post(f"/api/workorders/{order_id}/assign", headers=as_officer, json={"assignee": "nobody"})
    assert unknown.status_code == 422
    assigned = client.post(f"/api/workorders/{order_id}/assign", headers=as_officer,
                           json={"assignee": manager.username})
    assert assigned.json()["state"] == "assigned" and assigned.json()["assignee"] == manager.username
    fixed = client.post(f"/api/workorders/{order_id}/fix", headers=as_manager, json={"note": "更换窗锁"})
    assert fixed.json()["state"] == "fixed" and fixed.json()["fixed_by"] == manager.username
    own = client.post(f"/api/workorders/{order_id}/accept", headers=as_manager, json={})
    assert own.status_code == 403
    accepted = client.post(f"/api/workorders/{order_id}/accept", headers=as_officer, json={"note": "已验收"})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    closed = client.post(f"/api/workorders/{order_id}/reopen", headers=as_officer, json={"reason": "x"})
    assert closed.status_code == 409
    noted = client.post(f"/api/workorders/{order_id}/notes", headers=as_gatekeeper, json={"text": "钥匙已交回"})
    assert noted.status_code == 200 and noted.json()["steps"][-1]["actor"] == gatekeeper.username
    assert client.get("/api/workorders?state=closed", headers=as_gatekeeper).json()[0]["id"] == order_id


def test_a_hazard_reported_directly(client: TestClient, hub: Hub) -> None:
    teacher, headers = bearer(hub, Role.CANTEEN_STAFF)
    made = client.post("/api/workorders", headers=headers,
                       json={"title": "实验楼二楼门锁坏", "place": "实验楼", "urgency": "high", "reported_by": "x"})
    assert made.status_code == 201
    assert made.json()["reported_by"] == teacher.username and made.json()["urgency"] == "high"
    assert client.post("/api/workorders", headers=headers, json={"title": ""}).status_code == 422
    assert client.post("/api/workorders/999/fix", headers=headers, json={"note": "x"}).status_code == 404


def test_unknown_template_and_items(client: TestClient, hub: Hub, clock: Clock) -> None:
    _, headers = bearer(hub, Role.GATEKEEPER)
    assert client.post("/api/checks/nope", headers=headers, json={"answers": [], "opened_at": 0}).status_code == 404
    extra = [*_night_round(), {"item": "made_up", "answer": "ok"}]
    answer = client.post("/api/checks/night_round", headers=headers, json={"answers": extra, "opened_at": clock()})
    assert answer.status_code == 422 and "made_up" in answer.text


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def test_photos_of_a_work_order_are_kept_once_and_closed_with_it(client: TestClient, hub: Hub) -> None:
    reporter, as_reporter = bearer(hub, Role.GATEKEEPER)
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    order_id = client.post("/api/workorders", headers=as_reporter, json={"title": "围墙裂缝"}).json()["id"]
    url = f"/api/workorders/{order_id}/photos"
    wrong = client.post(url, headers=as_reporter, files={"photo": ("x.png", b"<svg onload=alert(1)>", "image/png")})
    assert wrong.status_code == 422
    first = client.post(url, headers=as_reporter, files={"photo": ("crack.png", PNG, "image/png")})
    again = client.post(url, headers=as_reporter, files={"photo": ("crack.png", PNG, "image/png")})
    assert first.status_code == again.status_code == 201 and first.json()["name"] == again.json()["name"]
    order = client.get(f"/api/workorders/{order_id}", headers=as_reporter).json()
    assert order["photos"] == [first.json()["url"]]
    served = client.get(first.json()["url"], headers=as_reporter)
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    audit = [(e.actor, e.action) for e in hub.state.audit_entries()]
    assert (reporter.username, "order.photo") in audit
    client.post(f"/api/workorders/{order_id}/fix", headers=as_reporter, json={"note": "已修补"})
    client.post(f"/api/workorders/{order_id}/accept", headers=as_officer, json={})
    closed = client.post(url, headers=as_reporter, files={"photo": ("late.png", PNG + b"\0", "image/png")})
    assert closed.status_code == 409
