"""The samples API and pages through FastAPI: logging, listing, discarding, labels, the daily record."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from hub.samples.daily import COLUMNS
from tests.clock import Clock, local
from tests.hub.auth_helpers import authorize, bearer, make_user
from tests.hub.samples.conftest import announce_cabinet, feed


@pytest.fixture
def hub(make_sample_hub: Callable[..., Hub], clock: Clock) -> Hub:
    clock.set("2026-10-12 11:50")
    return make_sample_hub()


#: The people the records name: real accounts (a record may name only an enabled account).
PEOPLE = {"王师傅": Role.CANTEEN_STAFF, "李主任": Role.CANTEEN_MANAGER, "张师傅": Role.CANTEEN_STAFF}


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    for username, role in PEOPLE.items():
        make_user(hub, role, username)
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub)
        yield test_client


def token_of(hub: Hub, username: str) -> dict[str, str]:
    """Headers acting as the existing account ``username``."""
    user = hub.accounts.user_by_name(username)
    assert user is not None
    token, _ = hub.accounts.create_token(user.id, "tests")
    return {"Authorization": f"Bearer {token}"}


LUNCH = {"meal": "lunch", "placed_by": "王师傅", "reviewer": "李主任", "placed_at": local("2026-10-12 11:40"),
         "dishes": [{"name": "红烧肉", "weight_g": 150}, {"name": "清炒时蔬", "weight_g": 98,
                                                                     "short_reason": "菜已打完"}]}


def test_log_list_and_discard(client: TestClient, hub: Hub, clock: Clock) -> None:
    created = client.post("/api/samples", json=LUNCH)
    assert created.status_code == 201
    body = created.json()
    assert body["created"] and body["state"] == "held" and body["day"] == "2026-10-12"
    assert body["held_until"] == local("2026-10-14 11:40")
    assert body["underweight"] == [{"name": "清炒时蔬", "weight_g": 98}]
    assert [d["underweight"] for d in body["dishes"]] == [False, True]
    assert [d["code"] for d in body["dishes"]] == ["lunch-20261012-01", "lunch-20261012-02"]

    (held,) = client.get("/api/samples", params={"state": "held"}).json()
    assert held["id"] == body["id"] and held["remaining_s"] == local("2026-10-14 11:40") - clock.now
    assert client.get("/api/samples", params={"state": "due"}).json() == []

    _, zhao = bearer(hub, Role.CANTEEN_STAFF, "赵阿姨")
    early = client.post(f"/api/samples/{body['id']}/discard", json={"by": "someone else"}, headers=zhao)
    assert early.status_code == 200 and early.json()["discarded_early"] is True
    assert early.json()["discarded_by"] == "赵阿姨"  # the signed-in user, not a name in the body
    again = client.post(f"/api/samples/{body['id']}/discard", json={}, headers=zhao)
    assert again.status_code == 409
    rules = {a["rule"] for a in client.get("/api/alerts").json()}
    assert {"sample_discarded_early", "sample_underweight"} <= rules


@pytest.mark.parametrize(("payload", "field"), [
    ({**LUNCH, "meal": "luch"}, "meal"),
    ({**LUNCH, "placed_by": "张" * 65}, "placed_by"),
    ({**LUNCH, "dishes": [{"name": "汤", "weight_g": -3}]}, "weight_g"),
    ({**LUNCH, "placed_at": local("2026-10-13 11:40")}, "placed_at"),
    ({**LUNCH, "occasion": "运动会"}, "occasion"),
])
def test_bad_input_is_refused_naming_the_field(client: TestClient, payload: dict[str, object], field: str) -> None:
    response = client.post("/api/samples", json=payload)
    assert response.status_code == 422
    assert field in response.text


def test_bad_query_and_unknown_record(client: TestClient) -> None:
    assert "date" in client.get("/api/samples/daily.csv", params={"date": "2026-13-01"}).text
    assert client.get("/api/samples", params={"state": "kept"}).status_code == 422
    missing = client.post("/api/samples/999/discard", json={})
    assert missing.status_code == 404 and missing.json()["detail"]["field"] == "id"
    assert client.post("/api/samples/999/discard", json={"note": "x" * 201}).status_code == 422


def test_label_pdf_has_the_dish_and_discard_time(client: TestClient) -> None:
    record = client.post("/api/samples", json=LUNCH).json()
    response = client.get(f"/api/samples/{record['id']}/labels.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(response.content)).pages
    assert len(pages) == 2  # one label per dish
    text = pages[0].extract_text()
    for expected in ("红烧肉", "午餐", "150 g", "留样 10-12 11:40", "可弃 10-14 11:40", "王师傅",
                     "LY-lunch-20261012-01"):
        assert expected in text, (expected, text)
    one = client.get(f"/api/samples/{record['id']}/labels.pdf", params={"dish": record["dishes"][1]["id"]})
    assert "清炒时蔬" in PdfReader(io.BytesIO(one.content)).pages[0].extract_text()


def test_daily_csv_and_page(client: TestClient, hub: Hub, clock: Clock) -> None:
    record = client.post("/api/samples", json=LUNCH).json()
    client.post("/api/samples", json={"meal": "event", "occasion": "运动会", "placed_by": "张师傅", "dishes": [
        {"name": "面包", "weight_g": 125}]})
    announce_cabinet(hub)
    feed(hub, [(local("2026-10-12 11:45"), 9.0), (local("2026-10-12 11:48"), 5.0)], seq=1)
    hub.samples.check_cabinets(clock.now)
    clock.set("2026-10-14 12:00")
    client.post(f"/api/samples/{record['id']}/discard", json={}, headers=bearer(hub, Role.CANTEEN_STAFF, "赵阿姨")[1])

    response = client.get("/api/samples/daily.csv", params={"date": "2026-10-12"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == COLUMNS
    pork = next(r for r in rows if r["菜品名称"] == "红烧肉")
    assert pork["餐次"] == "午餐" and pork["留样量(g)"] == "150" and pork["留样时间"] == "2026-10-12 11:40"
    assert pork["留样人"] == "王师傅" and pork["审核人"] == "李主任" and pork["弃样人"] == "赵阿姨"
    assert pork["最早可弃时间"] == "2026-10-14 11:40" and pork["弃样时间"] == "2026-10-14 12:00"
    assert "柜温超出" in pork["备注"]
    greens = next(r for r in rows if r["菜品名称"] == "清炒时蔬")
    assert "不足 125 g" in greens["备注"]
    assert next(r for r in rows if r["菜品名称"] == "面包")["餐次"] == "活动餐（运动会）"

    page = client.get("/samples/daily", params={"date": "2026-10-12"})
    assert page.status_code == 200 and "食品留样记录" in page.text and "红烧肉" in page.text
    assert "审核人" in page.text

    trace = client.get(f"/api/samples/{record['id']}/trace").json()
    assert trace["compromised"] and [r["value"] for r in trace["excursions"][0]["readings"]] == [9.0, 5.0]


def test_reviewer_can_sign_later(client: TestClient) -> None:
    record = client.post("/api/samples", json={**LUNCH, "reviewer": ""}).json()
    assert record["reviewer"] == ""
    signed = client.post(f"/api/samples/{record['id']}/people", json={"reviewer": "李主任"}).json()
    assert signed["reviewer"] == "李主任" and signed["placed_by"] == "王师傅"


def test_sampler_defaults_to_the_signed_in_user(client: TestClient, hub: Hub) -> None:
    cook = token_of(hub, "王师傅")
    record = client.post("/api/samples", json={**LUNCH, "placed_by": ""}, headers=cook).json()
    assert record["placed_by"] == "王师傅"
    _, officer = bearer(hub, Role.SAFETY_OFFICER)
    assert client.post("/api/samples", json=LUNCH, headers=officer).status_code == 403  # does not log samples
    people = f"/api/samples/{record['id']}/people"
    assert client.post(people, json={"placed_by": "张师傅"}, headers=officer).status_code == 403
    assert client.post(people, json={"reviewer": "李主任"}, headers=officer).json()["reviewer"] == "李主任"
