"""Walking a route by its codes: a scan opens only that place's lines, they keep the scan's place and time,
and a line of a place cannot be ticked from anywhere else."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.checks.kinds import Answer
from hub.runtime import Hub
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY

ROUND = {"name": "门卫夜间巡查", "cadence": "daily", "due_by": "22:30", "days": "every", "role": "gatekeeper",
         "place": "校园", "items": [
             {"key": "classrooms_locked", "text": "教室门已上锁", "section": "教学楼", "place": "教学楼"},
             {"key": "classrooms_power", "text": "灯光、电源已关闭", "section": "教学楼", "place": "教学楼"},
             {"key": "lab_locked", "text": "实验室门窗已关好", "section": "实验楼", "place": "实验楼",
              "key_item": True},
             {"key": "duty_log", "text": "值班记录已填写", "section": "门岗"}]}


@pytest.fixture
def walk_hub(make_hub: Callable[..., Hub], clock: Clock) -> Hub:
    clock.set(f"{MONDAY} 21:00")
    return make_hub(templates={"night_round": ROUND})


@pytest.fixture
def client(walk_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(walk_hub.settings, hub=walk_hub), base_url="http://hub.test") as test_client:
        yield test_client


def _place(hub: Hub, name: str) -> tuple[int, str]:
    found = next(p for p in hub.checks.places.all() if p.name == name)
    return found.id, found.token


def _scan(client: TestClient, hub: Hub, name: str, headers: dict[str, str]) -> tuple[int, str]:
    page = client.get(f"/q/{_place(hub, name)[1]}", headers=headers)
    assert page.status_code == 200
    match = re.search(r'data-scan="(\d+)"', page.text.split('data-kind="place-lines"', 1)[1])
    assert match is not None
    return int(match.group(1)), page.text


def test_a_scan_opens_only_that_place_s_lines_and_they_keep_the_scan_s_place_and_time(
        walk_hub: Hub, client: TestClient, clock: Clock) -> None:
    gatekeeper, headers = bearer(walk_hub, Role.GATEKEEPER)
    scan, page = _scan(client, walk_hub, "教学楼", headers)
    assert 'data-item="classrooms_locked"' in page and 'data-item="classrooms_power"' in page
    assert 'data-item="lab_locked"' not in page and 'data-item="duty_log"' not in page
    scanned_at = clock()

    clock.now += 120
    lines = client.post("/api/checks/night_round/lines", headers=headers, json={"scan": scan, "answers": [
        {"item": "classrooms_locked", "answer": "ok"}, {"item": "classrooms_power", "answer": "ok"}]})
    assert lines.status_code == 201, lines.text
    assert {line["scan_place"] for line in lines.json()} == {"教学楼"}
    # A line of another place is not taken on this place's scan, and names the field.
    wrong = client.post("/api/checks/night_round/lines", headers=headers, json={"scan": scan, "answers": [
        {"item": "lab_locked", "answer": "ok"}]})
    assert wrong.status_code == 422 and wrong.json()["detail"]["field"] == "answers.0.item"
    # Nor ticked on the checklist itself, away from the place.
    away = client.post("/api/checks/night_round", headers=headers, json={"opened_at": clock(), "answers": [
        {"item": "lab_locked", "answer": "ok"}, {"item": "duty_log", "answer": "ok"}]})
    assert away.status_code == 422 and away.json()["detail"]["field"] == "answers.lab_locked"

    clock.now += 300
    lab_scan, _ = _scan(client, walk_hub, "实验楼", headers)
    lab_at = clock()
    clock.now += 60
    assert client.post("/api/checks/night_round/lines", headers=headers, json={"scan": lab_scan, "answers": [
        {"item": "lab_locked", "answer": "fail", "note": "三楼化学实验室窗户关不上"}]}).status_code == 201
    board = client.get("/checks", headers=headers).text
    assert 'data-walked="classrooms_locked"' in board and 'data-walked="lab_locked"' in board
    assert 'data-item="lab_locked"' not in board  # a place's line is not a field on the board

    clock.now += 60
    done = client.post("/api/checks/night_round", headers=headers, json={"opened_at": clock(), "answers": [
        {"item": "duty_log", "answer": "ok"}]})
    assert done.status_code == 201, done.text
    answers = {a["item"]: a for a in done.json()["answers"]}
    assert answers["classrooms_locked"]["scan_place"] == "教学楼"
    assert answers["classrooms_locked"]["scanned_at"] == scanned_at
    assert answers["lab_locked"]["scan_place"] == "实验楼" and answers["lab_locked"]["scanned_at"] == lab_at
    assert answers["lab_locked"]["answer"] == Answer.FAIL and answers["lab_locked"]["order_id"] is not None
    assert answers["duty_log"]["scan_place"] == "" and answers["duty_log"]["scanned_at"] is None
    assert done.json()["opened_at"] == scanned_at  # the walk's time counts from its first scan
    order = walk_hub.checks.order(answers["lab_locked"]["order_id"])
    assert order.place == "实验楼" and order.text == "三楼化学实验室窗户关不上"
    assert not walk_hub.checks.store.lines("night_round", MONDAY)  # the walk's lines became the answers
    # The lab's history: the line checked there, the scan of its code, the work order it opened.
    lab_id, _ = _place(walk_hub, "实验楼")
    history = client.get(f"/checks/places/{lab_id}", headers=headers)
    assert history.status_code == 200 and "实验室门窗已关好" in history.text
    assert f'data-scan-at="{lab_scan}"' in history.text and f'data-order-at="{order.id}"' in history.text
    assert "教室门已上锁" not in history.text
    assert client.get("/checks/places/999999", headers=headers).status_code == 404
    actions = [(e.actor, e.action) for e in walk_hub.state.audit_entries()]
    assert actions.count((gatekeeper.username, "check.lines")) == 2
    assert actions.count((gatekeeper.username, "place.scan")) == 2


def test_a_line_needs_a_fresh_scan_of_one_s_own_at_a_place_still_in_use(
        walk_hub: Hub, client: TestClient, clock: Clock) -> None:
    _, headers = bearer(walk_hub, Role.GATEKEEPER)
    _, other = bearer(walk_hub, Role.GATEKEEPER)
    scan, _ = _scan(client, walk_hub, "教学楼", headers)
    body = {"scan": scan, "answers": [{"item": "classrooms_locked", "answer": "ok"}]}

    someone_else = client.post("/api/checks/night_round/lines", headers=other, json=body)
    assert someone_else.status_code == 403 and someone_else.json()["detail"]["field"] == "scan"
    made_up = client.post("/api/checks/night_round/lines", headers=headers, json={**body, "scan": scan + 100})
    assert made_up.status_code == 403

    clock.now += walk_hub.checks.config.scan_valid_min * 60 + 1
    stale = client.post("/api/checks/night_round/lines", headers=headers, json=body)
    assert stale.status_code == 403 and "扫码已过期" in stale.json()["detail"]["message"]

    fresh, _ = _scan(client, walk_hub, "教学楼", headers)
    _, officer = bearer(walk_hub, Role.SAFETY_OFFICER)
    place_id, token = _place(walk_hub, "教学楼")
    assert client.post(f"/api/places/{place_id}/retire", headers=officer).status_code == 200
    retired = client.post("/api/checks/night_round/lines", headers=headers, json={**body, "scan": fresh})
    assert retired.status_code == 403 and retired.json()["detail"]["field"] == "scan"
    assert client.get(f"/q/{token}", headers=headers).status_code == 404  # and its code opens nothing
    assert client.get("/q/" + "y" * 16, headers=headers).status_code == 404  # nor another school's


def test_a_place_s_line_out_of_range_or_failed_without_a_note_is_refused_naming_it(
        make_hub: Callable[..., Hub], clock: Clock) -> None:
    clock.set(f"{MONDAY} 21:00")
    template = {**ROUND, "items": [*ROUND["items"],
                                   {"key": "lab_fridge", "text": "实验室冰箱温度", "kind": "number", "high": 8,
                                    "unit": "°C", "place": "实验楼"}]}
    hub = make_hub(templates={"night_round": template})
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as client:
        _, headers = bearer(hub, Role.GATEKEEPER)
        scan, _ = _scan(client, hub, "实验楼", headers)
        hot = client.post("/api/checks/night_round/lines", headers=headers, json={"scan": scan, "answers": [
            {"item": "lab_locked", "answer": "ok"}, {"item": "lab_fridge", "value": 12}]})
        assert hot.status_code == 422 and hot.json()["detail"]["field"] == "answers.1.lab_fridge"
        assert not hub.checks.store.lines("night_round", MONDAY)
