"""Staff's work in a real browser at phone width: sign in, see an alarm arrive live, act on it, verify it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.alerts.kinds import AlertState
from hub.auth.roles import Role
from tests.browser.conftest import PHONE, Served, overflow_x, screenshot
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
HOMES = {Role.CANTEEN_STAFF: "/canteen", Role.CANTEEN_MANAGER: "/canteen", Role.GATEKEEPER: "/gate",
         Role.SAFETY_OFFICER: "/safety", Role.ADMIN: "/admin"}


def _firing(served: Served) -> int:
    wait_for(lambda: served.hub.state.alerts([AlertState.FIRING]))
    alert_id = served.hub.state.alerts([AlertState.FIRING])[0].id
    assert alert_id is not None
    return alert_id


def test_each_role_signs_in_and_every_page_fits_a_phone(served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.2)
    wait_for(lambda: served.hub.state.sensors()[1]["last_value"] is not None)
    for role, home in HOMES.items():
        page = open_page(role)
        expect(page).to_have_url(f"{served.url}{home}")
        expect(page.locator("header.bar .name")).to_contain_text(page.locator("header.bar .name").inner_text())
        links = page.locator("header.bar nav a")
        assert ("/admin" in [links.nth(i).get_attribute("href") for i in range(links.count())]) is (role is Role.ADMIN)
        for path in [*dict.fromkeys(HOMES.values())] if role is Role.ADMIN else [home]:
            page.goto(f"{served.url}{path}")
            assert "⟦" not in page.content()
            assert overflow_x(page) <= 0, f"{path} scrolls sideways at 360 px for {role.value}"
            screenshot(page, f"{role.value}{path.replace('/', '-')}")
    english = open_page(Role.CANTEEN_STAFF)
    english.click("a.lang")
    expect(english.locator("#h-units")).to_have_text("Cold units")
    screenshot(english, "canteen_staff-canteen-en")


def test_alarm_arrives_live_and_is_handled_end_to_end(served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.0)
    staff = open_page(Role.CANTEEN_STAFF)
    expect(staff.locator("#live")).to_have_attribute("data-state", "up")
    tile = staff.locator("[data-sensor='dev-d/fridge-1']")
    expect(tile.locator("[data-value]")).to_have_text("4.0")
    staff.evaluate("window.notReloaded = true")

    served.device.reading("fridge-1", 12.5)  # through MQTT, as the Pi would
    alert_id = _firing(served)
    card = staff.locator(f"#alert-{alert_id}")
    expect(card).to_contain_text("报警中")
    expect(tile.locator("[data-value]")).to_have_text("12.5")
    expect(tile).to_contain_text("偏高")
    assert staff.evaluate("window.notReloaded") is True  # it came live, not by a reload
    screenshot(staff, "alarm-live")

    card.locator("form[data-kind=ack] button").click()
    expect(card).to_contain_text("已确认")
    served.device.reading("fridge-1", 4.5)
    close = staff.locator(f"#alert-{alert_id} form[data-kind=close]")
    expect(close).to_be_visible()
    close.locator("input[name=common]").first.check()
    close.locator("textarea[name=text]").fill("已报修，食品已转移")
    close.locator("input[type=file]").set_input_files({"name": "fridge.png", "mimeType": "image/png", "buffer": PNG})
    screenshot(staff, "corrective-action-form")
    close.locator("button[type=submit]").click()
    wait_for(lambda: served.hub.state.alert(alert_id).state == "closed")  # type: ignore[union-attr]
    closed = served.hub.state.alert(alert_id)
    assert closed is not None and closed.closed_by == "b-canteen-staff"
    assert closed.action == "已将食品转移到其他冰箱；已报修，食品已转移"

    officer = open_page(Role.SAFETY_OFFICER)
    to_verify = officer.locator(f"[data-part=verify] #alert-{alert_id}")
    expect(to_verify).to_contain_text("已将食品转移到其他冰箱")
    expect(to_verify.locator(".photos img")).to_have_count(1)
    screenshot(officer, "verify")
    to_verify.locator("form[data-kind=verify] button").click()
    wait_for(lambda: served.hub.state.alert(alert_id).state == "verified")  # type: ignore[union-attr]
    expect(officer.locator(f"[data-part=history] a[href='/alerts/{alert_id}']")).to_be_visible()


def test_the_same_person_cannot_verify_their_own_action(served: Served,
                                                        open_page: Callable[[Role], Page]) -> None:
    served.device.reading("freezer-1", -5.0)
    alert_id = _firing(served)
    officer = open_page(Role.SAFETY_OFFICER)
    officer.goto(f"{served.url}/alerts/{alert_id}")
    officer.locator("form[data-kind=ack] button").click()
    served.device.reading("freezer-1", -18.0)
    close = officer.locator("form[data-kind=close]")
    expect(close).to_be_visible()
    close.locator("textarea[name=text]").fill("门未关好，已关门")
    close.locator("button[type=submit]").click()
    verify = officer.locator("form[data-kind=verify]")
    expect(verify).to_contain_text("不能验收")
    verify.locator("button[type=submit]").click()
    expect(verify.locator("[data-result]")).to_contain_text("cannot verify")
    screenshot(officer, "self-verify-refused")
    assert served.hub.state.alert(alert_id).state == "closed"  # type: ignore[union-attr]


def test_a_gatekeeper_cannot_change_fridge_limits(served: Served, open_page: Callable[[Role], Page]) -> None:
    gatekeeper = open_page(Role.GATEKEEPER)
    gatekeeper.goto(f"{served.url}/canteen")
    expect(gatekeeper.locator("[data-sensor='dev-d/fridge-1']")).to_be_visible()
    assert gatekeeper.locator("form[data-kind=limits]").count() == 0
    forced = gatekeeper.evaluate("""async () => {
        const r = await fetch('/api/sensors/dev-d/fridge-1/limits', {method: 'PUT',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.body.dataset.csrf},
            body: JSON.stringify({low: -40, high: 40})});
        return r.status; }""")
    assert forced == 403
    assert served.hub.state.limit_edits() == {}

    manager = open_page(Role.CANTEEN_MANAGER)
    form = manager.locator("[data-sensor='dev-d/fridge-1'] form[data-kind=limits]")
    manager.locator("[data-sensor='dev-d/fridge-1'] details.limits summary").click()
    form.locator("input[name=high]").fill("6")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-result]")).to_contain_text("范围已保存")
    limits = served.hub.engine.limits("dev-d/fridge-1")
    assert limits is not None and limits.high == 6


def test_silences_overrides_and_passwords_from_the_pages(served: Served, browser: Browser,
                                                         open_page: Callable[[Role], Page]) -> None:
    manager = open_page(Role.CANTEEN_MANAGER)
    manager.on("dialog", lambda dialog: dialog.accept())
    manager.locator("#h-silences ~ details summary").click()
    form = manager.locator("form[data-kind=silence]")
    form.locator("input[name=subject]").fill("dev-d/fridge-1")
    tomorrow = dt.datetime.now() + dt.timedelta(days=1)  # within the longest silence allowed (7 days)
    form.locator("input[name=ends_at]").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    form.locator("input[name=reason]").fill("除霜维修")
    assert overflow_x(manager) <= 0
    screenshot(manager, "silence-form")
    form.locator("button[type=submit]").click()
    wait_for(lambda: any(s.reason == "除霜维修" for s in served.hub.engine.silences()))
    (silence,) = [s for s in served.hub.engine.silences() if s.reason == "除霜维修"]
    assert silence.subject == "dev-d/fridge-1" and silence.ends_at is not None
    listed = manager.locator("[data-part=silences] li", has_text="除霜维修")
    expect(listed).to_be_visible()
    listed.locator("form[data-kind=remove] button").click()
    wait_for(lambda: not any(s.reason == "除霜维修" for s in served.hub.engine.silences()))
    expect(manager.locator("[data-part=silences]")).to_contain_text("没有生效的暂停提醒")

    officer = open_page(Role.SAFETY_OFFICER)
    officer.locator("#h-calendar ~ details summary").click()
    override = officer.locator("form[data-kind=override]")
    override.locator("select[name=kind]").select_option("closed")
    override.locator("input[name=date]").fill("2031-06-07")
    override.locator("input[name=reason]").fill("高考")
    override.locator("button[type=submit]").click()
    expect(officer.locator("[data-part=calendar]")).to_contain_text("高考")
    assert [o.spec.reason for o in served.hub.gate.overrides()] == ["高考"]
    assert overflow_x(officer) <= 0
    screenshot(officer, "calendar-override")

    admin = open_page(Role.ADMIN)
    admin.on("dialog", lambda dialog: dialog.accept())
    staff_id = served.hub.accounts.user_by_name(served.users[Role.CANTEEN_STAFF]).id  # type: ignore[union-attr]
    reset = admin.locator(f"form[data-api='/api/users/{staff_id}/password']")
    reset.locator("button").click()
    expect(reset.locator("[data-result]")).to_contain_text("只显示这一次")
    shown = reset.locator("[data-result]").inner_text().rsplit("：", 1)[-1].strip()
    assert len(shown) == 14 and served.hub.accounts.authenticate(served.users[Role.CANTEEN_STAFF], shown)
    screenshot(admin, "password-reset")

    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        staff = context.new_page()
        staff.goto(f"{served.url}/login")
        assert overflow_x(staff) <= 0
        staff.click("a.lang")
        expect(staff.locator("#h-login")).to_have_text("Sign in")
        screenshot(staff, "login-en")
        staff.fill("#username", served.users[Role.CANTEEN_STAFF])
        staff.fill("#password", shown)
        staff.click("button[type=submit]")
        expect(staff).to_have_url(f"{served.url}/canteen")
        staff.click("header .who a.name")
        change = staff.locator("form[data-kind=password]")
        change.locator("input[name=old_password]").fill(shown)
        change.locator("input[name=new_password]").fill("my own new password")
        change.locator("input[name=repeat_password]").fill("something else entirely")
        change.locator("button[type=submit]").click()
        expect(change.locator("[data-result]")).to_contain_text("differ")
        change.locator("input[name=repeat_password]").fill("my own new password")
        change.locator("button[type=submit]").click()
        expect(change.locator("[data-result]")).to_contain_text("Password changed")
        assert served.hub.accounts.authenticate(served.users[Role.CANTEEN_STAFF], "my own new password")
        assert overflow_x(staff) <= 0
        screenshot(staff, "account-en")
    finally:
        context.close()
