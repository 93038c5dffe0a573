"""A sample under the minimum weight is refused at entry, or taken only as "short" with a reason and topped up
later; a wrong entry is corrected by its author while the samples are held (audited), never after."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from hub.samples.monitor import UNDERWEIGHT_RULE
from tests.clock import Clock, local
from tests.hub.auth_helpers import make_user


@pytest.fixture
def hub(make_sample_hub: Callable[..., Hub], clock: Clock) -> Hub:
    clock.set("2026-10-12 11:50")
    return make_sample_hub()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    for username, role in {"wang": Role.CANTEEN_STAFF, "zhang": Role.CANTEEN_STAFF}.items():
        make_user(hub, role, username)
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def as_user(hub: Hub, username: str) -> dict[str, str]:
    user = hub.accounts.user_by_name(username)
    assert user is not None
    return {"Authorization": f"Bearer {hub.accounts.create_token(user.id, 'tests')[0]}"}


def underweight_alarms(hub: Hub) -> list[str]:
    return [a.state for a in hub.state.alerts() if a.rule == UNDERWEIGHT_RULE]


def test_under_the_minimum_is_refused_with_the_rule_in_both_languages(hub: Hub, client: TestClient) -> None:
    refused = client.post("/api/samples", headers=as_user(hub, "wang"),
                          json={"meal": "lunch", "dishes": [{"name": "红烧肉", "weight_g": 150},
                                                            {"name": "青菜", "weight_g": 100}]})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["field"] == "dishes.1.weight_g"
    assert "100 g is under the minimum of 125 g" in detail["message"]
    assert "不足每样 125 g" in detail["message"]
    assert hub.samples.store.on_day("2026-10-12") == []  # nothing of it was recorded
    assert underweight_alarms(hub) == []


def test_short_with_a_reason_then_the_portion_is_added(hub: Hub, client: TestClient) -> None:
    wang = as_user(hub, "wang")
    logged = client.post("/api/samples", headers=wang, json={"meal": "lunch", "dishes": [
        {"name": "青菜", "weight_g": 100, "short_reason": "菜已打完，稍后补"}]})
    assert logged.status_code == 201, logged.text
    record = logged.json()
    (dish,) = record["dishes"]
    assert dish["underweight"] and dish["short_reason"] == "菜已打完，稍后补" and dish["logged_by"] == "wang"
    assert underweight_alarms(hub) == ["firing"]
    topped = client.post(f"/api/samples/{record['id']}/dishes/{dish['id']}/portion", headers=wang,
                         json={"add_g": 30})
    assert topped.status_code == 200, topped.text
    (after,) = topped.json()["dishes"]
    assert after["weight_g"] == 130 and not after["underweight"] and after["short_reason"] == ""
    assert underweight_alarms(hub) == ["resolved"]
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "sample.portion_added"]
    assert entry.actor == "wang" and json.loads(entry.detail)["added_g"] == 30
    bad = client.post(f"/api/samples/{record['id']}/dishes/{dish['id']}/portion", headers=wang, json={"add_g": 0})
    assert bad.status_code == 422 and "add_g" in bad.text


def test_the_author_corrects_a_wrong_entry_until_the_retention_ends(hub: Hub, client: TestClient,
                                                                    clock: Clock) -> None:
    wang = as_user(hub, "wang")
    record = client.post("/api/samples", headers=wang, json={"meal": "lunch", "dishes": [
        {"name": "红烧鱼", "weight_g": 1500}]}).json()
    dish_id = record["dishes"][0]["id"]
    url = f"/api/samples/{record['id']}/dishes/{dish_id}/correct"
    # Someone else may not; the author must say why; a short weight still needs its reason.
    assert client.post(url, headers=as_user(hub, "zhang"), json={"weight_g": 150, "reason": "多打了一个 0"}
                       ).status_code == 403
    assert client.post(url, headers=wang, json={"weight_g": 150}).status_code == 422
    short = client.post(url, headers=wang, json={"weight_g": 15, "reason": "多打了两个 0"})
    assert short.status_code == 422 and short.json()["detail"]["field"] == "correction.weight_g"
    fixed = client.post(url, headers=wang, json={"name": "红烧鲤鱼", "weight_g": 150, "reason": "多打了一个 0"})
    assert fixed.status_code == 200, fixed.text
    assert [(d["name"], d["weight_g"]) for d in fixed.json()["dishes"]] == [("红烧鲤鱼", 150)]
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "sample.corrected"]
    detail = json.loads(entry.detail)
    assert entry.actor == "wang" and detail["before"]["weight_g"] == 1500 and detail["after"]["weight_g"] == 150
    assert detail["reason"] == "多打了一个 0"
    # After the 48 h retention: the record is what the inspector reads.
    clock.set("2026-10-14 12:00")
    late = client.post(url, headers=wang, json={"weight_g": 160, "reason": "再改"})
    assert late.status_code == 409 and "留样期已过" in late.text
    assert record["held_until"] == local("2026-10-14 11:50")


def test_no_correction_after_the_discard(hub: Hub, client: TestClient, clock: Clock) -> None:
    wang = as_user(hub, "wang")
    record = client.post("/api/samples", headers=wang, json={"meal": "lunch", "dishes": [
        {"name": "米饭", "weight_g": 130}]}).json()
    dish_id = record["dishes"][0]["id"]
    clock.set("2026-10-12 12:00")
    assert client.post(f"/api/samples/{record['id']}/discard", headers=wang, json={}).status_code == 200
    refused = client.post(f"/api/samples/{record['id']}/dishes/{dish_id}/correct", headers=wang,
                          json={"weight_g": 140, "reason": "称错了"})
    assert refused.status_code == 409 and "弃置" in refused.text
    assert client.post(f"/api/samples/{record['id']}/dishes/{dish_id}/portion", headers=wang,
                       json={"add_g": 10}).status_code == 409
