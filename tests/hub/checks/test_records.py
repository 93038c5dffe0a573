"""The daily record and the monthly minutes as PDF and xlsx, read back with pypdf and openpyxl: every item of the
template, the automatic answers with their evidence, the failures with their work orders, the month's figures."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader

from hub.app import create_app
from hub.auth.roles import Role
from hub.checks.kinds import Answer, Category, Urgency
from hub.checks.service import AnswerInput
from hub.runtime import Hub
from tests.clock import Clock, local
from tests.hub.auth_helpers import bearer
from tests.hub.checks.conftest import MONDAY, announce, feed
from tests.hub.checks.test_service import _answers


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def _text(pdf: bytes) -> str:
    """The PDF's text with the line breaks a table cell wraps at taken out."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))


def _sheets(xlsx: bytes) -> dict[str, list[list[object]]]:
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def test_the_daily_record_carries_every_item_the_automatic_evidence_and_the_failures(
        hub: Hub, client: TestClient, clock: Clock) -> None:
    announce(hub)
    feed(hub, "fridge-1", [(local(f"{MONDAY} 01:00"), 3.0), (local(f"{MONDAY} 02:00"), 4.5)], seq=2)
    feed(hub, "freezer-1", [(local(f"{MONDAY} 01:00"), -18.0)], seq=3)
    clock.set(f"{MONDAY} 12:00")
    answers = _answers(hub, "canteen_daily",
                       clean_floor=AnswerInput("clean_floor", Answer.FAIL, note="洗碗间地面积水"),
                       samples_kept=AnswerInput("samples_kept", Answer.OK, note="早餐已补录留样"),
                       core_temp=AnswerInput("core_temp", value=76.5))
    done = hub.checks.submit("canteen_daily", answers, clock() - 900, actor="wang")
    _, reader = bearer(hub, Role.SAFETY_OFFICER)
    _, staff = bearer(hub, Role.CANTEEN_STAFF)
    assert client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=staff).status_code == 403

    response = client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=reader)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _text(response.content)
    assert "每日食品安全检查记录" in text and MONDAY in text and "检查人：wang" in text
    for item in hub.checks.template("canteen_daily").items:
        assert re.sub(r"\s+", "", item.text) in text, item.text
    assert "系统：1号冷藏柜：3.0–4.5°C，未超限" in text
    assert "系统自动判断，已人工修改" in text and "早餐已补录留样" in text  # the samples' answer was overridden
    assert "76.5°C" in text
    (order,) = done.orders
    assert "洗碗间地面积水" in text and f"工单#{order.id}（已上报）" in text
    assert "食品安全员（签字）" in text

    # The same record as a spreadsheet: a row per item, the answers and their evidence in cells of their own.
    sheet = client.get(f"/api/checks/records/daily/{MONDAY}.xlsx", headers=reader)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    (rows,) = _sheets(sheet.content).values()
    assert "每日食品安全检查记录" in str(rows[0][0]) and MONDAY in str(rows[1][0]) and "检查人：wang" in str(rows[2][0])
    assert rows[3] == ["类别", "检查项", "结果", "说明 / 依据"]
    by_item = {str(row[1]).removeprefix("★ "): row for row in rows[4:]}
    assert set(by_item) == {item.text for item in hub.checks.template("canteen_daily").items}
    floor = next(row for row in rows[4:] if "洗碗间地面积水" in str(row[3]))
    assert floor[2] == "不合格" and f"工单 #{order.id}（已上报）" in str(floor[3])
    assert ["冷藏冷冻", "★ 冷藏设备温度 0–8 °C", "合格", "系统：1号冷藏柜：3.0–4.5 °C，未超限"] in rows
    assert ["加工", "★ 熟食中心温度", "合格，76.5 °C", None] in rows  # an empty cell reads back as None
    assert client.get(f"/api/checks/records/daily/{MONDAY}.xlsx", headers=staff).status_code == 403

    blank = _text(client.get("/api/checks/records/daily/2026-10-13.pdf", headers=reader).content)
    assert "空白记录表" in blank and "熟食中心温度" in blank
    assert client.get("/api/checks/records/daily/2026-13-40.pdf", headers=reader).status_code == 422


