"""A daily check on a phone: one failed item becomes a work order, fixed by one person and accepted by another."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.alerts.kinds import AlertKind, AlertState
from hub.auth.roles import Role
from hub.checks.config import ChecksConfig, ItemConfig, ScanReportsConfig, TemplateConfig
from hub.checks.kinds import AutoSource, Cadence, Category, DayRule, ItemKind, OrderState, ScanState
from hub.checks.service import check_subject
from hub.settings import HubConfig
from tests.browser.conftest import PHONE, Served, overflow_x
from tests.browser.conftest import screenshot as full_screenshot
from tests.browser.test_handling import PNG
from tests.conftest import wait_for

PNG_NAME = hashlib.sha256(PNG).hexdigest() + ".png"

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

#: Every day (the test runs on any date), with an item the fridge answers.
KITCHEN = TemplateConfig(name="厨房每日检查", cadence=Cadence.DAILY, due_by=dt.time(23, 59), days=DayRule.EVERY,
                         place="食堂", items=[
    ItemConfig(key="fridges", text="冷藏设备温度 0–8 °C", section="冷藏", auto=AutoSource.FRIDGES, key_item=True),
    ItemConfig(key="freezers", text="冷冻设备温度 ≤ -12 °C", section="冷藏", auto=AutoSource.FREEZERS),
    ItemConfig(key="clean_floor", text="操作间地面清洁，无积水", section="环境"),
    ItemConfig(key="core_temp", text="熟食中心温度", section="加工", kind=ItemKind.NUMBER, low=70, unit="°C")])


@pytest.fixture
def hub_rules() -> HubConfig:
    return HubConfig(alarm_delay_s=0, checks=ChecksConfig(templates={"kitchen_daily": KITCHEN},
                                                          scan_reports=ScanReportsConfig(enabled=True)))


def screenshot(page: Page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    full_screenshot(page, name)


def test_a_failed_item_becomes_a_work_order_fixed_by_one_and_accepted_by_another(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.0)
    served.device.reading("freezer-1", -18.0)
    wait_for(lambda: served.hub.series.readings("dev-d/fridge-1", 0, 4e9)
             and served.hub.series.readings("dev-d/freezer-1", 0, 4e9))

    cook = open_page(Role.CANTEEN_STAFF)
    cook.goto(f"{served.url}/checks")
    card = cook.locator("[data-check=kitchen_daily]")
    card.locator("details.fill summary").click()
    fridges = card.locator("fieldset[data-item=fridges]")
    expect(fridges.locator("[data-auto]")).to_contain_text("1号冷藏柜：4.0–4.0 °C，未超限")
    expect(fridges.locator("input[value=ok]")).to_be_checked()
    freezers = card.locator("fieldset[data-item=freezers]")  # the second line the sensors answer
    expect(freezers.locator("[data-auto]")).to_contain_text("2号冷冻柜：-18.0–-18.0 °C，未超限")
    expect(freezers.locator("input[value=ok]")).to_be_checked()
    floor = card.locator("fieldset[data-item=clean_floor]")
    floor.locator("input[value=fail]").check()
    floor.locator("input[name=note]").fill("洗碗间地面积水，排水沟堵塞")
    floor.locator("input[type=file]").set_input_files({"name": "floor.png", "mimeType": "image/png", "buffer": PNG})
    card.locator("fieldset[data-item=core_temp] input[name=value]").fill("76")
    assert overflow_x(cook) == 0
    screenshot(cook, "checks-daily-filled")
    card.locator("button[type=submit]").click()
    wait_for(served.hub.checks.store.orders)
    (order,) = served.hub.checks.store.orders()
    assert order.state is OrderState.REPORTED and order.text == "洗碗间地面积水，排水沟堵塞"
    assert order.reported_by == served.users[Role.CANTEEN_STAFF]
    expect(cook.locator(f"#order-{order.id}")).to_contain_text("操作间地面清洁，无积水")
    expect(cook.locator(f"#order-{order.id} .photos img")).to_have_count(1)  # the photo taken with the line
    (run,) = served.hub.checks.runs_between(0, 4e9)
    assert [a.photos for a in run.answers if a.item == "clean_floor"] == [[PNG_NAME]]
    expect(card.locator("[data-flag=too-fast]")).to_be_visible()  # ticked in seconds: flagged, not refused

    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/checks")
    officer_card = officer.locator(f"#order-{order.id}")
    officer_card.locator("select[name=assignee]").select_option(served.users[Role.CANTEEN_MANAGER])
    officer_card.locator("form[data-kind=assign] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.ASSIGNED)

    manager = open_page(Role.CANTEEN_MANAGER)
    manager.goto(f"{served.url}/checks")
    manager_card = manager.locator(f"#order-{order.id}")
    expect(manager_card.locator("form[data-kind=accept]")).to_have_count(0)
    manager_card.locator("textarea[name=note]").fill("疏通排水沟，拖干地面")
    manager_card.locator("form[data-kind=fix] input[type=file]").set_input_files(
        {"name": "after.png", "mimeType": "image/png", "buffer": PNG})
    manager_card.locator("form[data-kind=fix] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.FIXED)
    expect(manager_card.locator("form[data-kind=accept]")).to_have_count(0)  # never one's own fix

    officer.reload()
    officer_card = officer.locator(f"#order-{order.id}")
    expect(officer_card).to_contain_text("疏通排水沟，拖干地面")
    expect(officer_card.locator(".photos img")).to_have_count(1)
    screenshot(officer, "checks-work-order-to-accept")
    officer_card.locator("form[data-kind=accept] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.ACCEPTED)
    accepted = served.hub.checks.order(order.id)
    assert accepted.fixed_by == served.users[Role.CANTEEN_MANAGER]
    assert accepted.accepted_by == served.users[Role.SAFETY_OFFICER]
    assert overflow_x(officer) == 0
    screenshot(officer, "checks-accepted")


def test_a_place_s_code_scanned_by_a_teacher_and_by_a_stranger_ends_on_the_board(
        served: Served, browser: Browser, open_page: Callable[[Role], Page]) -> None:
    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/checks")
    officer.locator("a[href='/checks/places']").click()
    expect(officer.locator(".qr-card")).to_have_count(len(served.hub.checks.places.all()))
    assert overflow_x(officer) == 0
    screenshot(officer, "checks-place-codes")
    lab = next(p for p in served.hub.checks.places.all() if p.name == "实验楼")
    dorm = next(p for p in served.hub.checks.places.all() if p.name == "宿舍楼")

    # A teacher scans the lab's code (the test opens the URL the code holds) and reports a broken lock.
    teacher = open_page(Role.GATEKEEPER)
    teacher.goto(f"{served.url}/q/{lab.token}")
    expect(teacher.locator("h2")).to_contain_text("实验楼")
    teacher.locator("input[name=title]").fill("二楼实验室门锁坏了")
    teacher.locator("select[name=category]").select_option("door_lock")
    teacher.locator("form[data-kind=hazard] input[type=file]").set_input_files(
        {"name": "lock.png", "mimeType": "image/png", "buffer": PNG})
    teacher.locator("form[data-kind=hazard] button[type=submit]").click()
    wait_for(served.hub.checks.store.orders)
    (order,) = served.hub.checks.store.orders()
    wait_for(lambda: any(e.action == "order.photo" and e.subject == f"workorder:{order.id}"
                         for e in served.hub.state.audit_entries()))  # the lock's photo went with the report
    assert order.place == "实验楼" and order.category is Category.DOOR_LOCK
    assert order.reported_by == served.users[Role.GATEKEEPER]
    assert overflow_x(teacher) == 0

    # A pupil, not signed in, scans the dormitory's code.
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        pupil = context.new_page()
        pupil.goto(f"{served.url}/q/{dorm.token}")
        pupil.locator("select[name=category]").select_option("water")
        pupil.locator("textarea[name=text]").fill("三楼水房<b>漏水</b>，地很滑")
        assert overflow_x(pupil) == 0
        screenshot(pupil, "checks-scan-stranger")
        pupil.locator("form[data-public-report] button[type=submit]").click()
        expect(pupil.locator("[data-sent]")).to_be_visible()
    finally:
        context.close()
    (waiting,) = served.hub.checks.places.pending()
    assert waiting.text == "三楼水房<b>漏水</b>，地很滑"

    officer.goto(f"{served.url}/checks")
    card = officer.locator(f"#scan-{waiting.id}")
    expect(card).to_contain_text("三楼水房<b>漏水</b>，地很滑")  # shown as the text it is
    card.locator("input[name=title]").fill("宿舍楼三楼水房漏水")
    card.locator("form[data-kind=scan-file] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.store.scan_report(waiting.id).state is ScanState.FILED)  # type: ignore[union-attr]
    filed = served.hub.checks.store.scan_report(waiting.id)
    assert filed is not None and filed.order_id is not None
    made = served.hub.checks.order(filed.order_id)
    assert made.title == "宿舍楼三楼水房漏水" and made.reported_by == served.users[Role.SAFETY_OFFICER]
    expect(officer.locator(f"#order-{made.id}")).to_be_visible()


def test_the_safety_officer_reorders_removes_and_adds_items_of_a_template(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/checks/templates")
    box = officer.locator("details[data-template=kitchen_daily]")
    box.locator("summary").click()
    box.locator("[data-tpl-item=core_temp] [data-move=up]").click()
    box.locator("[data-tpl-item=clean_floor] [data-move=drop]").click()
    box.locator("[data-add-item]").click()
    new_row = box.locator("[data-tpl-item='']")
    new_row.locator("[name=item_text]").fill("冰箱门封条完好")
    new_row.locator("[name=item_section]").fill("冷藏")
    new_row.locator("[name=item_photo]").check()
    box.locator("[name=due_by]").fill("15:30")
    assert overflow_x(officer) == 0
    screenshot(officer, "checks-template-editing")
    box.locator("form[data-kind=template] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.store.template_revisions("kitchen_daily"))
    edited = served.hub.checks.template("kitchen_daily")
    assert [item.text for item in edited.items] == ["冷藏设备温度 0–8 °C", "冷冻设备温度 ≤ -12 °C", "熟食中心温度",
                                                    "冰箱门封条完好"]
    assert edited.items[0].auto is AutoSource.FRIDGES and edited.items[2].low == 70
    assert edited.items[3].photo and edited.due_by == dt.time(15, 30)


def test_an_overdue_weekly_check_is_an_alarm_on_the_canteen_page(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    weekly = TemplateConfig(name="每周食品安全排查治理报告", cadence=Cadence.WEEKLY, due_by=dt.time(17, 0),
                            days=DayRule.EVERY, place="食堂",
                            items=[ItemConfig(key="suppliers", text="供货商资质在有效期内", section="原料")])
    served.hub.checks.save_template("canteen_weekly", weekly, actor="officer")
    (due,) = [c for c in served.hub.checks.due() if c.key == "canteen_weekly"]
    assert due.deadline is not None
    served.hub.checks.tick(due.deadline + 60)  # the duty's next look, a minute after the deadline
    (alert,) = served.hub.state.alerts(kind=AlertKind.CHECK, subject=check_subject("canteen_weekly", due.period))
    assert alert.state is AlertState.FIRING

    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/canteen")
    card = officer.locator(f"#alert-{alert.id}")
    expect(card).to_contain_text("每周食品安全排查治理报告")
    expect(card).to_contain_text("尚未提交")
    assert overflow_x(officer) == 0
    screenshot(officer, "checks-weekly-overdue")
