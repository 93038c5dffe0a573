"""The school's IT teacher sets up on a phone: sensors named and assigned, a door group, a term; a WeCom bot and
a WeCom-style webhook channel, a route, and a test message received by a local endpoint. No shell."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from playwright.sync_api import Page, expect

from hub.alerts.kinds import AlertState
from hub.auth.roles import Role
from hub.calendar import package_year
from tests.browser.conftest import DEVICE, Served, overflow_x, screenshot
from tests.conftest import wait_for
from tests.hub.notify.http_sink import HttpSink

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DOOR = f"{DEVICE}/door-1"
FRIDGE = f"{DEVICE}/fridge-1"


def test_the_admin_names_and_assigns_sensors_and_sets_a_door_group_and_a_term(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    hub = served.hub
    served.device.status([{"sensor": "door-1", "kind": "door"}])
    wait_for(lambda: DOOR in {s["key"] for s in hub.state.sensors()})
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    sensors = page.locator("[data-part=setup_sensors]")
    expect(sensors.locator(".badge", has_text="待设置")).to_have_count(3)

    # A door group with its opening windows, then the kitchen's back door in it.
    page.locator("[data-part=setup_calendar] details > summary", has_text="添加门组").click()
    add = page.locator("[data-part=setup_calendar] details form[data-kind=setup_group]")
    add.locator("input[name=name]").fill("后门")
    add.locator("input[name=school_day]").fill("06:30–07:30、16:30-17:30")
    add.locator("button[type=submit]").click()
    wait_for(lambda: "后门" in (hub.setup.document().groups or {}))
    door = sensors.locator(f"form[data-sensor='{DOOR}']")
    expect(door.locator("select[name=group] option[value='后门']")).to_have_count(1)
    door.locator("input[name=name]").fill("食堂后门")
    door.locator("select[name=role]").select_option("door")
    door.locator("select[name=group]").select_option("后门")
    door.locator("button[type=submit]").click()
    wait_for(lambda: hub.gate.calendar.group_of(DOOR) == "后门")
    assert [(w.start, w.end) for w in hub.gate.calendar.group("后门").school_day] == [
        (dt.time(6, 30), dt.time(7, 30)), (dt.time(16, 30), dt.time(17, 30))]

    # The fridge probe actually sits in a freezer: named and assigned, its limits follow at once.
    fridge = sensors.locator(f"form[data-sensor='{FRIDGE}']")
    fridge.locator("input[name=name]").fill("2号冷冻柜（主厨房）")
    fridge.locator("select[name=role]").select_option("cold_unit")
    fridge.locator("select[name=profile]").select_option("freezer")
    fridge.locator("button[type=submit]").click()
    wait_for(lambda: hub.engine.name(FRIDGE) == "2号冷冻柜（主厨房）")
    served.device.reading("fridge-1", -3.0)  # fine for a fridge, too warm for a freezer
    wait_for(lambda: any(a.subject == FRIDGE and a.state == AlertState.FIRING for a in hub.state.alerts()))
    expect(sensors.locator(".badge", has_text="待设置")).to_have_count(1)

    # The autumn term and a school holiday.
    terms = page.locator("form[data-kind=setup_calendar]")
    row = terms.locator(".term").first
    row.locator("input[name=term_name]").fill("2026 秋季学期")
    row.locator("input[name=term_start]").fill("2026-09-01")
    row.locator("input[name=term_end]").fill("2027-01-22")
    terms.locator("input[name=holidays]").fill("2026-10-21")
    terms.locator("button[type=submit]").click()
    wait_for(lambda: hub.gate.calendar.day_type(dt.date(2026, 10, 21)) == "holiday")
    assert hub.gate.calendar.day_type(dt.date(2026, 8, 26)) == "vacation"
    expect(page.locator("[data-part=setup_calendar]")).to_contain_text("门：食堂后门")
    assert overflow_x(page) == 0
    screenshot(page, "admin-setup")
    audited = {(e.action, e.actor) for e in hub.state.audit_entries()}
    admin = served.users[Role.ADMIN]
    assert {("setup.group", admin), ("setup.sensor", admin), ("setup.calendar", admin)} <= audited


def add_channel(page: Page, kind: str, fields: dict[str, str]) -> None:
    """Fill and send the admin page's form for a channel of ``kind``."""
    page.locator(f"details:has(input[name=kind][value={kind}]) > summary").click()
    form = page.locator(f"form[data-kind=channel]:has(input[name=kind][value={kind}])")
    for name, value in fields.items():
        form.locator(f"input[name={name}]").fill(value)
    form.locator("button[type=submit]").click()