def test_the_monthly_minutes_carry_the_month_s_figures(hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 08:00")
    lock = hub.checks.report("宿舍楼门锁坏", "宿舍楼", "", Urgency.NORMAL, actor="li", category=Category.DOOR_LOCK)
    leak = hub.checks.report("水房漏水", "宿舍楼", "", Urgency.HIGH, actor="li", category=Category.WATER)
    hub.checks.assign(lock.id, "zhang", actor="officer")
    clock.set(f"{MONDAY} 14:00")
    hub.checks.fix(lock.id, "换锁芯", actor="zhang")
    hub.checks.accept(lock.id, "", actor="officer")
    clock.set("2026-10-20 09:00")
    _, reader = bearer(hub, Role.SAFETY_OFFICER)
    text = _text(client.get("/api/checks/records/monthly/2026-10.pdf", headers=reader).content)
    assert "每月食品安全调度会议纪要" in text and "2026-10" in text
    assert "本月新报隐患2件，验收关闭1件，逾期未整改1件。" in text
    assert "门锁116.0小时" in text  # one reported, one accepted, fixed in six hours
    assert f"#{leak.id}水房漏水" in text and "主持人" in text
    assert "门卫夜间巡查" in text and "月度安全总查（食品安全调度）" in text
    assert client.get("/api/checks/records/monthly/2026-13.pdf", headers=reader).status_code == 422
    assert client.get("/api/checks/records/monthly/0000-01.pdf", headers=reader).status_code == 422  # was a 500
    sheets = _sheets(client.get("/api/checks/records/monthly/2026-10.xlsx", headers=reader).content)
    assert list(sheets) == ["检查完成情况", "隐患分类", "未关闭工单", "月度总查"]
    assert "本月新报隐患 2 件，验收关闭 1 件，逾期未整改 1 件。" in str(sheets["检查完成情况"][2][0])
    assert ["门锁", "1", "1", "6.0 小时"] in sheets["隐患分类"]
    assert any(row[0] == f"#{leak.id} 水房漏水" for row in sheets["未关闭工单"])


def test_the_weekly_report_carries_the_week_s_checks_hazards_and_sensors(
        hub: Hub, client: TestClient, clock: Clock) -> None:
    announce(hub)
    feed(hub, "fridge-1", [(local(f"{MONDAY} 01:00"), 3.0), (local("2026-10-14 03:00"), 11.5),
                           (local("2026-10-14 03:10"), 4.0)], seq=2)
    feed(hub, "freezer-1", [(local(f"{MONDAY} 01:00"), -18.0)], seq=3)
    clock.set("2026-10-09 08:00")  # the Friday before: last week's hazard, not this week's
    earlier = hub.checks.report("操作间插座松动", "食堂", "", Urgency.NORMAL, actor="li",
                                category=Category.ELECTRICAL)
    clock.set("2026-10-13 09:00")
    hood = hub.checks.report("排烟罩油污", "食堂", "=HYPERLINK(\"x\")", Urgency.NORMAL, actor="li",
                             category=Category.CANTEEN)
    drain = hub.checks.report("下水道堵塞", "洗碗间", "", Urgency.HIGH, actor="li", category=Category.WATER)
    hub.checks.assign(hood.id, "zhang", actor="officer")
    clock.set("2026-10-13 15:00")
    hub.checks.fix(hood.id, "清洗排烟罩", actor="zhang")
    hub.checks.accept(hood.id, "", actor="officer")
    clock.set("2026-10-16 10:00")
    answers = _answers(hub, "canteen_weekly", summary=AnswerInput("summary", text="排烟罩已清洗，下水道待疏通"))
    hub.checks.submit("canteen_weekly", answers, clock() - 900, actor="officer")
    clock.set("2026-10-19 08:00")
    officer, reader = bearer(hub, Role.SAFETY_OFFICER)
    _, staff = bearer(hub, Role.CANTEEN_STAFF)
    assert client.get("/api/checks/records/weekly/2026-W42.pdf", headers=staff).status_code == 403

    response = client.get("/api/checks/records/weekly/2026-W42.pdf", headers=reader)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    text = _text(response.content)
    assert "每周食品安全排查治理报告" in text and "2026-W42" in text
    assert "本周新报隐患2件，验收关闭1件，逾期未整改1件。" in text
    assert f"#{hood.id}排烟罩油污" in text and "zhang10-1315:00整改：清洗排烟罩；officer验收" in text
    assert f"#{drain.id}下水道堵塞" in text and f"#{earlier.id}" not in text
    assert "食堂116.0小时" in text  # one reported, one accepted: reported at 09:00, fixed at 15:00
    assert "冷藏设备不合格1号冷藏柜：3.0–11.5°C，超限1次" in text  # the week's excursion, not only today's
    assert "冷冻设备合格1号冷冻柜：-18.0–-18.0°C，未超限" in text
    assert "本周尚无关门检查" in text
    assert "每周食品安全排查治理报告1100" in text  # the weekly checklist: due once, on time
    for item in hub.checks.template("canteen_weekly").items:
        assert re.sub(r"\s+", "", item.text) in text, item.text
    assert "排烟罩已清洗，下水道待疏通" in text and "食品安全总监（签字）" in text and "已签署" not in text

    signed = client.post("/api/reports/signoffs", headers=reader,
                         json={"kind": "weekly", "period": "2026-W42", "comment": "同意"})
    assert signed.status_code == 201, signed.text
    text = _text(client.get("/api/checks/records/weekly/2026-W42.pdf", headers=reader).content)
    assert "已签署：" in text and f"（{officer.username}）" in text and "审核意见：同意" in text

    sheets = _sheets(client.get("/api/checks/records/weekly/2026-W42.xlsx", headers=reader).content)
    assert list(sheets) == ["检查完成情况", "本周隐患", "隐患分类", "设备监测", "本周排查"]
    heading = sheets["检查完成情况"]
    assert "每周食品安全排查治理报告" in str(heading[0][0]) and "2026-W42" in str(heading[1][0])
    assert "本周新报隐患 2 件" in str(heading[2][0]) and f"（{officer.username}）" in str(heading[2][0])
    hazards = {str(row[0]): row for row in sheets["本周隐患"][4:]}
    assert hazards[f"#{hood.id} 排烟罩油污"][2:5] == ["食堂", "10-13 09:00", "已验收"]
    assert hazards[f"#{drain.id} 下水道堵塞"][4] == "已上报"
    assert ["食堂", "1", "1", "6.0 小时"] in sheets["隐患分类"]
    sensors = {str(row[0]): row for row in sheets["设备监测"][4:]}
    assert sensors["冷藏设备"][1] == "不合格" and "超限 1 次" in str(sensors["冷藏设备"][2])
    assert sensors["冷冻设备"][1] == "合格" and sensors["校门关闭"][1] == "无法判断"
    assert ["小结", "本周排查发现的问题与措施", "排烟罩已清洗，下水道待疏通", None] in sheets["本周排查"]

    # A week that does not exist is a 422 naming the field, never a 500.
    assert client.get("/api/checks/records/weekly/2025-W53.pdf", headers=reader).json()["detail"]["field"] == "week"
    assert client.get("/api/checks/records/weekly/2026-W00.xlsx", headers=reader).status_code == 422
    assert client.get("/api/checks/records/weekly/2020-W53.pdf", headers=reader).status_code == 200


def test_the_records_carry_their_sign_off_made_through_the_report_sign_off(
        hub: Hub, client: TestClient, clock: Clock) -> None:
    clock.set(f"{MONDAY} 12:00")
    answers = _answers(hub, "canteen_daily",
                       samples_kept=AnswerInput("samples_kept", Answer.OK, note="早餐已补录留样"))
    hub.checks.submit("canteen_daily", answers, clock() - 900, actor="wang")
    officer, headers = bearer(hub, Role.SAFETY_OFFICER)
    unsigned = _text(client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=headers).content)
    assert "已签署" not in unsigned
    page = client.get("/checks", headers=headers).text
    assert f'<input type="hidden" name="period" value="{MONDAY}">' in page and 'data-signed=' not in page
    assert '<a href="/api/checks/records/weekly/2026-W42.pdf">' in page  # this week's report, to sign as well

    day = client.post("/api/reports/signoffs", headers=headers,
                      json={"kind": "daily", "period": MONDAY, "comment": "<b>同意</b>"})
    assert day.status_code == 201, day.text
    month = client.post("/api/reports/signoffs", headers=headers, json={"kind": "monthly", "period": "2026-10"})
    assert month.status_code == 201, month.text
    assert any(e.action.startswith("report.sign") and e.actor == officer.username
               for e in hub.state.audit_entries())

    assert 'data-signed="daily"' in client.get("/checks", headers=headers).text
    signed = _text(client.get(f"/api/checks/records/daily/{MONDAY}.pdf", headers=headers).content)
    assert "已签署：" in signed and f"（{officer.username}）" in signed
    assert "审核意见：<b>同意</b>" in signed  # the remark printed as the text it is
    (rows,) = _sheets(client.get(f"/api/checks/records/daily/{MONDAY}.xlsx", headers=headers).content).values()
    assert f"（{officer.username}）" in str(rows[2][0]) and rows[3] == ["类别", "检查项", "结果", "说明 / 依据"]
    minutes = _text(client.get("/api/checks/records/monthly/2026-10.pdf", headers=headers).content)
    assert f"（{officer.username}）" in minutes
