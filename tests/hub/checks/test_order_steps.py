"""A work order's steps: reported → assigned → in progress → fixed → accepted by the reporter or the safety group,
never by the fixer — or reopened with a reason; each step on the record and in the audit chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth_helpers import bearer


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def test_an_order_goes_through_in_progress_and_the_reporter_accepts_or_reopens_it(
        client: TestClient, hub: Hub) -> None:
    teacher, as_teacher = bearer(hub, Role.TEACHER)
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    fixer, as_fixer = bearer(hub, Role.GATEKEEPER)
    _, as_bystander = bearer(hub, Role.CANTEEN_STAFF)
    order = client.post("/api/workorders", headers=as_teacher,
                        json={"title": "实验楼二楼门锁坏", "place": "实验楼", "category": "door_lock",
                              "urgency": "high"}).json()
    order_id = order["id"]
    assert order["due_at"] - order["reported_at"] == 24 * 3600  # by its urgency
    assert client.post(f"/api/workorders/{order_id}/assign", headers=as_officer,
                       json={"assignee": fixer.username}).status_code == 200

    not_theirs = client.post(f"/api/workorders/{order_id}/start", headers=as_bystander, json={})
    assert not_theirs.status_code == 403 and not_theirs.json()["detail"]["field"] == "actor"
    started = client.post(f"/api/workorders/{order_id}/start", headers=as_fixer, json={"note": "已到现场"})
    assert started.status_code == 200 and started.json()["state"] == "in_progress"
    assert started.json()["overdue"] is False
    assert client.post(f"/api/workorders/{order_id}/start", headers=as_fixer, json={}).status_code == 409
    fixed = client.post(f"/api/workorders/{order_id}/fix", headers=as_fixer, json={"note": "已换锁芯"})
    assert fixed.status_code == 200 and fixed.json()["state"] == "fixed"

    # Someone neither the reporter nor of the safety group cannot accept it; the fixer never.
    assert client.post(f"/api/workorders/{order_id}/accept", headers=as_bystander, json={}).status_code == 403
    assert client.post(f"/api/workorders/{order_id}/accept", headers=as_fixer, json={}).status_code == 403
    reopened = client.post(f"/api/workorders/{order_id}/reopen", headers=as_teacher, json={"reason": "锁还是打不开"})
    assert reopened.status_code == 200 and reopened.json()["state"] == "reopened"
    assert client.post(f"/api/workorders/{order_id}/start", headers=as_fixer, json={}).status_code == 200
    assert client.post(f"/api/workorders/{order_id}/fix", headers=as_fixer, json={"note": "换了整把锁"}
                       ).status_code == 200
    accepted = client.post(f"/api/workorders/{order_id}/accept", headers=as_teacher, json={"note": "好了"})
    assert accepted.status_code == 200 and accepted.json()["accepted_by"] == teacher.username

    steps = [(s["action"], s["state"]) for s in accepted.json()["steps"]]
    assert steps == [("report", "reported"), ("assign", "assigned"), ("start", "in_progress"), ("fix", "fixed"),
                     ("reopen", "reopened"), ("start", "in_progress"), ("fix", "fixed"), ("accept", "accepted")]
    audited = [e.action for e in hub.state.audit_entries() if e.subject == f"workorder:{order_id}"]
    assert audited == ["order.report", "order.assign", "order.start", "order.fix", "order.reopen", "order.start",
                       "order.fix", "order.accept"]
