"""The phone page: today's checklists with the hub's answers, the open work orders, text people typed as text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.api.pages import BOARD_ORDERS
from hub.app import create_app
from hub.auth.roles import Role
from hub.checks.kinds import Urgency
from hub.runtime import Hub
from tests.clock import Clock, local
from tests.hub.auth_helpers import authorize
from tests.hub.checks.conftest import MONDAY, announce, feed


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as test_client:
        yield test_client


def test_the_page_lists_due_checks_with_evidence_and_escapes_what_people_typed(
        client: TestClient, hub: Hub, clock: Clock) -> None:
    announce(hub)
    feed(hub, "fridge-1", [(local(f"{MONDAY} 01:00"), 3.0), (local(f"{MONDAY} 02:00"), 4.5)], seq=2)
    clock.set(f"{MONDAY} 12:00")
    hub.checks.report("<img src=x onerror=alert(1)>门锁坏", "实验楼", "", Urgency.NORMAL, actor="teacher")
    authorize(client, hub, Role.CANTEEN_STAFF)
    page = client.get("/checks", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.text
    assert "每日食品安全检查记录" in html and "门卫夜间巡查" in html
    assert "1号冷藏柜：3.0–4.5 °C，未超限" in html
    assert 'data-kind="checklist"' in html and 'href="/checks"' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;门锁坏" in html
    # A cook may not assign or accept: those forms are not shown.
    assert "/assign" not in html and "/accept" not in html
    part = client.get("/checks?part=board", headers={"Accept": "text/html"})
    assert part.status_code == 200 and "<html" not in part.text
    english = client.get("/checks?lang=en", headers={"Accept": "text/html"})
    assert "Checks this period" in english.text and "⟦" not in english.text


@pytest.mark.parametrize(("role", "home"), [(Role.CANTEEN_STAFF, "/canteen"), (Role.GATEKEEPER, "/gate"),
                                            (Role.SAFETY_OFFICER, "/safety")])
def test_each_role_home_page_links_to_the_checks(client: TestClient, hub: Hub, role: Role, home: str) -> None:
    authorize(client, hub, role)
    page = client.get(home, headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'class="button" href="/checks"' in page.text


def test_a_term_s_backlog_shows_the_overdue_first_and_the_rest_on_request(
        client: TestClient, hub: Hub, clock: Clock) -> None:
    clock.set(f"{MONDAY} 08:00")
    later = [hub.checks.report(f"不急的事 {n}", "操场", "", Urgency.LOW, actor="teacher").id
             for n in range(BOARD_ORDERS)]
    clock.set(f"{MONDAY} 09:00")
    urgent = hub.checks.report("配电箱冒烟", "教学楼", "", Urgency.HIGH, actor="teacher").id
    clock.set("2026-10-14 12:00")  # the urgent one is a day overdue; the others have days left
    authorize(client, hub, Role.SAFETY_OFFICER)
    page = client.get("/checks").text
    cards = re.findall(r'id="order-(\d+)"', page)
    assert len(cards) == BOARD_ORDERS and int(cards[0]) == urgent
    assert 'data-hidden-orders="1"' in page
    assert len(set(later) - {int(card) for card in cards}) == 1  # one of the orders due latest waits behind the link
    everything = client.get("/checks?orders=all").text
    assert len(re.findall(r'id="order-(\d+)"', everything)) == BOARD_ORDERS + 1
    assert "data-hidden-orders" not in everything
