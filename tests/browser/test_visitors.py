"""The gate register on a phone at 360 px: visitors in and out, a host confirming, a pupil's slip, the closing alarm.

The visitor book runs on a clock the test sets (a Monday in term), so the gate's hours
and the closing time do not depend on when the suite runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from hub.alerts.kinds import AlertKind, AlertState, RuleKind
from hub.auth.roles import Role
from hub.visitors.kinds import SlipState, VisitState
from tests.browser.conftest import Served, overflow_x
from tests.browser.conftest import screenshot as full_screenshot
from tests.conftest import wait_for
from tests.hub.visitors.conftest import visitor

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.broker]

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = dt.date(2026, 10, 12)


class Clock:
    def __init__(self) -> None:
        self.now = self.at("10:00")

    @staticmethod
    def at(hm: str) -> float:
        return dt.datetime.combine(MONDAY, dt.time.fromisoformat(hm), TZ).timestamp()

    def set(self, hm: str) -> float:
        self.now = self.at(hm)
        return self.now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(served: Served) -> Clock:
    found = Clock()
    served.hub.visitors.clock = found
    officer = served.hub.accounts.active_user(served.users[Role.ADMIN])
    assert officer is not None
    served.hub.visitors.set_classes(served.users[Role.TEACHER], ["三年级2班"], actor=officer)
    return found


def screenshot(page: Page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    full_screenshot(page, name)


def _visits(served: Served, state: VisitState) -> list[int]:
    return [v.id for v in served.hub.visitors.store.visits_in((state,))]


def _fill(page: Page, form: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f"{form} [name={name}]").fill(value)


def test_gatekeeper_registers_a_visitor_the_host_confirms_and_both_visitors_check_in_and_out(
        served: Served, open_page: Callable[[Role], Page], clock: Clock) -> None:
    manager = open_page(Role.CANTEEN_MANAGER)
    manager.goto(f"{served.url}/visitors")
    manager.locator("[data-form=invite]").locator("xpath=..").locator("summary").click()
    _fill(manager, "[data-form=invite]", {"name": "陈师傅", "phone": "13700003333", "organisation": "鲜丰蔬菜配送",
                                          "purpose": "送菜", "plate": "粤B12345"})
    manager.locator("[data-form=invite] button[type=submit]").click()
    wait_for(lambda: served.hub.visitors.expected(MONDAY))
    assert overflow_x(manager) == 0

    gate = open_page(Role.GATEKEEPER)
    gate.goto(f"{served.url}/visitors")
    (delivery,) = served.hub.visitors.expected(MONDAY)
    card = gate.locator(f"#visit-{delivery.id}")
    expect(card).to_contain_text("137****3333")
    expect(card).not_to_contain_text("13700003333")
    card.locator("[data-action=check-in]").click()  # one tap
    wait_for(lambda: _visits(served, VisitState.INSIDE) == [delivery.id])

    form = "[data-form=register]"
    _fill(gate, form, {"name": "刘芳", "phone": "139 0000 2222", "organisation": "家长", "purpose": "家长会",
                       "id_last4": "123X"})
    gate.locator(f"{form} [name=host]").select_option(served.users[Role.TEACHER])
    assert overflow_x(gate) == 0
    screenshot(gate, "visitors-gate-register")
    gate.locator(f"{form} button[type=submit]").click()
    wait_for(lambda: len(_visits(served, VisitState.WAITING)) == 1)
    (parent,) = _visits(served, VisitState.WAITING)
    expect(gate.locator(f"#visit-{parent}")).to_contain_text("等候确认")

    # The host is told through the notification channels; the message's link opens the visit on their phone.
    (notice,) = [n for n in served.hub.notifications.web_notices.recent() if n.incident_key == f"visit:{parent}"]
    link = re.search(r"/visitors#visit-\d+", notice.body)
    assert link is not None and "刘芳" in notice.title
    teacher = open_page(Role.TEACHER)
    teacher.goto(f"{served.url}{link.group()}")
    waiting = teacher.locator(f"#visit-{parent}")
    expect(waiting).to_contain_text("刘芳")
    assert overflow_x(teacher) == 0
    screenshot(teacher, "visitors-host-confirms")
    waiting.locator("[data-action=allow]").click()
    wait_for(lambda: sorted(_visits(served, VisitState.INSIDE)) == sorted([delivery.id, parent]))
    assert served.hub.visitors.visit(parent).answered_by == served.users[Role.TEACHER]

    gate.reload()
    inside = gate.locator("[data-state=inside]")
    expect(inside).to_have_count(2)
    screenshot(gate, "visitors-gate-inside")
    clock.set("10:40")
    gate.locator(f"#visit-{delivery.id} [data-action=check-out]").click()  # one tap each, from the list
    wait_for(lambda: _visits(served, VisitState.INSIDE) == [parent])
    gate.locator(f"#visit-{parent} [data-action=check-out]").click()
    wait_for(lambda: _visits(served, VisitState.INSIDE) == [])
    assert _visits(served, VisitState.INSIDE) == []
    expect(gate.locator("[data-state=inside]")).to_have_count(0)
    assert all(served.hub.visitors.visit(v).left_by == served.users[Role.GATEKEEPER] for v in (delivery.id, parent))


def test_a_pupil_leaves_with_the_head_teachers_slip_and_returns(
        served: Served, open_page: Callable[[Role], Page], clock: Clock) -> None:
    teacher = open_page(Role.TEACHER)
    teacher.goto(f"{served.url}/visitors")
    form = "form[data-kind=slip]"
    _fill(teacher, form, {"pupil": "王小明", "reason": "看牙医", "start": "10:30", "until": "11:30",
                          "collector": "父亲王强"})
    assert overflow_x(teacher) == 0
    teacher.locator(f"{form} button[type=submit]").click()
    wait_for(lambda: served.hub.visitors.store.leaves_in((SlipState.ISSUED,)))
    (slip,) = served.hub.visitors.store.leaves_in((SlipState.ISSUED,))
    assert (slip.pupil, slip.class_name, slip.issued_by) == ("王小明", "三年级2班", served.users[Role.TEACHER])
    assert (slip.start, slip.until) == (clock.at("10:30"), clock.at("11:30"))

    gate = open_page(Role.GATEKEEPER)
    clock.set("10:31")
    gate.goto(f"{served.url}/visitors")
    card = gate.locator(f"#leave-{slip.id}")
    expect(card).to_contain_text("父亲王强")
    card.locator("[data-action=out]").click()
    wait_for(lambda: served.hub.visitors.leave(slip.id).state is SlipState.OUT)
    clock.set("11:20")
    gate.locator(f"#leave-{slip.id} [data-action=back]").click()
    wait_for(lambda: served.hub.visitors.leave(slip.id).state is SlipState.RETURNED)
    back = served.hub.visitors.leave(slip.id)
    assert back.out_at == clock.at("10:31") and back.returned_at == clock.at("11:20")
    assert overflow_x(gate) == 0


def test_a_visitor_still_inside_at_closing_time_raises_an_alarm_on_the_gate_page(
        served: Served, open_page: Callable[[Role], Page], clock: Clock) -> None:
    book = served.hub.visitors
    manager = served.hub.accounts.active_user(served.users[Role.CANTEEN_MANAGER])
    assert manager is not None
    invited = book.invite(visitor("周师傅", "13700004444"), MONDAY, actor=manager).record
    gate = open_page(Role.GATEKEEPER)
    clock.set("17:00")
    gate.goto(f"{served.url}/visitors")
    gate.locator(f"#visit-{invited.id} [data-action=check-in]").click()
    wait_for(lambda: _visits(served, VisitState.INSIDE) == [invited.id])

    clock.set("18:31")  # the default gate windows close at 18:30 on a school day
    book.run_duty(0.0)
    alarms = [a for a in served.hub.state.alerts(kind=AlertKind.VISITOR)
              if a.rule is RuleKind.VISITOR_INSIDE_AT_CLOSING]
    assert [(a.subject, a.state) for a in alarms] == [(f"visit:{invited.id}", AlertState.FIRING)]
    gate.goto(f"{served.url}/gate")
    expect(gate.locator("main")).to_contain_text("闭门时访客仍在校内")
    expect(gate.locator("main")).to_contain_text("周**")
    assert overflow_x(gate) == 0
    screenshot(gate, "visitors-closing-alarm")

    gate.goto(f"{served.url}/visitors")
    gate.locator(f"#visit-{invited.id} [data-action=check-out]").click()
    alarm_id = alarms[0].id
    assert alarm_id is not None
    wait_for(lambda: (found := served.hub.state.alert(alarm_id)) is not None and found.state is AlertState.RESOLVED)