def add_webhook_and_receive_the_test_message(page: Page, served: Served) -> None:
    """A WeCom-style bot endpoint on this machine, on the canteen route; its test message arrives there."""
    with HttpSink() as sink:
        # The key in the query, as …/webhook/send?key=KEY.
        add_channel(page, "webhook", {"name": "kitchen_hook", "label": "厨房值班群",
                                      "url": f"http://127.0.0.1:{sink.port}/cgi-bin/webhook/send?key=local-test"})
        card = page.locator("[data-channel=kitchen_hook]")
        expect(card).to_contain_text("厨房值班群")
        route = page.locator("form[data-kind=route]:has(input[name=route][value=canteen])")
        route.locator("input[name=always][value=kitchen_hook]").check()
        route.locator("button[type=submit]").click()
        expect(route.locator("[data-result]")).to_contain_text("已完成")
        notify = served.hub.notify_settings
        wait_for(lambda: (config := notify.config()) is not None and "kitchen_hook" in config.routes["canteen"].always)
        card.locator("form[data-kind=test] button").click()
        expect(card.locator("[data-result]")).to_contain_text("测试消息已发送")
        wait_for(lambda: len(sink.received) == 1)
    assert sink.received[0].path == "/cgi-bin/webhook/send?key=local-test"
    assert "测试消息" in json.loads(sink.received[0].body)["title"]


