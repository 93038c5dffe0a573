"""The gatekeeper's night round on a phone, walked by scanning each place's code (the test opens the URL the code
holds): each scan opens only that place's lines, and they keep where and when it was scanned."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.checks.config import ChecksConfig, ItemConfig, TemplateConfig
from hub.checks.kinds import Answer, Cadence, DayRule, ItemKind, OrderState
from hub.settings import HubConfig
from tests.browser.conftest import Served, overflow_x
from tests.browser.conftest import screenshot as full_screenshot
from tests.browser.test_handling import PNG
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

#: Every day until a minute to midnight (the test runs at any hour), two places on the route and the gate room.
ROUND = TemplateConfig(name="门卫夜间巡查", cadence=Cadence.DAILY, due_by=dt.time(23, 59), days=DayRule.EVERY,
                       role=Role.GATEKEEPER, place="校园", items=[
    ItemConfig(key="classrooms_locked", text="教室门已上锁", section="教学楼", place="教学楼"),
    ItemConfig(key="classrooms_power", text="灯光、电源已关闭", section="教学楼", place="教学楼"),
    ItemConfig(key="lab_windows", text="实验室门窗已关好", section="实验楼", place="实验楼", key_item=True),
    ItemConfig(key="duty_log", text="值班记录已填写", section="门岗"),
    ItemConfig(key="duty_sign", text="值班人签字", section="门岗", kind=ItemKind.SIGNATURE)])


@pytest.fixture
def hub_rules() -> HubConfig:
    return HubConfig(alarm_delay_s=0, checks=ChecksConfig(templates={"night_round": ROUND}))


def screenshot(page: Page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    full_screenshot(page, name)


def test_the_gatekeeper_walks_the_night_round_by_scanning_two_places_codes(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    places = {p.name: p for p in served.hub.checks.places.all()}
    gatekeeper = open_page(Role.GATEKEEPER)

    gatekeeper.goto(f"{served.url}/q/{places['教学楼'].token}")
    walk = gatekeeper.locator("form[data-kind=place-lines]")
    expect(walk.locator("[data-item]")).to_have_count(2)  # only the teaching building's lines
    expect(walk.locator("[data-item=lab_windows]")).to_have_count(0)
    walk.locator("[data-item=classrooms_locked] input[value=ok]").check()
    walk.locator("[data-item=classrooms_power] input[value=ok]").check()
    assert overflow_x(gatekeeper) == 0
    screenshot(gatekeeper, "checks-walk-teaching-building")
    walk.locator("button[type=submit]").click()
    wait_for(lambda: len(_all_lines(served)) == 2)

    gatekeeper.goto(f"{served.url}/q/{places['实验楼'].token}")
    walk = gatekeeper.locator("form[data-kind=place-lines]")
    expect(walk.locator("[data-item]")).to_have_count(1)
    lab = walk.locator("[data-item=lab_windows]")
    lab.locator("input[value=fail]").check()
    lab.locator("input[name=note]").fill("三楼化学实验室窗户关不上")
    photo = lab.locator("input[type=file]")
    assert photo.get_attribute("capture") == "environment"  # the camera, not the gallery
    photo.set_input_files({"name": "window.png", "mimeType": "image/png", "buffer": PNG})
    assert overflow_x(gatekeeper) == 0
    walk.locator("button[type=submit]").click()
    wait_for(lambda: len(_all_lines(served)) == 3)

    gatekeeper.goto(f"{served.url}/checks")
    card = gatekeeper.locator("[data-check=night_round]")
    card.locator("details.fill summary").click()
    expect(card.locator("[data-walked]")).to_have_count(3)
    expect(card.locator("[data-walked=lab_windows]")).to_contain_text("实验楼")
    expect(card.locator("[data-item]")).to_have_count(2)  # the places' lines are no fields here
    card.locator("[data-item=duty_log] input[value=ok]").check()
    pad = card.locator("[data-item=duty_sign] canvas").bounding_box()
    assert pad is not None
    gatekeeper.mouse.move(pad["x"] + 20, pad["y"] + 60)  # a signature drawn with a finger on the page
    gatekeeper.mouse.down()
    for step in range(1, 8):
        gatekeeper.mouse.move(pad["x"] + 20 + step * 25, pad["y"] + 60 + (15 if step % 2 else -15))
    gatekeeper.mouse.up()
    assert overflow_x(gatekeeper) == 0
    screenshot(gatekeeper, "checks-walk-board")
    card.locator("button[type=submit]").click()
    wait_for(lambda: served.hub.checks.runs_between(0, 4e9))

    (run,) = served.hub.checks.runs_between(0, 4e9)
    answers = {a.item: a for a in run.answers}
    scans = {s.place: s.at for name in ("教学楼", "实验楼") for s in served.hub.checks.store.scans_at(places[name].id)}
    assert answers["classrooms_locked"].scan_place == "教学楼"
    assert answers["classrooms_locked"].scanned_at == scans["教学楼"]
    assert answers["lab_windows"].scan_place == "实验楼" and answers["lab_windows"].scanned_at == scans["实验楼"]
    assert answers["lab_windows"].answer is Answer.FAIL
    assert answers["lab_windows"].photos == [hashlib.sha256(PNG).hexdigest() + ".png"]
    assert answers["duty_log"].scan_place == "" and answers["duty_log"].scanned_at is None
    (signature,) = answers["duty_sign"].photos
    assert signature.endswith(".png") and answers["duty_sign"].answer is Answer.OK
    order = served.hub.checks.order(answers["lab_windows"].order_id or 0)
    assert order.place == "实验楼" and order.text == "三楼化学实验室窗户关不上"
    expect(gatekeeper.locator(f"#order-{order.id} .photos img")).to_have_count(1)  # the line's photo went with it


def _all_lines(served: Served) -> list[object]:
    """The walk's lines in progress, whatever the period's key (the hub's local day)."""
    found: list[object] = []
    for check in served.hub.checks.due():
        found += check.lines.values()
    return found


def test_a_teacher_reports_a_lock_from_its_code_and_accepts_the_fix_herself(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    lab = next(p for p in served.hub.checks.places.all() if p.name == "实验楼")
    teacher = open_page(Role.TEACHER)
    teacher.goto(f"{served.url}/q/{lab.token}")
    teacher.locator("form[data-kind=hazard] input[name=title]").fill("二楼实验室门锁坏了")
    teacher.locator("form[data-kind=hazard] select[name=category]").select_option("door_lock")
    teacher.locator("form[data-kind=hazard] button[type=submit]").click()
    wait_for(served.hub.checks.store.orders)
    (order,) = served.hub.checks.store.orders()

    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/checks")
    card = officer.locator(f"#order-{order.id}")
    card.locator("select[name=assignee]").select_option(served.users[Role.GATEKEEPER])
    card.locator("form[data-kind=assign] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.ASSIGNED)

    fixer = open_page(Role.GATEKEEPER)
    fixer.goto(f"{served.url}/checks")
    card = fixer.locator(f"#order-{order.id}")
    card.locator("form[data-kind=start] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.IN_PROGRESS)
    fixer.reload()
    card = fixer.locator(f"#order-{order.id}")
    card.locator("form[data-kind=fix] textarea[name=note]").fill("换了锁芯")
    card.locator("form[data-kind=fix] input[type=file]").set_input_files(
        {"name": "after.png", "mimeType": "image/png", "buffer": PNG})
    card.locator("form[data-kind=fix] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.FIXED)

    teacher.goto(f"{served.url}/checks")
    card = teacher.locator(f"#order-{order.id}")
    expect(card.locator(".photos img")).to_have_count(1)
    assert overflow_x(teacher) == 0
    card.locator("form[data-kind=accept] button[type=submit]").click()
    wait_for(lambda: served.hub.checks.order(order.id).state is OrderState.ACCEPTED)
    done = served.hub.checks.order(order.id)
    assert done.reported_by == done.accepted_by == served.users[Role.TEACHER]
    assert [s.action for s in done.steps] == ["report", "assign", "start", "fix", "accept"]
