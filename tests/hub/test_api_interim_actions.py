"""Interim actions: what people did while an alarm is still active, each attributed and timestamped.

A cook records "moved the food to fridge 2" while the fridge is still warm, ticking off the
playbook's steps; the alarm is closed with the final corrective action once it cooled; a
closed or verified record takes no more; the page, the history and the weekly report list both.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.ingest import Inbound
from hub.report.period import date_range
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import bearer, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def telemetry(seq: int, value: float, ts: float) -> Inbound:
    body = {"device": "dev-a", "boot_id": "b", "seq": seq, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}
    return Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(body).encode(), seq, 1, 0.0)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    config = HubConfig.model_validate({"alarm_delay_s": 0, "alerts": {"playbooks": {"food_hold_hours": 4}}})
    running = Hub(HubSettings(home=tmp_path, rules=config), connect_mqtt=False)
    status = {"state": "online", "boot_id": "b", "ts": 1.0,
              "sensors": [{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "冷藏冰箱 1 号"}]}
    running.pipeline.process([
        Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
        telemetry(1, 9.5, 1000.0)])
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def as_person(hub: Hub, role: Role, username: str, name: str) -> dict[str, str]:
    user = make_user(hub, role, username, display_name=name)
    return {"Authorization": f"Bearer {hub.accounts.create_token(user.id, 'tests')[0]}"}


def firing(client: TestClient, headers: dict[str, str]) -> int:
    (alert,) = client.get("/api/alerts", params={"state": "firing"}, headers=headers).json()
    return int(alert["id"])


def test_the_cook_records_actions_while_the_fridge_is_warm_and_closes_after_it_cools(
        client: TestClient, hub: Hub) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "wang-cook", "王师傅")
    alert_id = firing(client, cook)
    url = f"/api/alerts/{alert_id}"
    events = hub.broadcaster.subscribe()

    photo = client.post(f"{url}/photos", files={"photo": ("fridge2.png", PNG, "image/png")}, headers=cook)
    assert photo.status_code == 201
    moved = client.post(f"{url}/actions", headers=cook, json={
        "text": "13:05 把食品移到 2 号冰箱", "steps": ["move_food"], "photos": [photo.json()["name"]]})
    assert moved.status_code == 201, moved.text
    body = moved.json()
    assert (body["who"], body["who_name"], body["steps"]) == ("wang-cook", "王师傅（wang-cook）", ["move_food"])
    assert body["photos"] == [photo.json()["name"]]
    assert client.get(url, headers=cook).json()["state"] == "firing"  # a record, not a state change
    assert [e.kind for e in events.drain()] == ["action"]

    # The card shows what to do, what was ticked, and by whom (the display name with the username).
    page = client.get(f"/alerts/{alert_id}", headers={**cook, "Accept": "text/html"}).text
    assert "把食品移到 2 号冰箱" in page and "王师傅（wang-cook）" in page
    assert "丢弃在 8 °C 以上存放超过 4 小时的食品" in page  # the school's own hold time
    assert 'data-step="move_food"' in page and 'class="done" data-step="move_food"' in page

    # Still warm: closing waits for the condition to clear; the fridge cools, then it closes.
    assert client.post(f"{url}/close", json={"text": "已维修"}, headers=cook).status_code == 409
    hub.pipeline.process([telemetry(2, 4.0, 1100.0)])
    assert client.get(url, headers=cook).json()["state"] == "resolved"
    assert client.post(f"{url}/actions", json={"steps": ["call_manager"]}, headers=cook).status_code == 201
    closed = client.post(f"{url}/close", json={"text": "压缩机已修好，转移的食品已放回"}, headers=cook)
    assert closed.status_code == 200 and closed.json()["state"] == "closed"

    listed = client.get(f"{url}/actions", headers=cook).json()
    assert [a["steps"] for a in listed] == [["move_food"], ["call_manager"]]
    audit = [e for e in hub.state.audit_entries() if e.action == "alert.interim_action"]
    assert [e.actor for e in audit] == ["wang-cook", "wang-cook"]


def test_a_closed_or_verified_alarm_takes_no_more_actions(client: TestClient, hub: Hub) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "cook", "王师傅")
    _, officer = bearer(hub, Role.SAFETY_OFFICER)
    alert_id = firing(client, cook)
    url = f"/api/alerts/{alert_id}"
    hub.pipeline.process([telemetry(2, 4.0, 1100.0)])
    assert client.post(f"{url}/close", json={"text": "已调温"}, headers=cook).status_code == 200
    late = client.post(f"{url}/actions", json={"text": "补记"}, headers=cook)
    assert late.status_code == 409 and "关闭" in str(late.json()["detail"])
    assert client.post(f"{url}/verify", json={"text": "属实"}, headers=officer).json()["state"] == "verified"
    assert client.post(f"{url}/actions", json={"text": "补记"}, headers=officer).status_code == 409
    assert client.get(f"{url}/actions", headers=cook).json() == []


def test_an_action_says_something_names_real_steps_and_kept_photos(client: TestClient, hub: Hub) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "cook", "王师傅")
    url = f"/api/alerts/{firing(client, cook)}"
    empty = client.post(f"{url}/actions", json={"text": "  "}, headers=cook)
    assert empty.status_code == 422 and empty.json()["detail"]["field"] == "text"
    unknown = client.post(f"{url}/actions", json={"steps": ["open_the_gate"]}, headers=cook)
    assert unknown.status_code == 422 and unknown.json()["detail"]["field"] == "steps"
    photo = client.post(f"{url}/actions", json={"text": "拍照", "photos": ["../../etc/passwd"]}, headers=cook)
    assert photo.status_code == 422 and photo.json()["detail"]["field"] == "photos"
    assert client.post("/api/alerts/999/actions", json={"text": "x"}, headers=cook).status_code == 404
    _, gatekeeper = bearer(hub, Role.GATEKEEPER)
    assert client.post(f"{url}/actions", json={"text": "x"}, headers={}).status_code == 401
    # Anyone handling an alarm may record what they did (the gatekeeper covering the kitchen at night).
    assert client.post(f"{url}/actions", json={"text": "看过了"}, headers=gatekeeper).status_code == 201


def test_an_action_is_rendered_as_text_never_markup(client: TestClient, hub: Hub) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "cook", "<b>王</b>")
    alert_id = firing(client, cook)
    assert client.post(f"/api/alerts/{alert_id}/actions", json={"text": "<script>alert(1)</script>"},
                       headers=cook).status_code == 201
    for path in (f"/alerts/{alert_id}", "/canteen", "/safety"):
        page = client.get(path, headers={**cook, "Accept": "text/html"}).text
        assert "<script>alert(1)</script>" not in page and "<b>王</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/alerts/{alert_id}", headers=cook).text


def test_an_interim_action_is_final(hub: Hub, client: TestClient) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "cook", "王师傅")
    alert_id = firing(client, cook)
    assert client.post(f"/api/alerts/{alert_id}/actions", json={"text": "移走食品"}, headers=cook).status_code == 201
    with pytest.raises(sqlite3.DatabaseError, match="final"):
        hub.state._db.execute("UPDATE alert_actions SET text = 'rewritten'")
    with pytest.raises(sqlite3.DatabaseError, match="final"):
        hub.state._db.execute("DELETE FROM alert_actions")


def test_the_weekly_report_lists_interim_and_corrective_actions(client: TestClient, hub: Hub) -> None:
    cook = as_person(hub, Role.CANTEEN_STAFF, "cook", "王师傅")
    alert_id = firing(client, cook)
    url = f"/api/alerts/{alert_id}"
    assert client.post(f"{url}/actions", json={"text": "移到 2 号冰箱", "steps": ["move_food"]},
                       headers=cook).status_code == 201
    hub.pipeline.process([telemetry(2, 4.0, 1100.0)])
    assert client.post(f"{url}/close", json={"text": "已维修"}, headers=cook).status_code == 200
    period = date_range("1970-01-01", "1970-01-02", hub.tz)
    report = hub.reports.build(period, now=2000.0)
    (alarm,) = [a for a in report.alarms if a.id == alert_id]
    (interim,) = alarm.interim
    assert (interim.by, interim.text, interim.steps) == ("cook", "移到 2 号冰箱", ["把食品转移到其他正常的冰箱"])
    assert alarm.action == "已维修"
    pdf = hub.reports.pdf(period, now=2000.0)
    text = re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))
    assert "记录：把食品转移到其他正常的冰箱、移到2号冰箱" in text and "处置：已维修" in text
