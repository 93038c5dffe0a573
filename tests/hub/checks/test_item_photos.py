"""Photos on checklist items: taken in the page before the checklist is sent, kept with it once, refused
when missing where the item asks for one, and carried to the work order a failed item opens."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.browser.test_handling import PNG
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY

STORE_ROOM = {"name": "库房检查", "cadence": "daily", "due_by": "23:00", "days": "every", "place": "食品库房",
              "items": [{"key": "shelves", "text": "货架离地离墙 10 cm 以上", "photo": True},
                        {"key": "expiry", "text": "无过期原料"}]}


@pytest.fixture
def photo_hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub(templates={"store_room": STORE_ROOM})


@pytest.fixture
def client(photo_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(photo_hub.settings, hub=photo_hub), base_url="http://hub.test") as test_client:
        yield test_client


def _upload(client: TestClient, headers: dict[str, str], data: bytes = PNG) -> str:
    sent = client.post("/api/checks/photos", headers=headers, files={"photo": ("shelf.png", data, "image/png")})
    assert sent.status_code == 201, sent.text
    name: str = sent.json()["name"]
    return name


def test_a_photo_item_needs_its_photo_which_is_kept_with_the_checklist_and_its_work_order(
        photo_hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 10:00")
    cook, headers = bearer(photo_hub, Role.CANTEEN_STAFF)
    _, other = bearer(photo_hub, Role.CANTEEN_STAFF)
    body = {"opened_at": clock() - 600, "request_id": "phone-photo-1",
            "answers": [{"item": "shelves", "answer": "fail", "note": "米袋直接放地上"},
                        {"item": "expiry", "answer": "ok"}]}
    missing = client.post("/api/checks/store_room", headers=headers, json=body)
    assert missing.status_code == 422 and missing.json()["detail"]["field"] == "answers.0.shelves"

    not_an_image = client.post("/api/checks/photos", headers=headers,
                               files={"photo": ("x.png", b"<script>alert(1)</script>", "image/png")})
    assert not_an_image.status_code == 422
    name = _upload(client, headers)
    theirs = _upload(client, other, PNG + b"other")
    body["answers"][0]["photos"] = [theirs]  # type: ignore[index]
    assert client.post("/api/checks/store_room", headers=headers, json=body).json()["detail"]["field"] == \
        "answers.0.photos"
    body["answers"][0]["photos"] = ["0" * 64 + ".jpg"]  # type: ignore[index]
    assert client.post("/api/checks/store_room", headers=headers, json=body).status_code == 422

    body["answers"][0]["photos"] = [name, name]  # type: ignore[index]
    done = client.post("/api/checks/store_room", headers=headers, json=body)
    assert done.status_code == 201, done.text
    run = done.json()
    shelves = run["answers"][0]
    assert shelves["photos"] == [name] and run["submitted_by"] == cook.username
    shown = client.get(f"/api/checks/runs/{run['id']}/photos/{name}", headers=headers)
    assert shown.status_code == 200 and shown.content == PNG
    assert shown.headers["x-content-type-options"] == "nosniff"

    order = client.get(f"/api/workorders/{shelves['order_id']}", headers=headers).json()
    assert order["photos"] == [f"/api/workorders/{order['id']}/photos/{name}"]

    again = client.post("/api/checks/store_room", headers=headers, json=body)  # the phone retries
    assert again.status_code == 201 and again.json()["created"] is False and again.json()["id"] == run["id"]
    assert client.get(f"/api/checks/runs/{run['id']}/photos/{'1' * 64}.png", headers=headers).status_code == 404


def test_the_checklist_form_asks_for_a_photo_taken_on_the_spot(photo_hub: Hub, client: TestClient,
                                                               clock: Clock) -> None:
    clock.set(f"{MONDAY} 10:00")
    _, headers = bearer(photo_hub, Role.CANTEEN_STAFF)
    page = client.get("/checks", headers=headers).text
    shelves = page[page.index('data-item="shelves"'):page.index('data-item="expiry"')]
    assert 'capture="environment"' in shelves and "required" in shelves and "须现场拍摄" in shelves


def test_a_list_gets_a_small_jpeg_of_a_photo_made_once_and_the_photo_itself_when_none_can_be_made(
        photo_hub: Hub, client: TestClient) -> None:
    big = io.BytesIO()
    Image.new("RGB", (1600, 1200), (200, 30, 30)).save(big, "PNG")
    _, headers = bearer(photo_hub, Role.CANTEEN_STAFF)
    order = client.post("/api/workorders", headers=headers, json={"title": "冷库门封条破损"}).json()
    sent = client.post(f"/api/workorders/{order['id']}/photos", headers=headers,
                       files={"photo": ("seal.png", big.getvalue(), "image/png")})
    assert sent.status_code == 201, sent.text
    url = sent.json()["url"]
    thumb = client.get(f"{url}?thumb=1", headers=headers)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert max(small.size) == 192
    assert client.get(f"{url}?thumb=1", headers=headers).content == thumb.content  # made once, kept
    assert client.get(url, headers=headers).content == big.getvalue()  # the photo itself, unchanged
    assert 'thumb=1' in client.get("/checks", headers=headers).text

    # A file that sniffs as PNG but Pillow cannot read: the list shows the file itself.
    broken = client.post(f"/api/workorders/{order['id']}/photos", headers=headers,
                         files={"photo": ("x.png", PNG[:40] + b"\x00" * 64, "image/png")})
    assert broken.status_code == 201
    fallback = client.get(f"{broken.json()['url']}?thumb=1", headers=headers)
    assert fallback.status_code == 200 and fallback.headers["content-type"] == "image/png"
