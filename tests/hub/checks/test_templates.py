"""Templates edited on the page: a new revision changes what is asked from then on, never a completed record;
only the safety officer and the admin edit them; every revision is kept and audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.checks.kinds import Answer
from hub.checks.service import AnswerInput
from hub.runtime import Hub
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def _night_round_edited(hub: Hub) -> dict[str, Any]:
    """The night round with the windows checked first, the power line removed and a count of keys added."""
    body: dict[str, Any] = hub.checks.template("night_round").model_dump(mode="json")
    items = {item["key"]: item for item in body["items"]}
    body["items"] = [items["windows_shut"], items["rooms_locked"], items["gate_locked"],
                     {"key": "keys_back", "text": "钥匙归还数量", "section": "巡查", "kind": "number", "low": 12,
                      "high": 12, "unit": "把"}]
    body["due_by"] = "23:00"
    return body


def test_an_edit_applies_from_then_on_and_the_record_keeps_the_version_it_was_filled_with(
        hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 21:00")
    gatekeeper, as_gatekeeper = bearer(hub, Role.GATEKEEPER)
    officer, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    before = hub.checks.template("night_round")
    first = hub.checks.submit("night_round", [AnswerInput(item.key, Answer.OK) for item in before.items],
                              clock() - 600, gatekeeper.username).run

    refused = client.put("/api/checks/templates/night_round", headers=as_gatekeeper, json=_night_round_edited(hub))
    assert refused.status_code == 403
    saved = client.put("/api/checks/templates/night_round", headers=as_officer, json=_night_round_edited(hub))
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == 1 and saved.json()["edited_by"] == officer.username
    assert saved.json()["version"] != before.version()

    clock.set("2026-10-13 21:00")
    due = next(c for c in client.get("/api/checks", headers=as_gatekeeper).json()
               if c["key"] == "night_round" and c["period"] == "2026-10-13")
    assert [i["key"] for i in due["items"]] == ["windows_shut", "rooms_locked", "gate_locked", "keys_back"]
    assert due["deadline"] > clock() + 3600  # 23:00 now
    answers = [{"item": "windows_shut", "answer": "ok"}, {"item": "rooms_locked", "answer": "ok"},
               {"item": "gate_locked", "answer": "ok"}, {"item": "keys_back", "value": 11, "note": "少一把"}]
    second = client.post("/api/checks/night_round", headers=as_gatekeeper,
                         json={"answers": answers, "opened_at": clock() - 600})
    assert second.status_code == 201, second.text
    assert second.json()["version"] == saved.json()["version"] and second.json()["failed"] == 1

    kept = hub.checks.store.run(first.id)
    assert kept is not None and kept.version == before.version()
    assert [i["key"] for i in json.loads(kept.template_json)["items"]] == [
        "rooms_locked", "power_off", "windows_shut", "gate_locked"]
    assert [a.item for a in kept.answers] == ["rooms_locked", "power_off", "windows_shut", "gate_locked"]

    (entry,) = [e for e in hub.state.audit_entries() if e.action == "check.template"]
    detail = json.loads(entry.detail)
    assert entry.actor == officer.username and detail["revision"] == 1
    assert detail["items"] == ["windows_shut", "rooms_locked", "gate_locked", "keys_back"]


def test_a_new_checklist_and_a_stopped_one(hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 09:00")
    _, as_admin = bearer(hub, Role.ADMIN)
    lab = {"name": "实验室安全日查", "cadence": "daily", "due_by": "16:00", "days": "school", "place": "实验楼",
           "items": [{"key": "gas", "text": "燃气阀门已关闭", "key_item": True},
                     {"key": "photo_bench", "text": "实验台整洁", "photo": True}]}
    assert client.put("/api/checks/templates/lab_daily", headers=as_admin, json=lab).status_code == 200
    assert any(c["key"] == "lab_daily" for c in client.get("/api/checks", headers=as_admin).json())

    removed = client.delete("/api/checks/templates/daily_patrol", headers=as_admin)
    assert removed.status_code == 200 and removed.json()["revision"] == 1
    keys = {t["key"] for t in client.get("/api/checks/templates", headers=as_admin).json()}
    assert "daily_patrol" not in keys and "lab_daily" in keys
    assert client.delete("/api/checks/templates/daily_patrol", headers=as_admin).status_code == 404
    assert not any(c["key"] == "daily_patrol" for c in client.get("/api/checks", headers=as_admin).json())

    # Put back: a revision again, the older ones kept.
    patrol = hub.checks.config.templates["daily_patrol"].model_dump(mode="json")
    assert client.put("/api/checks/templates/daily_patrol", headers=as_admin, json=patrol).json()["revision"] == 2
    assert [r.revision for r in hub.checks.store.template_revisions("daily_patrol")] == [1, 2]


@pytest.mark.parametrize(("change", "field"), [
    (lambda t: t["items"][0].update(text="门窗\u202e已关"), "items.0.text"),
    (lambda t: t.update(name="夜查\x00"), "name"),
])
def test_typed_text_with_control_characters_is_refused_naming_the_field(
        hub: Hub, client: TestClient, change: Any, field: str) -> None:
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    body = hub.checks.template("night_round").model_dump(mode="json")
    change(body)
    refused = client.put("/api/checks/templates/night_round", headers=as_officer, json=body)
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == field
    assert hub.checks.store.template_revisions() == []


def test_a_template_that_does_not_hold_together_is_refused(hub: Hub, client: TestClient) -> None:
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    body = hub.checks.template("night_round").model_dump(mode="json")
    body["items"].append({"key": "temp", "text": "温度", "kind": "number", "low": 9, "high": 2})
    assert client.put("/api/checks/templates/night_round", headers=as_officer, json=body).status_code == 422
    body["items"][-1] = dict(body["items"][0])  # a key twice
    assert client.put("/api/checks/templates/night_round", headers=as_officer, json=body).status_code == 422
    assert client.put("/api/checks/templates/Bad-Key", headers=as_officer, json=body).status_code == 422
    assert hub.checks.store.template_revisions() == []


def test_the_editor_page_is_for_the_safety_officer(hub: Hub, client: TestClient) -> None:
    _, as_officer = bearer(hub, Role.SAFETY_OFFICER)
    _, as_staff = bearer(hub, Role.CANTEEN_STAFF)
    page = client.get("/checks/templates", headers=as_officer)
    assert page.status_code == 200 and "⟦" not in page.text
    assert page.text.count('data-kind="template"') == len(hub.checks.templates()) + 1
    assert 'data-tpl-item="gate_locked"' in page.text
    assert client.get("/checks/templates", headers=as_staff).status_code == 403
