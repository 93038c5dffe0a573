"""Choice, photo and signature lines: saved in a template revision, refused naming the field when not answered as
they ask, and printed in the daily record (a signature as 已签名 with who and when)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from tests.browser.test_handling import PNG
from tests.clock import Clock
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64

DAILY = {"name": "每日食品安全检查记录", "cadence": "daily", "due_by": "23:00", "days": "every", "place": "食堂",
         "items": [{"key": "oil", "text": "食用油外观", "section": "原料", "kind": "choice",
                    "options": ["正常", "浑浊", "有异味"], "fail_options": ["浑浊", "有异味"]},
                   {"key": "sample_photo", "text": "留样柜内照片", "section": "留样", "kind": "photo"},
                   {"key": "manager_sign", "text": "食堂负责人签字", "section": "签字", "kind": "signature"}]}


@pytest.fixture
def kinds_hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub()


@pytest.fixture
def client(kinds_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(kinds_hub.settings, hub=kinds_hub), base_url="http://hub.test") as test_client:
        yield test_client


def _upload(client: TestClient, headers: dict[str, str], data: bytes, name: str) -> str:
    sent = client.post("/api/checks/photos", headers=headers, files={"photo": (name, data, "image/png")})
    assert sent.status_code == 201, sent.text
    found: str = sent.json()["name"]
    return found


def test_choice_photo_and_signature_lines_from_the_template_to_the_record(
        kinds_hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 11:00")
    officer, as_officer = bearer(kinds_hub, Role.SAFETY_OFFICER)
    manager, headers = bearer(kinds_hub, Role.CANTEEN_MANAGER)
    bad = {**DAILY, "items": [{**DAILY["items"][0], "fail_options": ["发霉"]}]}  # type: ignore[dict-item]
    refused = client.put("/api/checks/templates/canteen_daily", headers=as_officer, json=bad)
    assert refused.status_code == 422 and "items" in str(refused.json()["detail"][0]["loc"])
    saved = client.put("/api/checks/templates/canteen_daily", headers=as_officer, json=DAILY)
    assert saved.status_code == 200, saved.text
    assert [i["kind"] for i in saved.json()["template"]["items"]] == ["choice", "photo", "signature"]
    listed = {i["key"]: i for c in client.get("/api/checks", headers=headers).json() for i in c["items"]}
    assert listed["oil"]["options"] == ["正常", "浑浊", "有异味"]

    photo = _upload(client, headers, PNG, "sample.png")
    signature = _upload(client, headers, PNG + b"signed", "signature.png")
    jpeg = _upload(client, headers, JPEG, "sign.jpg")

    def body(oil: str, photos: list[str], signs: list[str], note: str = "") -> dict[str, object]:
        return {"opened_at": clock() - 600, "answers": [
            {"item": "oil", "text": oil, "note": note}, {"item": "sample_photo", "photos": photos},
            {"item": "manager_sign", "photos": signs}]}

    def field(response: object) -> str:
        found: str = response.json()["detail"]["field"]  # type: ignore[attr-defined]
        return found

    not_an_option = client.post("/api/checks/canteen_daily", headers=headers, json=body("还行", [photo], [signature]))
    assert not_an_option.status_code == 422 and field(not_an_option) == "answers.0.oil"
    assert "正常 / 浑浊 / 有异味" in not_an_option.json()["detail"]["message"]
    failed_no_note = client.post("/api/checks/canteen_daily", headers=headers, json=body("浑浊", [photo], [signature]))
    assert failed_no_note.status_code == 422 and field(failed_no_note) == "answers.0.oil"
    no_photo = client.post("/api/checks/canteen_daily", headers=headers, json=body("正常", [], [signature]))
    assert no_photo.status_code == 422 and field(no_photo) == "answers.1.sample_photo"
    unsigned = client.post("/api/checks/canteen_daily", headers=headers, json=body("正常", [photo], []))
    assert unsigned.status_code == 422 and field(unsigned) == "answers.2.manager_sign"
    not_drawn = client.post("/api/checks/canteen_daily", headers=headers, json=body("正常", [photo], [jpeg]))
    assert not_drawn.status_code == 422 and field(not_drawn) == "answers.2.manager_sign"

    done = client.post("/api/checks/canteen_daily", headers=headers,
                       json=body("浑浊", [photo], [signature], note="新开的一桶油浑浊，已封存"))
    assert done.status_code == 201, done.text
    answers = {a["item"]: a for a in done.json()["answers"]}
    assert answers["oil"]["answer"] == "fail" and answers["oil"]["order_id"] is not None
    assert answers["sample_photo"]["answer"] == "ok" and answers["manager_sign"]["answer"] == "ok"

    pdf = client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=as_officer)
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert f"已签名（{manager.username}，{MONDAY}11:00）" in text
    assert "不合格，浑浊" in text and "照片1张" in text
    sheet = client.get(f"/api/checks/records/daily/{MONDAY}.xlsx", headers=as_officer)
    rows = [list(r) for r in load_workbook(io.BytesIO(sheet.content), read_only=True).worksheets[0]
            .iter_rows(values_only=True)]
    assert ["签字", "食堂负责人签字", f"已签名（{manager.username}，{MONDAY} 11:00）", None] in rows
    assert ["原料", "食用油外观", "不合格，浑浊", next(r[3] for r in rows if r[1] == "食用油外观")] in rows
    assert officer.username != manager.username


def test_a_signature_can_be_typed_by_someone_who_cannot_draw_one(
        kinds_hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 11:00")
    _, as_officer = bearer(kinds_hub, Role.SAFETY_OFFICER)
    manager, headers = bearer(kinds_hub, Role.CANTEEN_MANAGER)
    assert client.put("/api/checks/templates/canteen_daily", headers=as_officer, json=DAILY).status_code == 200
    page = client.get("/checks", headers=headers).text
    assert '<input name="text" maxlength="100" autocomplete="name">' in page  # beside the canvas, reached by Tab
    photo = _upload(client, headers, PNG, "sample.png")
    drawn = _upload(client, headers, PNG + b"signed", "signature.png")

    def body(sign: dict[str, object]) -> dict[str, object]:
        return {"opened_at": clock() - 600, "answers": [
            {"item": "oil", "text": "正常"}, {"item": "sample_photo", "photos": [photo]},
            {"item": "manager_sign", **sign}]}

    unsigned_answers: list[dict[str, object]] = [{"text": "   "}, {"photos": [drawn, photo]},
                                                 {"answer": "na", "text": "王芳"}]
    for unsigned in unsigned_answers:
        refused = client.post("/api/checks/canteen_daily", headers=headers, json=body(unsigned))
        assert refused.status_code == 422, unsigned
        assert refused.json()["detail"]["field"] == "answers.2.manager_sign" and "键入姓名" in refused.text

    done = client.post("/api/checks/canteen_daily", headers=headers, json=body({"text": "王芳"}))
    assert done.status_code == 201, done.text
    assert {a["item"]: a["answer"] for a in done.json()["answers"]}["manager_sign"] == "ok"
    pdf = client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=as_officer)
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert f"已签名（{manager.username}，{MONDAY}11:00），键入姓名：王芳" in text
