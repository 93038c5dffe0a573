"""The daily sample record as CSV: what staff typed is shown as text, never evaluated as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.runtime import Hub
from hub.samples.daily import COLUMNS, to_csv
from tests.clock import Clock, local
from tests.hub.auth_helpers import authorize

#: Cells a spreadsheet would run (OWASP's examples), as staff or a sample station could type them.
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点此\")", "+1+1", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)",
            "\t=1+1", "\r=1+1"]


@pytest.fixture
def client(make_sample_hub: Callable[..., Hub], clock: Clock) -> Iterator[TestClient]:
    clock.set("2026-10-12 11:50")
    hub = make_sample_hub()
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def _rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_dish_names_and_notes_typed_as_formulas_come_out_as_text(client: TestClient, clock: Clock) -> None:
    record = client.post("/api/samples", json={
        "meal": "lunch", "placed_at": local("2026-10-12 11:40"),
        "dishes": [{"name": name, "weight_g": 150} for name in FORMULAS[:4]]}).json()
    clock.set("2026-10-12 13:00")
    discarded = client.post(f"/api/samples/{record['id']}/discard", json={"note": "=1+1 倒掉"})
    assert discarded.status_code == 200

    response = client.get("/api/samples/daily.csv", params={"date": "2026-10-12"})
    rows = _rows(response.content.decode("utf-8"))
    assert [r["菜品名称"] for r in rows] == ["'" + name for name in FORMULAS[:4]]
    assert all(r["备注"].startswith("提前弃样：=1+1") for r in rows)  # inside the text: not at the start
    assert [r["留样量(g)"] for r in rows] == ["150"] * 4


@pytest.mark.parametrize("typed", FORMULAS)
def test_every_column_is_neutralised(typed: str) -> None:
    row = dict.fromkeys(COLUMNS, typed)
    (parsed,) = _rows(to_csv([row]))
    assert set(parsed.values()) == {"'" + typed}


def test_plain_text_and_numbers_are_left_alone() -> None:
    row = dict.fromkeys(COLUMNS, "红烧肉 150")
    row["留样量(g)"] = "150"
    (parsed,) = _rows(to_csv([row]))
    assert parsed["菜品名称"] == "红烧肉 150" and parsed["留样量(g)"] == "150"