def test_the_admin_adds_a_wecom_bot_and_a_webhook_and_the_endpoint_receives_the_test_message(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    # The canteen group's WeCom bot, by the webhook address the group's settings show.
    add_channel(page, "wecom", {"name": "wecom_kitchen", "label": "食堂企业微信群",
                                "key": f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"})
    expect(page.locator("[data-channel=wecom_kitchen]")).to_contain_text("食堂企业微信群")
    assert WECOM_KEY not in page.content()

    add_webhook_and_receive_the_test_message(page, served)
    assert overflow_x(page) == 0
    screenshot(page, "admin-channels")


def test_the_admin_confirms_the_national_table_enters_an_unknown_year_sets_a_patrol_and_adopts_the_template(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    hub = served.hub
    served.device.status([{"sensor": "gate-1", "kind": "gate", "name": "南大门"},
                          {"sensor": "door-2", "kind": "door", "name": "冷藏库门"}])
    wait_for(lambda: {f"{DEVICE}/gate-1", f"{DEVICE}/door-2"} <= {s["key"] for s in hub.state.sensors()})
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    calendar = page.locator("[data-part=setup_calendar]")
    today = dt.date.today()

    # This year's table from the package, confirmed as it is (or, in a year the package ends, entered by hand).
    this_year = calendar.locator(f"form[data-kind=setup_national][data-year='{today.year}']")
    if package_year(today.year) is not None:
        expect(this_year.locator("[data-national=package] li").first).to_contain_text("元旦")
        this_year.locator("button[type=submit]").click()
        wait_for(lambda: today.year in hub.settings.rules.calendar.national_table)
    # Next year, where the package does not know it yet: said plainly, and entered from the notice.
    next_year = today.year + 1
    following = calendar.locator(f"form[data-kind=setup_national][data-year='{next_year}']")
    if package_year(next_year) is None:
        expect(following.locator("[data-national=unknown]")).to_contain_text(f"还没有 {next_year} 年的放假安排")
        following.locator("textarea[name=holidays]").fill(f"{next_year}-01-01、{next_year}-10-01, {next_year}-10-02")
        following.locator("input[name=workdays]").fill(f"{next_year}-09-26")
        following.locator("button[type=submit]").click()
        wait_for(lambda: next_year in hub.settings.rules.calendar.national_table)
        assert hub.gate.calendar.day_type(dt.date(next_year, 10, 1)) == "holiday"
        table = hub.settings.rules.calendar.national_table[next_year]
        assert table.workdays == [dt.date(next_year, 9, 26)] and len(table.holidays) == 3
        expect(page.locator(f"form[data-kind=setup_national][data-year='{next_year}'] [data-national=unknown]")
               ).to_have_count(0)

    # The gate is judged by the template: said so, and taken as the school's own group in one tap.
    notice = calendar.locator("[data-template=in-use]")
    expect(notice).to_contain_text("南大门")
    notice.locator("button[type=submit]").click()
    wait_for(lambda: hub.gate.calendar.group_of(f"{DEVICE}/gate-1") == "校门")
    expect(calendar.locator("[data-template=in-use]")).to_have_count(0)
    expect(calendar.locator("form[data-kind=setup_group][data-group='校门'] input[name=school_day]")).to_have_value(
        "06:30–08:30、11:30–13:30、16:30–18:30")

    # The fridge's probe paired with its door: a rise while the door is open is one incident.
    units = page.locator("[data-part=setup_sensors] form[data-kind=setup_units]")
    row = units.locator(".unit").last
    row.locator("select[name=unit_probe]").select_option(FRIDGE)
    row.locator("select[name=unit_door]").select_option(f"{DEVICE}/door-2")
    units.locator("button[type=submit]").click()
    wait_for(lambda: [(u.temperature, u.door) for u in hub.settings.rules.alerts.units] == [
        (FRIDGE, f"{DEVICE}/door-2")])

    # A checkpoint and a route with a night round past midnight.
    patrols = page.locator("[data-part=setup_patrols]")
    patrols.locator("details > summary", has_text="添加巡更点").click()
    add = patrols.locator("details form[data-kind=setup_checkpoint]")
    add.locator("input[name=key]").fill("gatehouse")
    add.locator("input[name=name]").fill("门卫室")
    add.locator("input[name=tags]").fill("04A1B2C3D4")
    add.locator("button[type=submit]").click()
    wait_for(lambda: "gatehouse" in hub.gate.config.checkpoints)
    patrols.locator("details > summary", has_text="添加巡更路线").click()
    route = patrols.locator("details form[data-kind=setup_route]")
    route.locator("input[name=key]").fill("campus")
    route.locator("input[name=name]").fill("校园巡更")
    route.locator("input[name=checkpoints]").fill("gatehouse")
    route.locator("input[name=day_rounds]").fill("07:00–09:00、12:00-14:00")
    route.locator("input[name=night_rounds]").fill("23:30～01:30")
    route.locator("button[type=submit]").click()
    wait_for(lambda: "campus" in hub.gate.config.routes)
    saved = hub.gate.config.routes["campus"]
    assert saved.checkpoints == ["gatehouse"] and [(w.start, w.end) for w in saved.night_rounds] == [
        (dt.time(23, 30), dt.time(1, 30))]
    expect(patrols.locator("form[data-route=campus] [data-rounds=few]")).to_contain_text("3")
    # A route naming a checkpoint that does not exist: the form says which field, nothing saved.
    patrols.locator("details > summary", has_text="添加巡更路线").click()
    route.locator("input[name=key]").fill("north")
    route.locator("input[name=name]").fill("北区")
    route.locator("input[name=checkpoints]").fill("library")
    route.locator("button[type=submit]").click()
    expect(route.locator("[data-result]")).to_contain_text("routes.north.checkpoints")
    assert "north" not in hub.gate.config.routes
    assert overflow_x(page) == 0
    screenshot(page, "admin-setup-patrols")
