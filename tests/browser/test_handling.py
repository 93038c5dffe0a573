"""Handling an alarm at phone width: what to do, what was done so far, live limits, and an alarm that is heard."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from hub.alerts.kinds import AlertState
from hub.auth.roles import Role
from tests.browser.conftest import Served, overflow_x
from tests.browser.conftest import screenshot as full_screenshot
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00"
       b"\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
FRIDGE = "dev-d/fridge-1"


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot from the top (a click scrolls the page; the sticky header would cover a card)."""
    page.evaluate("window.scrollTo(0, 0)")
    full_screenshot(page, name)


def _firing(served: Served) -> int:
    wait_for(lambda: served.hub.state.alerts([AlertState.FIRING]))
    alert_id = served.hub.state.alerts([AlertState.FIRING])[0].id
    assert alert_id is not None
    return alert_id


def _state(served: Served, alert_id: int) -> str:
    found = served.hub.state.alert(alert_id)
    return found.state if found is not None else ""


def test_the_cook_records_an_interim_action_while_warm_and_closes_after_it_cools(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.0)
    cook = open_page(Role.CANTEEN_STAFF)
    expect(cook.locator("#live")).to_have_attribute("data-state", "up")
    served.device.reading("fridge-1", 12.5)
    alert_id = _firing(served)
    card = cook.locator(f"#alert-{alert_id}")
    expect(card.locator(".steps")).to_contain_text("把食品转移到其他正常的冰箱")
    expect(card.locator(".steps")).to_contain_text("丢弃在 8 °C 以上存放超过 2 小时的食品")

    card.locator("details.interim-form summary").click()
    form = card.locator("form[data-kind=interim]")
    form.locator("input[name=steps][value=move_food]").check()
    form.locator("textarea[name=text]").fill("13:05 把食品移到 2 号冰箱")
    form.locator("input[type=file]").set_input_files({"name": "fridge2.png", "mimeType": "image/png", "buffer": PNG})
    screenshot(cook, "canteen_staff-interim-action-form")
    form.locator("button[type=submit]").click()
    wait_for(lambda: served.hub.state.alert_actions([alert_id]).get(alert_id))
    (action,) = served.hub.state.alert_actions([alert_id])[alert_id]
    assert (action.who, action.text, action.steps, len(action.photos)) == (
        "b-canteen-staff", "13:05 把食品移到 2 号冰箱", ("move_food",), 1)
    assert _state(served, alert_id) == AlertState.FIRING  # still warm: still an alarm
    expect(card.locator(".interim")).to_contain_text("13:05 把食品移到 2 号冰箱")
    expect(card.locator(".interim")).to_contain_text("王师傅（b-canteen-staff）")
    expect(card.locator(".steps li.done[data-step=move_food]")).to_contain_text("王师傅")
    assert overflow_x(cook) <= 0
    screenshot(cook, "canteen_staff-main")  # the cook's page: what is wrong, what to do, what was done

    served.device.reading("fridge-1", 4.5)  # it cooled
    close = card.locator("form[data-kind=close]")
    expect(close).to_be_visible()
    close.locator("textarea[name=text]").fill("压缩机已修好，食品已放回")
    close.locator("button[type=submit]").click()
    wait_for(lambda: _state(served, alert_id) == AlertState.CLOSED)
    closed = served.hub.state.alert(alert_id)
    assert closed is not None and closed.closed_by == "b-canteen-staff" and closed.action == "压缩机已修好，食品已放回"


def test_a_limit_edit_reaches_an_open_page_without_reload(served: Served,
                                                          open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.0)
    cook = open_page(Role.CANTEEN_STAFF)
    expect(cook.locator("#live")).to_have_attribute("data-state", "up")
    tile = cook.locator(f"[data-sensor='{FRIDGE}']")
    expect(tile).to_contain_text("0 … 8 °C")
    cook.evaluate("window.notReloaded = true")

    manager = open_page(Role.CANTEEN_MANAGER)
    screenshot(manager, "canteen_manager-main")
    own = manager.locator(f"[data-sensor='{FRIDGE}']")
    own.locator("details.limits summary").click()
    own.locator("input[name=high]").fill("5")
    own.locator("form[data-kind=limits] button[type=submit]").click()
    wait_for(lambda: (limits := served.hub.engine.limits(FRIDGE)) is not None and limits.high == 5)

    expect(tile).to_contain_text("0 … 5 °C")
    assert cook.evaluate("window.notReloaded") is True  # it came over the stream, not by a reload


def test_an_arriving_alarm_marks_the_tab_and_sounds(served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.reading("fridge-1", 4.0)
    cook = open_page(Role.CANTEEN_STAFF)
    expect(cook.locator("#live")).to_have_attribute("data-state", "up")
    title = cook.title()
    switch = cook.locator("button[data-sound]")
    expect(switch).to_contain_text("开启提示音")
    switch.click()  # the one tap browsers need before a page may make a sound
    expect(switch).to_have_attribute("aria-pressed", "true")
    assert cook.evaluate("window.xiaoanAttention.beeps") == 1  # the tap plays it once, to hear it

    served.device.reading("fridge-1", 12.5)
    _firing(served)
    expect(cook).to_have_title(f"⚠ (1) 新报警 · {title}")
    assert cook.evaluate("window.xiaoanAttention.arrived") == 1
    assert cook.evaluate("window.xiaoanAttention.beeps") == 2  # the alarm sounded
    assert cook.locator("#favicon").get_attribute("href") == "/static/icon-alarm.svg"
    cook.locator("main").click()  # someone looked
    expect(cook).to_have_title(title)

    # Remembered: the next visit starts with the sound on.
    cook.reload()
    expect(cook.locator("button[data-sound]")).to_have_attribute("aria-pressed", "true")


def test_the_gate_page_has_a_night_view_that_is_remembered(served: Served,
                                                           open_page: Callable[[Role], Page]) -> None:
    gate = open_page(Role.GATEKEEPER)
    gate.locator("button[data-night]").click()
    expect(gate.locator("body")).to_have_class("night")
    gate.reload()
    expect(gate.locator("body")).to_have_class("night")
    expect(gate.locator("button[data-night]")).to_contain_text("日间模式")
    assert overflow_x(gate) <= 0
    screenshot(gate, "gatekeeper-gate-night")
