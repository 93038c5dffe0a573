"""Closed records stay closed: a verified alarm takes no photo, a signed week's sign-off cannot be rewritten,
and nothing of a signed week changes except by an audited note."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize, bearer, make_user

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def telemetry(seq: int, value: float, ts: float) -> Inbound:
    body = {"device": "dev-a", "boot_id": "b", "seq": seq, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}
    return Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(body).encode(), seq, 1, 0.0)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    status = {"state": "online", "boot_id": "b", "ts": 1.0,
              "sensors": [{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge"}]}
    running.pipeline.process([
        Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
        telemetry(1, 9.5, 1000.0), telemetry(2, 4.0, 1100.0)])
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def test_a_verified_alarm_takes_no_more_photos(client: TestClient, hub: Hub) -> None:
    _, officer = bearer(hub, Role.SAFETY_OFFICER)
    (alert,) = client.get("/api/alerts", params={"state": "resolved"}).json()
    url = f"/api/alerts/{alert['id']}"
    assert client.post(f"{url}/photos", files={"photo": ("before.png", PNG, "image/png")}).status_code == 201
    assert client.post(f"{url}/close", json={"text": "已调温并转移食品"}).status_code == 200
    assert client.post(f"{url}/verify", json={"text": "属实"}, headers=officer).json()["state"] == "verified"
    late = client.post(f"{url}/photos", files={"photo": ("after.png", PNG[:-1] + b"\x01", "image/png")})
    assert late.status_code == 409 and late.json()["detail"]["field"] == "alert_id"
    assert "验收" in late.json()["detail"]["message"]
    assert len(client.get(f"{url}/photos").json()) == 1
    assert [e.action for e in hub.state.audit_entries() if e.action == "alert.photo"] == ["alert.photo"]


def test_a_signature_is_final(client: TestClient, hub: Hub) -> None:
    officer = make_user(hub, Role.SAFETY_OFFICER, "li-officer", display_name="李老师")
    as_officer = {"Authorization": f"Bearer {hub.accounts.create_token(officer.id, 'tests')[0]}"}
    signed = client.post("/api/reports/signoffs", json={"kind": "weekly", "period": "2026-W40", "comment": "已审核"},
                         headers=as_officer)
    assert signed.status_code == 201
    assert signed.json()["signer_name"] == "李老师（li-officer）"  # the display name with the username
    _, other = bearer(hub, Role.SAFETY_OFFICER)
    second = client.post("/api/reports/signoffs", json={"kind": "weekly", "period": "2026-W40"}, headers=other)
    assert second.status_code == 409
    store = hub.reports.store
    with pytest.raises(sqlite3.DatabaseError, match="final"):
        store._db.execute("UPDATE signoffs SET comment = 'rewritten', signed_by = 'someone'")
    with pytest.raises(sqlite3.DatabaseError, match="final"):
        store._db.execute("DELETE FROM signoffs")
    (kept,) = store.signoffs("weekly", "2026-W40")
    assert (kept.signed_by, kept.comment) == (officer.username, "已审核")


def test_alarm_pages_name_people_with_their_username(client: TestClient, hub: Hub) -> None:
    """A look-alike display name cannot hide whose account acknowledged, closed or verified an alarm."""
    cook = make_user(hub, Role.CANTEEN_STAFF, "wang-cook", display_name="王师傅")
    as_cook = {"Authorization": f"Bearer {hub.accounts.create_token(cook.id, 'tests')[0]}"}
    (alert,) = client.get("/api/alerts", params={"state": "resolved"}).json()
    assert client.post(f"/api/alerts/{alert['id']}/close", json={"text": "已调温"}, headers=as_cook).status_code == 200
    page = client.get(f"/alerts/{alert['id']}", headers={**as_cook, "Accept": "text/html"})
    assert page.status_code == 200 and "王师傅（wang-cook）" in page.text


# -- a signed week stays closed ----------------------------------------------------------------
# The fixture's alarm began at 1970-01-01 08:16 Beijing time: ISO week 1970-W01 (Monday 1969-12-29).
SIGNED_WEEK = "1970-W01"


def _sign(client: TestClient, hub: Hub) -> None:
    _, officer = bearer(hub, Role.SAFETY_OFFICER, "li-officer")
    signed = client.post("/api/reports/signoffs", json={"kind": "weekly", "period": SIGNED_WEEK}, headers=officer)
    assert signed.status_code == 201, signed.text


def _refused(response: Response, field: str) -> None:
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail["field"] == field and SIGNED_WEEK in detail["message"]
    assert "signed" in detail["message"] and "已审核签字" in detail["message"]


def test_a_signed_weeks_finished_alarm_stays_and_open_ones_go_on(client: TestClient, hub: Hub) -> None:
    _, cook = bearer(hub, Role.CANTEEN_STAFF, "wang-cook")
    (resolved,) = client.get("/api/alerts", params={"state": "resolved"}).json()
    hub.pipeline.process([telemetry(3, 9.6, 2000.0), telemetry(4, 4.1, 2100.0)])  # a second one, resolved
    second = next(a for a in client.get("/api/alerts", params={"state": "resolved"}).json()
                  if a["id"] != resolved["id"])
    assert client.post(f"/api/alerts/{second['id']}/close", json={"text": "已调温"}, headers=cook).status_code == 200
    hub.pipeline.process([telemetry(5, 9.7, 3000.0)])  # a third, still firing when the week is signed
    (firing,) = client.get("/api/alerts", params={"state": "firing"}).json()
    _sign(client, hub)
    _, other_officer = bearer(hub, Role.SAFETY_OFFICER, "zhao-officer")

    # What was finished when the week was signed stays as the report printed it.
    closed_url = f"/api/alerts/{second['id']}"
    _refused(client.post(f"{closed_url}/photos", files={"photo": ("late.png", PNG, "image/png")}, headers=cook),
             "alert_id")
    assert client.get(f"{closed_url}/photos").json() == []
    # What was still open was printed as open: it is handled to the end, and the next report shows it.
    url = f"/api/alerts/{resolved['id']}"
    assert client.post(f"{url}/photos", files={"photo": ("after.png", PNG, "image/png")},
                       headers=cook).status_code == 201
    closed = client.post(f"{url}/close", json={"text": "已转移食品"}, headers=cook)
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    verified = client.post(f"{closed_url}/verify", json={"text": "属实"}, headers=other_officer)
    assert verified.status_code == 200 and verified.json()["state"] == "verified"
    acked = client.post(f"/api/alerts/{firing['id']}/acknowledge", json={"text": "在处理"}, headers=cook)
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"

    # What is still to be said goes in a note: kept, audited as the signed-in cook, final.
    note = client.post(f"{url}/notes", json={"text": "补充：当时已将食品转移至 2 号冰箱"}, headers=cook)
    assert note.status_code == 201, note.text
    assert note.json()["author"] == "wang-cook" and note.json()["subject"] == f"alert/{resolved['id']}"
    assert [n["text"] for n in client.get(f"{url}/notes").json()] == ["补充：当时已将食品转移至 2 号冰箱"]
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "note.added"]
    assert (entry.actor, entry.subject) == ("wang-cook", f"alert/{resolved['id']}")
    with pytest.raises(sqlite3.DatabaseError, match="final"):
        hub.state._db.execute("UPDATE notes SET text = 'rewritten'")
    assert client.post("/api/alerts/9999/notes", json={"text": "x"}, headers=cook).status_code == 404


def test_a_signed_weeks_calendar_exceptions_stay(client: TestClient, hub: Hub) -> None:
    _, officer = bearer(hub, Role.SAFETY_OFFICER, "zhao-officer")
    exam = client.post("/api/calendar/overrides", headers=officer,
                       json={"kind": "closed", "date": "1970-01-02", "reason": "考试"})
    assert exam.status_code == 201, exam.text
    _sign(client, hub)
    _refused(client.post("/api/calendar/overrides", headers=officer,
                         json={"kind": "no_school", "date": "1970-01-01", "reason": "补假"}), "date")
    _refused(client.delete(f"/api/calendar/overrides/{exam.json()['id']}", headers=officer), "date")
    assert [o["id"] for o in client.get("/api/calendar/overrides").json()] == [exam.json()["id"]]
    # Days after the signed week, and recurring windows, are not the signed report's.
    later = client.post("/api/calendar/overrides", headers=officer,
                        json={"kind": "no_school", "date": "1970-01-05", "reason": "补假"})
    assert later.status_code == 201
    assert client.delete(f"/api/calendar/overrides/{later.json()['id']}", headers=officer).status_code == 204
    # What should have been in the calendar is said in a note on the week.
    note = client.post("/api/reports/notes", headers=officer,
                       json={"kind": "weekly", "period": SIGNED_WEEK, "text": "1 月 1 日实为放假，校历漏记"})
    assert note.status_code == 201 and note.json()["subject"] == f"report/weekly/{SIGNED_WEEK}"
    listed = client.get("/api/reports/notes", params={"period": SIGNED_WEEK}, headers=officer).json()
    assert [n["author"] for n in listed] == ["zhao-officer"]
