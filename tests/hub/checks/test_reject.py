"""A reviewer sends a line back to the person who filled it: they see it in their list, fill it again, and both
steps are on the record and in the audit chain."""

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


def test_a_reviewer_sends_a_line_back_and_its_person_fills_it_again(
        hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 21:00")
    gatekeeper, as_gatekeeper = bearer(hub, Role.GATEKEEPER)
    officer, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    _, as_other = bearer(hub, Role.GATEKEEPER)
    run = client.post("/api/checks/night_round", headers=as_gatekeeper, json={
        "opened_at": clock() - 600, "answers": [{"item": k, "answer": "ok"} for k in
                                                ("rooms_locked", "power_off", "windows_shut", "gate_locked")]})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]

    assert client.post(f"/api/checks/runs/{run_id}/items/power_off/reject", headers=as_other,
                       json={"reason": "x"}).status_code == 403  # not of the safety group
    assert client.post(f"/api/checks/runs/{run_id}/items/nothing/reject", headers=as_officer,
                       json={"reason": "x"}).status_code == 404
    sent_back = client.post(f"/api/checks/runs/{run_id}/items/power_off/reject", headers=as_officer,
                            json={"reason": "监控显示三楼办公室灯还亮着"})
    assert sent_back.status_code == 201, sent_back.text
    rejection = sent_back.json()
    review = client.get(f"/checks/runs/{run_id}", headers=as_officer)
    assert review.status_code == 200 and 'data-sent-back="power_off"' in review.text
    assert f'/api/checks/runs/{run_id}/items/rooms_locked/reject' in review.text
    assert client.get(f"/checks/runs/{run_id}", headers=as_other).status_code == 403
    assert rejection["person"] == gatekeeper.username and rejection["item_text"] == "灯光、电源已关闭"
    assert client.post(f"/api/checks/runs/{run_id}/items/power_off/reject", headers=as_officer,
                       json={"reason": "again"}).status_code == 409

    mine = client.get("/api/checks/rejections", headers=as_gatekeeper).json()
    assert [r["id"] for r in mine] == [rejection["id"]]
    assert client.get("/api/checks/rejections", headers=as_other).json() == []
    board = client.get("/checks", headers=as_gatekeeper).text
    assert f'data-rejected="{rejection["id"]}"' in board and "监控显示三楼办公室灯还亮着" in board

    url = f"/api/checks/rejections/{rejection['id']}/refill"
    assert client.post(url, headers=as_other, json={"item": "power_off", "answer": "ok"}).status_code == 403
    no_note = client.post(url, headers=as_gatekeeper, json={"item": "power_off", "answer": "fail"})
    assert no_note.status_code == 422 and no_note.json()["detail"]["field"] == "answer.power_off"
    clock.now += 600
    refilled = client.post(url, headers=as_gatekeeper, json={"item": "power_off", "answer": "fail",
                                                             "note": "三楼办公室灯开关坏了，关不掉"})
    assert refilled.status_code == 200 and refilled.json()["refilled_at"] == clock()
    assert client.post(url, headers=as_gatekeeper, json={"item": "power_off", "answer": "ok"}).status_code == 409
    assert client.get("/api/checks/rejections", headers=as_gatekeeper).json() == []

    stored = hub.checks.store.run(run_id)
    assert stored is not None and stored.failed == 1  # the refilled line now counts as failed
    line = next(a for a in stored.answers if a.item == "power_off")
    assert line.answer is not None and line.answer.value == "fail"
    assert line.answered_at == clock() and line.order_id is not None
    assert hub.checks.order(line.order_id).text == "三楼办公室灯开关坏了，关不掉"
    (kept,) = hub.checks.store.rejections_of(run_id)
    assert '"answer": "ok"' in kept.previous_json  # the line as it stood when sent back
    actions = [(e.actor, e.action) for e in hub.state.audit_entries()]
    assert (officer.username, "check.reject") in actions and (gatekeeper.username, "check.refill") in actions
