"""Closed records stay closed: a verified alarm takes no photo, a signed week's sign-off cannot be rewritten."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

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
