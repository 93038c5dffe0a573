"""Who a sample record says acted: always the signed-in account at the hub's time; closed records stay closed.

Item 2 of issue 15: a cook logging samples with ``placed_by`` set to the officer's username made
an audit entry whose actor was the officer, dated when the body said. Here the body's names are
data, checked against real accounts, and discarded records or records of a signed week refuse edits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.clock import Clock, local
from tests.hub.auth_helpers import bearer, make_user


@pytest.fixture
def hub(make_sample_hub: Callable[..., Hub], clock: Clock) -> Hub:
    clock.set("2026-10-12 11:50")
    made = make_sample_hub()
    made.reports.clock = clock
    return made


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def _entries(hub: Hub, action: str) -> list[tuple[str, float, dict[str, object]]]:
    return [(e.actor, e.ts, json.loads(e.detail)) for e in hub.state.audit_entries() if e.action == action]


def test_the_audit_actor_is_the_signed_in_cook_not_the_named_officer(client: TestClient, hub: Hub,
                                                                   clock: Clock) -> None:
    officer = make_user(hub, Role.SAFETY_OFFICER, "li-officer", display_name="李老师")
    cook, as_cook = bearer(hub, Role.CANTEEN_STAFF, "wang-cook")
    five_hours_back = clock.now - 5 * 3600
    logged = client.post("/api/samples", headers=as_cook, json={
        "meal": "lunch", "placed_by": officer.username, "reviewer": officer.username,
        "placed_at": five_hours_back, "dishes": [{"name": "红烧肉", "weight_g": 150}]})
    assert logged.status_code == 201, logged.text
    # The record names the officer as data, with the username beside the display name …
    assert logged.json()["placed_by"] == "李老师（li-officer）" and logged.json()["reviewer"] == "李老师（li-officer）"
    assert logged.json()["placed_at"] == five_hours_back
    # … but the audit entry is the cook's, at the hub's time; when the samples went in is its data.
    ((actor, ts, detail),) = _entries(hub, "sample.logged")
    assert actor == cook.username and ts == clock.now and detail["placed_at"] == five_hours_back

    reviewed = client.post(f"/api/samples/{logged.json()['id']}/people", headers=as_cook,
                           json={"reviewer": officer.username})
    assert reviewed.status_code == 200
    ((actor, ts, _),) = _entries(hub, "sample.reviewed")
    assert actor == cook.username and ts == clock.now


@pytest.mark.parametrize("field", ["placed_by", "reviewer"])
def test_a_record_names_only_real_enabled_accounts(client: TestClient, hub: Hub, field: str) -> None:
    _, as_cook = bearer(hub, Role.CANTEEN_STAFF)
    gone = make_user(hub, Role.CANTEEN_STAFF, "left-school")
    hub.accounts.update_user(gone.id, disabled=True)
    for name in ("nobody-here", "left-school"):
        refused = client.post("/api/samples", headers=as_cook, json={"meal": "lunch", field: name})
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == field, refused.text
    record = client.post("/api/samples", headers=as_cook, json={"meal": "lunch"}).json()
    refused = client.post(f"/api/samples/{record['id']}/people", headers=as_cook, json={field: "nobody-here"})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == field
    assert _entries(hub, "sample.updated") == [] and _entries(hub, "sample.reviewed") == []


def test_a_discarded_record_takes_no_more_people_or_dishes(client: TestClient, hub: Hub, clock: Clock) -> None:
    cook, as_cook = bearer(hub, Role.CANTEEN_STAFF)
    make_user(hub, Role.CANTEEN_MANAGER, "manager-zhou")
    record = client.post("/api/samples", headers=as_cook, json={
        "meal": "lunch", "dishes": [{"name": "红烧肉", "weight_g": 150}]}).json()
    clock.set("2026-10-14 12:00")
    discarded = client.post(f"/api/samples/{record['id']}/discard", headers=as_cook, json={})
    assert discarded.status_code == 200 and discarded.json()["discarded_by"] == cook.username
    people = client.post(f"/api/samples/{record['id']}/people", headers=as_cook, json={"reviewer": "manager-zhou"})
    assert people.status_code == 409 and people.json()["detail"]["field"] == "reviewer"
    assert "已弃置" in people.json()["detail"]["message"]
    more = client.post("/api/samples", headers=as_cook, json={
        "meal": "lunch", "date": "2026-10-12", "dishes": [{"name": "米饭", "weight_g": 130}]})
    assert more.status_code == 409 and more.json()["detail"]["field"] == "dishes"
    after = client.get(f"/api/samples/{record['id']}", headers=as_cook).json()
    assert after["reviewer"] == "" and [d["name"] for d in after["dishes"]] == ["红烧肉"]


def test_a_signed_weeks_records_are_closed(client: TestClient, hub: Hub, clock: Clock) -> None:
    _, as_cook = bearer(hub, Role.CANTEEN_STAFF)
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    make_user(hub, Role.CANTEEN_MANAGER, "manager-zhou")
    record = client.post("/api/samples", headers=as_cook, json={"meal": "lunch", "placed_at": local(
        "2026-10-12 11:40")}).json()
    clock.set("2026-10-20 09:00")
    signed = client.post("/api/reports/signoffs", headers=as_officer, json={"kind": "weekly", "period": "2026-W42"})
    assert signed.status_code == 201, signed.text
    again = client.post("/api/reports/signoffs", headers=as_officer, json={"kind": "weekly", "period": "2026-W42"})
    assert again.status_code == 409
    refused = client.post(f"/api/samples/{record['id']}/people", headers=as_officer,
                          json={"reviewer": "manager-zhou"})
    assert refused.status_code == 409 and "2026-W42" in refused.json()["detail"]["message"]
    assert client.get(f"/api/samples/{record['id']}", headers=as_cook).json()["reviewer"] == ""


def _refused(response: Response, field: str) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["detail"]["field"] == field
    assert "2026-W42" in response.json()["detail"]["message"] and "已审核签字" in response.json()["detail"]["message"]


def test_a_signed_weeks_samples_take_no_dishes_new_meals_or_backdated_discards(client: TestClient, hub: Hub,
                                                                              clock: Clock) -> None:
    _, as_cook = bearer(hub, Role.CANTEEN_STAFF, "wang-cook")
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    record = client.post("/api/samples", headers=as_cook, json={"meal": "lunch", "placed_at": local(
        "2026-10-12 11:40"), "dishes": [{"name": "红烧肉", "weight_g": 150}]}).json()
    clock.set("2026-10-20 09:00")
    assert client.post("/api/reports/signoffs", headers=as_officer,
                       json={"kind": "weekly", "period": "2026-W42"}).status_code == 201
    # A dish added to the signed week's record, a meal of that week logged after it, a discard dated into it.
    _refused(client.post("/api/samples", headers=as_cook, json={
        "meal": "lunch", "date": "2026-10-12", "dishes": [{"name": "米饭", "weight_g": 200}]}), "dishes")
    _refused(client.post("/api/samples", headers=as_cook, json={
        "meal": "dinner", "date": "2026-10-13", "dishes": [{"name": "青菜", "weight_g": 130}]}), "date")
    _refused(client.post("/api/samples", headers=as_cook, json={
        "meal": "dinner", "placed_at": local("2026-10-13 17:40")}), "date")
    _refused(client.post(f"/api/samples/{record['id']}/discard", headers=as_cook,
                         json={"at": local("2026-10-14 12:00")}), "at")
    after = client.get(f"/api/samples/{record['id']}", headers=as_cook).json()
    assert [d["name"] for d in after["dishes"]] == ["红烧肉"] and after["discarded_at"] is None
    assert client.get("/api/samples", params={"date": "2026-10-13"}, headers=as_cook).json() == []
    # Throwing the samples away now is a new fact, after the week: recorded as usual.
    assert client.post(f"/api/samples/{record['id']}/discard", headers=as_cook, json={}).status_code == 200
    # What is still to be said about the record is a note, as the signed-in cook.
    note = client.post(f"/api/samples/{record['id']}/notes", headers=as_cook, json={"text": "米饭漏记，实留 200 g"})
    assert note.status_code == 201 and note.json()["author"] == "wang-cook"
    assert [n["text"] for n in client.get(f"/api/samples/{record['id']}/notes", headers=as_cook).json()] == [
        "米饭漏记，实留 200 g"]
    assert _entries(hub, "note.added")[0][0] == "wang-cook"
