"""The calibration routes and page: the admin's guided check over HTTP, certificates, the tile's warning."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth_helpers import authorize
from tests.hub.calibration.conftest import PROBE
from tests.hub.web.conftest import Feed

BASE = "/api/calibration/dev-a/fridge-1"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _window(feed: Feed, value: float) -> None:
    now = time.time()
    for age in (28.0, 20.0, 10.0, 1.0):
        feed.reading("fridge-1", value, ts=now - age)


def test_the_guided_check_proposes_records_and_keeps_a_certificate(hub: Hub, feed: Feed, client: TestClient) -> None:
    admin = authorize(client, hub, Role.ADMIN)
    early = client.get(f"{BASE}/proposal", params={"reference": 0.0})
    assert early.status_code == 422 and early.json()["detail"]["field"] == "reference"
    _window(feed, 0.4)
    live = client.get(f"{BASE}/live").json()
    assert live["complete"] and live["average"] == pytest.approx(0.4) and live["count"] == 4
    proposal = client.get(f"{BASE}/proposal", params={"reference": 0.0}).json()
    assert proposal["offset"] == pytest.approx(-0.4) and proposal["passed"] and proposal["sendable"]

    created = client.post(f"{BASE}/checks", json={"method": "ice_point", "points": [proposal["point"]],
                                                  "note": "<b>冰水</b>"})
    assert created.status_code == 201, created.text
    check = created.json()["check"]
    assert check["checked_by"] == admin.username and check["hardware_id"] == PROBE and check["note"] == "<b>冰水</b>"
    assert created.json()["sent"] is False  # no broker in this hub: sent when the node reports in

    uploaded = client.post(f"/api/calibration/checks/{check['id']}/certificate",
                           files={"certificate": ("证书.pdf", PDF, "application/pdf")})
    assert uploaded.status_code == 201, uploaded.text
    url = uploaded.json()["certificate_url"]
    download = client.get(url)
    assert download.content == PDF and download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment")
    refused = client.post(f"/api/calibration/checks/{check['id']}/certificate",
                          files={"certificate": ("x.pdf", b"<script>alert(1)</script>", "application/pdf")})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "certificate"
    history = client.get(BASE).json()
    assert history["checks"][0]["certificate_url"] == url
    assert [e.action for e in hub.state.audit_entries() if e.action.startswith("calibration.")] == [
        "calibration.check", "calibration.certificate"]


@pytest.mark.parametrize(("body", "field"), [
    ({"method": "reference", "points": [{"reference": 4.0, "probe": 4.2}]}, "certificate_no"),
    ({"method": "ice_point", "points": []}, "points"),
    ({"method": "ice_point", "points": [{"reference": 0.0, "probe": 500.0}]}, "probe"),
    ({"method": "ice_point", "points": [{"reference": 0.0, "probe": 0.1}], "note": "a\u202eb"}, "note"),
])
def test_a_check_the_record_cannot_take_is_refused_naming_the_field(hub: Hub, feed: Feed, client: TestClient,
                                                                    body: dict[str, object], field: str) -> None:
    authorize(client, hub, Role.ADMIN)
    response = client.post(f"{BASE}/checks", json=body)
    assert response.status_code == 422
    assert field in response.text
    assert hub.calibration.store.checks() == []


def test_only_the_admin_records_checks_everyone_sees_them(hub: Hub, feed: Feed, client: TestClient) -> None:
    authorize(client, hub, Role.CANTEEN_MANAGER)
    assert client.get("/api/calibration").status_code == 200
    body = {"method": "ice_point", "points": [{"reference": 0.0, "probe": 0.1}]}
    assert client.post(f"{BASE}/checks", json=body).status_code == 403
    assert client.get("/admin/calibration", headers={"Accept": "text/html"}).status_code == 403


def test_the_page_lists_probes_and_guides_the_check_of_one(hub: Hub, feed: Feed, client: TestClient) -> None:
    authorize(client, hub, Role.ADMIN)
    html = {"Accept": "text/html"}
    listing = client.get("/admin/calibration", headers=html)
    assert listing.status_code == 200
    assert 'data-probe="dev-a/fridge-1"' in listing.text and "从未校准" in listing.text
    assert "data-calibrate" not in listing.text
    guided = client.get("/admin/calibration", params={"probe": "dev-a/fridge-1"}, headers=html)
    assert 'data-calibrate="dev-a/fridge-1"' in guided.text and "标准温度计读数" in guided.text
    assert '<script src="/static/calibration.js"' in guided.text
    assert client.get("/admin/calibration", params={"probe": "dev-a/door-1"}, headers=html).status_code == 404
    assert 'href="/admin/calibration"' in client.get("/admin", headers=html).text


def test_a_failed_probe_warns_on_its_canteen_tile(hub: Hub, feed: Feed, client: TestClient) -> None:
    authorize(client, hub, Role.ADMIN)
    feed.reading("fridge-1", 4.0)
    body = {"method": "ice_point", "points": [{"reference": 0.0, "probe": 1.3}]}
    assert client.post(f"{BASE}/checks", json=body).status_code == 201
    tiles = client.get("/canteen", params={"part": "tiles"}, headers={"Accept": "text/html"}).text
    assert 'data-calibration="failed"' in tiles and "探头校准不合格" in tiles


def test_an_overdue_probe_warns_on_its_canteen_tile(hub: Hub, feed: Feed, client: TestClient) -> None:
    authorize(client, hub, Role.ADMIN)
    feed.reading("fridge-1", 4.0)
    body = {"method": "ice_point", "points": [{"reference": 0.0, "probe": 0.1}]}
    assert client.post(f"{BASE}/checks", json=body).status_code == 201
    tiles = client.get("/canteen", params={"part": "tiles"}, headers={"Accept": "text/html"}).text
    assert "data-calibration" not in tiles
    hub.calibration.tick(time.time() + 200 * 86_400)
    tiles = client.get("/canteen", params={"part": "tiles"}, headers={"Accept": "text/html"}).text
    assert 'data-calibration="overdue"' in tiles and "探头校准逾期" in tiles
