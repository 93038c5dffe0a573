"""The reports API per role: who may read, who may sign, and bad parameters named."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.hub.auth_helpers import authorize
from tests.hub.report.conftest import FRIDGE, WEEK, Dataset, local


@pytest.fixture
def client(fresh_hub: tuple[Hub, Dataset]) -> Iterator[TestClient]:
    hub, _data = fresh_hub
    hub.reports.clock = lambda: local("2026-11-24 09:00")  # the service's clock seam: the week is over
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def test_safety_officer_reads_and_signs(client: TestClient, fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    officer = authorize(client, hub, Role.SAFETY_OFFICER)
    body = client.get("/api/reports/weekly", params={"week": WEEK}).json()
    assert body["label"] == WEEK and {u["key"] for u in body["cold_units"]} >= {FRIDGE}
    pdf = client.get("/api/reports/weekly.pdf", params={"week": WEEK})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    signed = client.post("/api/reports/signoffs", json={"period": WEEK, "comment": "同意"})
    assert signed.status_code == 201, signed.text
    assert signed.json()["signed_by"] == officer.username
    assert signed.json()["signer_name"] == officer.display_name
    again = client.post("/api/reports/signoffs", json={"period": WEEK})
    assert again.status_code == 409 and again.json()["detail"]["field"] == "period"
    listed = client.get("/api/reports/signoffs", params={"kind": "weekly"}).json()
    assert [(s["kind"], s["label"]) for s in listed] == [("weekly", WEEK)]
    entry = hub.state.audit_entries()[-1]
    assert (entry.actor, entry.action) == (officer.username, "report.signed")
    assert client.get("/api/reports/weekly", params={"week": WEEK}).json()["signatures"][0]["comment"] == "同意"


def test_canteen_staff_cannot_sign_and_gatekeeper_cannot_read(client: TestClient,
                                                             fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    authorize(client, hub, Role.CANTEEN_STAFF)
    assert client.post("/api/reports/signoffs", json={"period": WEEK}).status_code == 403
    assert client.get("/api/reports/weekly", params={"week": WEEK}).status_code == 403
    authorize(client, hub, Role.CANTEEN_MANAGER)
    assert client.get("/api/reports/weekly", params={"week": WEEK}).status_code == 200
    assert client.post("/api/reports/signoffs", json={"period": WEEK}).status_code == 403
    authorize(client, hub, Role.GATEKEEPER)
    assert client.get("/api/reports/daily", params={"date": "2026-11-17"}).status_code == 403
    client.headers.pop("Authorization")
    assert client.get("/api/reports/weekly", params={"week": WEEK}).status_code == 401


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/reports/weekly", {"week": "2026-47"}, "week"),
    ("/api/reports/weekly.pdf", {"week": "W47"}, "week"),
    ("/api/reports/daily", {"date": "2026-11-31"}, "date"),
    ("/api/reports/monthly", {"month": "2026-00"}, "month"),
    ("/api/reports/range", {"start": "2026-11-20", "end": "2026-11-01"}, "end"),
    ("/api/reports/readings.csv", {"start": "x", "end": "2026-11-01"}, "start"),
    ("/api/reports/readings.csv", {"start": "2026-11-16", "end": "2026-11-16", "sensor": "no/such"}, "sensor"),
    ("/api/reports/signoffs", {"kind": "yearly"}, "kind"),
])
def test_bad_parameters_name_the_field(client: TestClient, fresh_hub: tuple[Hub, Dataset], path: str,
                                       params: dict[str, str], field: str) -> None:
    authorize(client, fresh_hub[0], Role.SAFETY_OFFICER)
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"]["field"] == field


def test_bad_signoff_period_and_unfinished_week(client: TestClient, fresh_hub: tuple[Hub, Dataset]) -> None:
    authorize(client, fresh_hub[0], Role.SAFETY_OFFICER)
    bad = client.post("/api/reports/signoffs", json={"period": "2026-W99"})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "period"
    future = client.post("/api/reports/signoffs", json={"period": "2099-W01"})
    assert future.status_code == 422 and "not over" in future.json()["detail"]["message"]


def test_monthly_range_and_csv(client: TestClient, fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    authorize(client, hub, Role.CANTEEN_MANAGER)
    assert client.get("/api/reports/monthly", params={"month": "2026-11"}).json()["kind"] == "monthly"
    ranged = client.get("/api/reports/range", params={"start": "2026-11-16", "end": "2026-11-18"}).json()
    assert ranged["label"] == "2026-11-16..2026-11-18"
    assert client.get("/api/reports/monthly.pdf", params={"month": "2026-11"}).content.startswith(b"%PDF")
    csv = client.get("/api/reports/readings.csv", params={"start": "2026-11-17", "end": "2026-11-17",
                                                          "sensor": FRIDGE})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) == 1 + 1440
