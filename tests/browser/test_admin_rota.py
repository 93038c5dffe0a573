"""The admin sets the gatekeepers' rota on a phone: day and night shifts, the deputy on holidays; a typo is named."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.notify.config import RouteConfig
from hub.notify.rota import ShiftDays
from tests.browser.conftest import Served, overflow_x, screenshot
from tests.conftest import wait_for


def test_admin_sets_the_gatekeepers_rota(served: Served, open_page: Callable[[Role], Page]) -> None:
    settings = served.hub.notify_settings
    settings.put_route("gatekeeper", RouteConfig(always=["web"]), "admin")  # the first version: every route
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    rota = page.locator("details[data-rota=gatekeeper]")
    rota.locator("summary").click()
    shifts = rota.locator("[data-shift]")
    first, second = shifts.nth(0), shifts.nth(1)
    first.locator("select[name=when]").select_option("mon,tue,wed,thu,fri,sat,sun/")
    first.locator("input[name=start]").fill("19:00")
    first.locator("input[name=end]").fill("07:00")
    first.locator("input[name=people]").fill("nobody-here")
    rota.locator("button[type=submit]").click()
    # Refused, naming the field; nothing saved.
    expect(rota.locator("[data-result]")).to_contain_text("shifts.0.people")
    config = settings.config()
    assert config is not None and config.routes["gatekeeper"].rota == []

    first.locator("input[name=people]").fill(served.users[Role.GATEKEEPER])
    second.locator("select[name=when]").select_option("/holidays")
    second.locator("input[name=start]").fill("08:00")
    second.locator("input[name=end]").fill("18:00")
    second.locator("input[name=shift_role][value=safety_officer]").check()
    assert overflow_x(page) == 0
    screenshot(page, "admin-rota")
    rota.locator("button[type=submit]").click()
    expect(rota.locator("[data-result]")).to_contain_text("已完成")

    def saved() -> bool:
        found = settings.config()
        return found is not None and len(found.routes["gatekeeper"].rota) == 2

    wait_for(saved)
    found = settings.config()
    assert found is not None
    night, deputy = found.routes["gatekeeper"].rota
    assert (night.start, night.end, night.people, night.when) == ("19:00", "07:00", [served.users[Role.GATEKEEPER]],
                                                                None)
    assert (deputy.when, deputy.days, deputy.roles) == (ShiftDays.HOLIDAYS, [], [Role.SAFETY_OFFICER])
    latest = settings.latest()
    assert latest is not None and latest.actor == served.users[Role.ADMIN] and latest.action == "rota.changed"
