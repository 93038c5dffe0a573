"""The gate register's API through the real app: who sees what, the actor is the signed-in account, bad input."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.visitors.conftest import MONDAY, People, visitor


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def _token(hub: Hub, username: str) -> dict[str, str]:
    user = hub.accounts.active_user(username)
    assert user is not None
    token, _ = hub.accounts.create_token(user.id, "tests")
    return {"Authorization": f"Bearer {token}"}


VISITOR = {"name": "张建国", "phone": "138-1234-5678", "organisation": "鲜丰蔬菜配送", "purpose": "送菜",
           "party_size": 2, "plate": "粤b 12345", "id_type": "resident_id", "id_last4": "123x"}


def test_the_gate_registers_the_host_confirms_and_lists_show_the_phone_masked(
        client: TestClient, hub: Hub, people: People, clock: Clock) -> None:
    clock.set(f"{MONDAY} 10:00")
    gate, teacher = _token(hub, people.gatekeeper.username), _token(hub, people.teacher.username)
    body = {**VISITOR, "host": people.teacher.username, "request_key": "phone-req-0001",
            "registered_by": "someone-else"}
    created = client.post("/api/visitors", json=body, headers=gate)
    assert created.status_code == 201, created.text
    visit = created.json()
    assert visit["registered_by"] == people.gatekeeper.username and visit["state"] == "waiting"
    assert visit["phone"] == "13812345678" and visit["plate"] == "粤B12345" and visit["id_last4"] == "123X"
    again = client.post("/api/visitors", json=body, headers=gate)
    assert again.status_code == 201 and again.json()["id"] == visit["id"] and again.json()["created"] is False

    today = client.get("/api/visitors/today", headers=gate).json()
    assert [(v["id"], v["phone"], v["id_last4"]) for v in today["waiting"]] == [(visit["id"], "138****5678", "")]
    mine = client.get("/api/visitors/mine", headers=teacher).json()
    assert [v["id"] for v in mine] == [visit["id"]]

    _, cook = bearer(hub, Role.CANTEEN_STAFF)
    assert client.get(f"/api/visitors/{visit['id']}", headers=cook).status_code == 403
    assert client.get("/api/visitors/today", headers=cook).status_code == 403
    assert client.post(f"/api/visitors/{visit['id']}/answer", json={"allow": True}, headers=cook).status_code == 403
    assert client.get(f"/api/visitors/{visit['id']}", headers=teacher).json()["phone"] == "13812345678"

    confirmed = client.post(f"/api/visitors/{visit['id']}/answer", json={"allow": True}, headers=teacher)
    assert confirmed.status_code == 200 and confirmed.json()["answered_by"] == people.teacher.username
    out = client.post(f"/api/visitors/{visit['id']}/check-out", headers=gate)
    assert out.status_code == 200 and out.json()["phone"] == "138****5678"
    refused = client.post(f"/api/visitors/{visit['id']}/check-out", headers=gate)
    assert refused.status_code == 409 and "已于 10:00 离校" in refused.json()["detail"]["message"]

    found = client.get("/api/visitors/search", params={"q": "5678"}, headers=gate).json()
    assert [(v["id"], v["phone"]) for v in found] == [(visit["id"], "138****5678")]
    by_plate = client.get("/api/visitors/search", params={"q": "粤B12345"}, headers=gate).json()
    assert [v["id"] for v in by_plate] == [visit["id"]]
    repeat = client.post(f"/api/visitors/{visit['id']}/again", json={"request_key": "phone-req-0002"}, headers=gate)
    assert repeat.status_code == 201 and repeat.json()["state"] == "waiting"
    assert repeat.json()["name"] == "张建国" and repeat.json()["host"] == people.teacher.username


@pytest.mark.parametrize(("field", "value"), [
    ("name", "张\x00建国"), ("name", "长" * 41), ("organisation", "鲜丰\u202e配送"), ("purpose", "送菜\n第二行"),
    ("phone", "12345"), ("plate", "<script>"), ("id_last4", "110101199001011234"), ("party_size", 0),
])
def test_bad_text_is_refused_at_the_field(client: TestClient, hub: Hub, people: People, field: str,
                                          value: object) -> None:
    body = {**VISITOR, "host": people.teacher.username, field: value}
    refused = client.post("/api/visitors", json=body, headers=_token(hub, people.gatekeeper.username))
    assert refused.status_code == 422, refused.text
    assert field in str(refused.json()["detail"])
    assert hub.visitors.waiting() == []


def test_a_teacher_invites_and_issues_slips_only_for_their_class(
        client: TestClient, hub: Hub, people: People, clock: Clock) -> None:
    teacher = _token(hub, people.teacher.username)
    invited = client.post("/api/visitors/invitations", headers=teacher,
                          json={**{k: VISITOR[k] for k in ("name", "phone", "purpose")}, "day": MONDAY})
    assert invited.status_code == 201 and invited.json()["host"] == people.teacher.username
    assert invited.json()["state"] == "expected"
    start = clock() + 1800
    slip = {"pupil": "王小明", "reason": "看牙医", "start": start, "until": start + 3600, "collector": "父亲王强"}
    other = client.post("/api/leaves", json={**slip, "class_name": "五年级1班"}, headers=teacher)
    assert other.status_code == 403 and other.json()["detail"]["field"] == "class_name"
    own = client.post("/api/leaves", json={**slip, "class_name": "三年级2班"}, headers=teacher)
    assert own.status_code == 201 and own.json()["issued_by"] == people.teacher.username
    gate = _token(hub, people.gatekeeper.username)
    assert client.post("/api/leaves", json={**slip, "class_name": "三年级2班"}, headers=gate).status_code == 403
    assert client.post(f"/api/leaves/{own.json()['id']}/back", headers=gate).status_code == 409
    assert client.post(f"/api/leaves/{own.json()['id']}/out", headers=gate).json()["state"] == "out"
    assert [s["id"] for s in client.get("/api/leaves", headers=teacher).json()] == [own.json()["id"]]


def test_the_register_downloads_are_masked_and_for_the_gate_only(
        client: TestClient, hub: Hub, people: People, clock: Clock) -> None:
    invited = hub.visitors.invite(visitor(), dt.date(2026, 10, 12), actor=people.manager).record
    clock.set(f"{MONDAY} 09:00")
    hub.visitors.check_in(invited.id, actor=people.gatekeeper)
    gate = _token(hub, people.gatekeeper.username)
    pdf = client.get("/api/visitors/register/day", params={"date": MONDAY, "format": "pdf"}, headers=gate)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "138****5678" in text and "13812345678" not in text
    xlsx = client.get("/api/visitors/register/day", params={"date": MONDAY, "format": "xlsx"}, headers=gate)
    rows = list(load_workbook(io.BytesIO(xlsx.content))["来访人员"].iter_rows(values_only=True))
    assert rows[1][1:3] == ("张**", "138****5678")
    month = client.get("/api/visitors/register/month", params={"month": "2026-10", "format": "xlsx"}, headers=gate)
    assert list(load_workbook(io.BytesIO(month.content))["月汇总"].iter_rows(values_only=True))[-1][1] == 1
    assert client.get("/api/visitors/register/month", params={"month": "0000-01"}, headers=gate).status_code == 422
    assert client.get("/api/visitors/register/day", params={"date": MONDAY},
                      headers=_token(hub, people.teacher.username)).status_code == 403
