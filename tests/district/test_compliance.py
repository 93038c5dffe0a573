"""The weekly district compliance table on a real PostgreSQL, from a real school hub's audit log and alarm records."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from hub.checks.kinds import Answer
from hub.checks.service import AnswerInput
from hub.district.inspectors import add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import ForwardedRecord, RecordKind
from hub.forward.component import DistrictForward
from hub.forward.settings import DistrictLink
from hub.runtime import Hub
from hub.samples.monitor import DishInput
from hub.settings import HubConfig, HubSettings
from tests.clock import Clock, local
from tests.district.helpers import StoreTransport
from tests.hub.checks.test_service import _answers

pytestmark = pytest.mark.postgres

#: 2026-W42 runs from Monday 12 October to Sunday 18 October, Beijing time.
WEEK = "2026-W42"


def alarm(alert_id: int, kind: str, state: str, fired: str, acked: str | None = None,
          resolved: str | None = None) -> ForwardedRecord:
    updated = local(resolved or acked or fired)
    return ForwardedRecord(kind=RecordKind.ALARM, key=f"{alert_id}/{state}/{updated!r}", ts=updated, body={
        "id": alert_id, "kind": kind, "state": state, "severity": "critical", "message": f"{kind} {alert_id}",
        "started_at": local(fired), "updated_at": updated, "fired_at": local(fired),
        "acked_at": local(acked) if acked else None, "resolved_at": local(resolved) if resolved else None})


@pytest.fixture
def district(tmp_path: Path, district_dsn: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = DistrictStore(district_dsn, "setup")
    tokens = {"school-a": store.add_site("school-a", "第一小学"), "school-b": store.add_site("school-b", "=第二中学")}
    tokens["county"] = add_inspector(store, "county", "区教育局食安科", [], all_sites=True)
    tokens["inspector-b"] = add_inspector(store, "inspector-b", "王督学", ["school-b"])

    # School A's week, made by its own hub: a checklist ticked in 30 s that finds two hazards, breakfast
    # sampled with one dish short (and said why), lunch discarded a day early.
    clock = Clock(local("2026-10-12 07:00"))
    hub = Hub(HubSettings(home=tmp_path / "school-a", rules=HubConfig.model_validate({"alarm_delay_s": 0})),
              connect_mqtt=False)
    hub.checks.clock = hub.samples.clock = clock
    hub.samples.watch_since = clock()
    link = DistrictLink(enabled=True, site="school-a", urls=("http://district.invalid",), token=tokens["school-a"])
    forward = DistrictForward(link, tmp_path, transport=StoreTransport(store, "school-a"), logs=hub.state)
    try:
        clock.set("2026-10-12 12:00")
        answers = _answers(hub, "canteen_daily",
                           clean_floor=AnswerInput("clean_floor", Answer.FAIL, note="洗碗间地面积水"),
                           samples_kept=AnswerInput("samples_kept", Answer.FAIL, note="早餐漏留样"),
                           fridges=AnswerInput("fridges", Answer.NA), freezers=AnswerInput("freezers", Answer.NA))
        hub.checks.submit("canteen_daily", answers, clock() - 30, actor="wang")
        clock.set("2026-10-13 07:30")
        breakfast = [DishInput("馒头", 150.0), DishInput("鸡蛋", 90.0, short_reason="只做了一份")]
        hub.samples.log_meal("breakfast", breakfast, placed_by="李师傅", actor="li")
        clock.set("2026-10-13 12:30")
        lunch = hub.samples.log_meal("lunch", [DishInput("番茄炒蛋", 130.0)], placed_by="李师傅", actor="li")
        clock.set("2026-10-14 12:30")
        hub.samples.discard(lunch.record.id or 0, "李师傅", note="冰箱清理", actor="li")
        forward.tick(clock())
        assert forward.outbox.depth() == 0
        # The hub's own alarms went with them: the short dish and the early discard, nobody has acknowledged.
        assert sorted(a.kind.value for a in hub.state.alerts() if a.acked_at is None) == ["sample", "sample"]
    finally:
        forward.close()
        hub.stop()

    store.store("school-a", (
        # Hot fridge on Tuesday: acknowledged in 5 min, back in band after 2 h.
        alarm(101, "temperature", "resolved", "2026-10-13 10:00", "2026-10-13 10:05", "2026-10-13 12:00"),
        # From the week before, resolved Monday 01:00: one hour of this week out of band, not an alarm of it.
        alarm(102, "temperature", "resolved", "2026-10-11 20:00", "2026-10-11 20:30", "2026-10-12 01:00"),
        # A checklist past its deadline, acknowledged after 45 min: not on time.
        alarm(103, "check", "acknowledged", "2026-10-15 10:00", "2026-10-15 10:45"),
        # A repair past its due time that nobody has acknowledged.
        alarm(104, "work_order", "firing", "2026-10-16 09:00"),
        # Next week's: not in this table.
        alarm(105, "temperature", "firing", "2026-10-19 09:00"),
    ))
    while store.apply_alarm_jobs():
        pass
    app = create_district_app(DistrictSettings(dsn=district_dsn, worker="api-test"))
    with TestClient(app) as client:
        yield client, tokens
    store.close()


def get(client: TestClient, path: str, token: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_a_school_s_week_in_one_row(district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    answer = get(client, f"/district/v1/compliance/{WEEK}", tokens["county"])
    assert answer.status_code == 200, answer.text
    a, b = answer.json()
    assert a.pop("last_contact") is not None
    assert a == {
        "site": "school-a", "name": "第一小学", "alarms": 5, "acknowledged_on_time": 1, "never_acknowledged": 3,
        "cold_hours_out_of_band": 3.0, "checks_submitted": 1, "checks_late": 0, "checks_too_fast": 1,
        "checks_overdue": 1, "sample_meals": 2, "sample_dishes_light": 1, "samples_discarded_early": 1,
        "orders_reported": 2, "orders_accepted": 0, "orders_overdue": 1}
    assert b["site"] == "school-b" and b["alarms"] == b["checks_submitted"] == b["sample_meals"] == 0

    # The week before holds the alarm that started then, and nothing of the school's week.
    before = get(client, "/district/v1/compliance/2026-W41", tokens["county"]).json()[0]
    assert before["alarms"] == 1 and before["cold_hours_out_of_band"] == 4.0 and before["checks_submitted"] == 0


def test_the_table_is_the_inspector_s_schools_only_and_a_week_must_exist(
        district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    (only,) = get(client, f"/district/v1/compliance/{WEEK}", tokens["inspector-b"]).json()
    assert only["site"] == "school-b"
    assert get(client, f"/district/v1/compliance/{WEEK}", tokens["school-a"]).status_code == 401
    for week in ("2025-W53", "2026-W54", "26-W01", "2026-W42<b>"):
        refused = get(client, f"/district/v1/compliance/{week}", tokens["county"])
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["path", "week"], week


def test_the_table_as_a_spreadsheet_keeps_a_school_s_name_as_text(
        district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    answer = get(client, f"/district/v1/compliance/{WEEK}.csv", tokens["county"])
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.startswith("\ufeff学校代码,学校,")
    rows = list(csv.reader(io.StringIO(answer.text.removeprefix("\ufeff"))))
    assert len(rows) == 3 and len({len(r) for r in rows}) == 1
    assert rows[1][:4] == ["school-a", "第一小学", rows[1][2], "5"] and rows[1][6] == "3.0"
    assert rows[2][1] == "'=第二中学"  # a name that would be a formula is text


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_the_paper_carries_the_table_and_the_inspector_s_own_signature(
        district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district
    blank = get(client, f"/district/v1/compliance/{WEEK}.pdf", tokens["county"])
    assert blank.status_code == 200 and blank.headers["content-type"] == "application/pdf"
    text = pdf_text(blank.content)
    assert "区县教育局区县每周食品安全汇总" in text and "2026-10-12 至 2026-10-18" in text
    assert "第一小学（school-a）" in text and "=第二中学（school-b）" in text and "督查人（签字）" in text

    signed = client.post(f"/district/v1/compliance/{WEEK}/signoffs", json={"comment": "第一小学工单逾期，请跟进 <b>"},
                         headers={"Authorization": f"Bearer {tokens['county']}"})
    assert signed.status_code == 201, signed.text
    assert signed.json()["inspector"] == "county" and signed.json()["display_name"] == "区教育局食安科"
    text = pdf_text(get(client, f"/district/v1/compliance/{WEEK}.pdf", tokens["county"]).content)
    assert "已签署：区教育局食安科（county）" in text and "请跟进 <b>" in text and "督查人（签字）" not in text
    # Another inspector's paper is their own table: the county's signature is not on it.
    assert "已签署" not in pdf_text(get(client, f"/district/v1/compliance/{WEEK}.pdf", tokens["inspector-b"]).content)


def test_a_signature_is_the_token_s_inspector_once_for_a_finished_week(
        district: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = district

    def sign(week: str, body: dict[str, object], token: str = tokens["inspector-b"]) -> Any:
        return client.post(f"/district/v1/compliance/{week}/signoffs", json=body,
                           headers={"Authorization": f"Bearer {token}"})

    # Nobody signs for someone else: a name in the body is refused, not used.
    impostor = sign(WEEK, {"inspector": "county"})
    assert impostor.status_code == 422 and impostor.json()["detail"][0]["loc"] == ["body", "inspector"]
    hidden = sign(WEEK, {"comment": "已核查\u202e"})
    assert hidden.status_code == 422 and hidden.json()["detail"][0]["loc"] == ["body", "comment"]
    assert sign(WEEK, {"comment": "x" * 501}).status_code == 422
    assert sign(WEEK, {}).status_code == 201
    assert sign(WEEK, {}).status_code == 409
    running = dt.datetime.now(ZoneInfo("Asia/Shanghai")).isocalendar()  # the district's weeks
    this_week = sign(f"{running.year}-W{running.week:02d}", {})
    assert this_week.status_code == 422 and this_week.json()["detail"][0]["loc"] == ["path", "week"]
    assert sign(WEEK, {}, token=tokens["school-a"]).status_code == 401
