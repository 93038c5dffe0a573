"""Safe by default, on a phone at 360 px: the demo's own config raises the gate alarm with no door group, the
gate acknowledgement refuses a reason nobody chose, and an under-weight sample is refused or marked short.

The hub runs the demo's hub config exactly as ``xiaoan demo`` writes it (``hub.demo.demo_rules``): no door
group, the default opening hours, today a special date with the gates shut.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.demo import demo_rules
from hub.gate.monitor import AFTER_HOURS_RULE
from hub.settings import HubConfig
from tests.browser.conftest import Served, overflow_x, screenshot
from tests.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

GATE = {"sensor": "gate-east", "kind": "gate", "name": "东门"}


@pytest.fixture
def hub_rules() -> HubConfig:
    return HubConfig.model_validate(demo_rules())


def _gate_alarm(served: Served) -> int:
    def firing() -> list[int]:
        return [a.id or 0 for a in served.hub.state.alerts()
                if a.rule == AFTER_HOURS_RULE and a.state == "firing"]
    wait_for(lambda: bool(firing()), timeout=60)
    return firing()[0]


def test_the_gate_alarm_fires_in_the_demo_config_and_needs_a_chosen_reason(
        served: Served, open_page: Callable[[Role], Page]) -> None:
    served.device.status([GATE])
    wait_for(lambda: any(s["key"] == "dev-d/gate-east" for s in served.hub.state.sensors()))
    gatekeeper = open_page(Role.GATEKEEPER)
    expect(gatekeeper.locator("[data-defaults='unconfirmed']")).to_be_visible()  # the template, said loudly
    served.device.event("gate-east", "gate", "open")
    alert_id = _gate_alarm(served)
    card = gatekeeper.locator(f"#alert-{alert_id}")
    expect(card).to_be_visible(timeout=30_000)  # live, without a reload
    expect(card.locator(".msg")).to_contain_text("东门 在非开放时间打开")
    expect(card.locator(".msg")).to_contain_text("默认开放时间")
    assert overflow_x(gatekeeper) <= 0
    screenshot(gatekeeper, "gatekeeper-gate-alarm")

    form = card.locator("form[data-kind='ack']")
    reason = form.locator("select[name=reason]")
    expect(reason).to_have_value("")  # nothing preselected
    form.locator("button[type=submit]").click()
    assert reason.evaluate("el => !el.checkValidity()")  # the browser holds the form back
    # Past the browser's own check, the hub refuses and says which field.
    reason.evaluate("el => el.removeAttribute('required')")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-result]")).to_contain_text("reason")
    expect(form.locator("[data-result]")).to_contain_text("请选择开门原因")
    reason.select_option("other")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-result]")).to_contain_text("请写明原因")
    found = served.hub.state.alert(alert_id)
    assert found is not None and found.acked_at is None
    form.locator("input[name=text]").fill("消防检查")
    form.locator("button[type=submit]").click()
    wait_for(lambda: (served.hub.state.alert(alert_id) or found).acked_at is not None)
    acked = served.hub.state.alert(alert_id)
    assert acked is not None and acked.data["ack_reason"] == "other" and acked.data["ack_reason_chosen"] is True
    gatekeeper.reload()
    screenshot(gatekeeper, "gatekeeper-gate-acknowledged")


def test_an_under_weight_sample_is_refused_or_marked_short(served: Served,
                                                           open_page: Callable[[Role], Page]) -> None:
    cook = open_page(Role.CANTEEN_STAFF)
    cook.locator("summary", has_text="登记留样").click()
    form = cook.locator("form[data-kind='samples']")
    first = form.locator(".dish").first
    first.locator("[name=dish_name]").fill("清炒时蔬")
    first.locator("[name=dish_weight]").fill("100")
    form.locator("button[type=submit]").click()
    result = form.locator("[data-result]")
    expect(result).to_contain_text("dishes.0.weight_g")
    expect(result).to_contain_text("不足每样 125 g")
    assert served.hub.samples.store.not_discarded() == []
    first.locator("[name=dish_short]").fill("菜已打完，稍后补")
    form.locator("button[type=submit]").click()
    expect(result).to_contain_text("已登记")
    dish = cook.locator("[data-dish]", has_text="清炒时蔬")
    expect(dish).to_contain_text("不足量")
    expect(dish).to_contain_text("菜已打完，稍后补")
    assert overflow_x(cook) <= 0
    screenshot(cook, "canteen_staff-canteen-short-sample")
    portion = dish.locator("form[data-kind='portion']")
    portion.locator("[name=add_g]").fill("30")
    portion.locator("button[type=submit]").click()
    wait_for(lambda: [d.weight_g for r in served.hub.samples.store.not_discarded() for d in r.dishes] == [130])
    topped = cook.locator("[data-dish]", has_text="清炒时蔬")
    expect(topped).to_contain_text("130 g")
    expect(topped.locator(".badge")).to_have_count(0)  # no longer short
    screenshot(cook, "canteen_staff-canteen-topped-up")
