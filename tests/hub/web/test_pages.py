"""Each view per role: what it shows, what it hides, escaping, both languages, and refusals."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.alerts.kinds import AlertState
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.users import User
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.hub.auth_helpers import authorize
from tests.hub.web.conftest import Feed

HTML = {"Accept": "text/html"}
PAGES = ("/canteen", "/gate", "/safety")


def _close_alert(hub: Hub, feed: Feed, who: str, text: str = "已报修") -> int:
    """An alarm that fired, cleared, and got its corrective action from ``who``."""
    feed.reading("fridge-1", 12.5)
    (alert,) = hub.state.alerts([AlertState.FIRING])
    assert alert.id is not None
    feed.reading("fridge-1", 4.0)
    hub.engine.act(alert.id, "close", who, text)
    return alert.id


def test_signed_out_browser_goes_to_the_login_form(client: TestClient) -> None:
    response = client.get("/canteen", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2Fcanteen")
    assert client.get("/api/stream").status_code == 401


@pytest.mark.parametrize(("role", "home"), [(Role.CANTEEN_STAFF, "/canteen"), (Role.CANTEEN_MANAGER, "/canteen"),
                                            (Role.GATEKEEPER, "/gate"), (Role.SAFETY_OFFICER, "/safety"),
                                            (Role.ADMIN, "/admin")])
def test_start_page_per_role(client: TestClient, as_role: Callable[[Role], User], role: Role, home: str) -> None:
    as_role(role)
    response = client.get("/", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == home


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_renders_in_both_languages(client: TestClient, hub: Hub, feed: Feed,
                                              as_role: Callable[[Role], User], role: Role, lang: str) -> None:
    feed.reading("fridge-1", 12.5)
    as_role(role)
    pages = [*PAGES, "/alerts/1"] + (["/admin"] if role is Role.ADMIN else [])
    for path in pages:
        response = client.get(path, params={"lang": lang}, headers=HTML)
        assert response.status_code == 200, (path, response.text)
        assert "⟦" not in response.text, (path, [ln for ln in response.text.splitlines() if "⟦" in ln])
        assert f'<html lang="{lang}">' in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<script>" not in response.text  # no inline script anywhere
    nav = client.get("/canteen", headers=HTML).text
    assert ('href="/admin"' in nav) is (role is Role.ADMIN)


def test_language_switch_sticks_in_a_cookie(client: TestClient, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.CANTEEN_STAFF)
    assert "冷藏设备" in client.get("/canteen", headers=HTML).text
    english = client.get("/canteen", params={"lang": "en"}, headers=HTML)
    assert "Cold units" in english.text and "xiaoan_lang=en" in english.headers["set-cookie"]
    assert "Cold units" in client.get("/canteen", headers=HTML).text


def test_canteen_shows_units_alarm_and_samples(client: TestClient, hub: Hub, feed: Feed,
                                               as_role: Callable[[Role], User]) -> None:
    feed.reading("fridge-1", 12.5)
    feed.reading("freezer-1", -18.0)
    cook = as_role(Role.CANTEEN_STAFF)
    created = client.post("/api/samples", json={"meal": "lunch", "placed_by": cook.username,
                                                "dishes": [{"name": "红烧肉", "weight_g": 150},
                                                           {"name": "青菜", "weight_g": 90,
                                                            "short_reason": "菜已打完"}]})
    assert created.status_code == 201, created.text
    page = client.get("/canteen", headers=HTML).text
    assert 'data-sensor="dev-a/fridge-1"' in page and "1号冷藏柜" in page
    assert "12.5" in page and "偏高" in page and "▲" in page  # colour plus word plus icon
    assert "0 … 8 °C" in page and "<polyline" in page
    assert "-18.0" in page and "≤ -12 °C" in page
    assert "报警中" in page and 'data-api="/api/alerts/1/acknowledge"' in page
    assert "红烧肉" in page and "不足量" in page  # 90 g is under the 125 g minimum
    assert 'data-api="/api/samples"' in page  # staff may log samples
    assert "修改范围" not in page  # but not change limits
    part = client.get("/canteen", params={"part": "alarms"}, headers=HTML)
    assert part.status_code == 200 and "<html" not in part.text and "alert-1" in part.text
    assert client.get("/canteen", params={"part": "nope"}, headers=HTML).status_code == 404


def test_stored_text_is_escaped(client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    feed.status([{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge",
                  "name": "<script>alert(1)</script>"}])
    as_role(Role.SAFETY_OFFICER)
    _close_alert(hub, feed, "staff", text='<img src=x onerror="alert(2)">')
    for path in ("/canteen", "/safety", "/alerts/1"):
        page = client.get(path, headers=HTML).text
        assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=" in client.get("/safety", headers=HTML).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/canteen", headers=HTML).text


def test_actions_follow_the_role(client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    alert_id = _close_alert(hub, feed, "someone-else")
    as_role(Role.GATEKEEPER)
    gate_view = client.get("/canteen", headers=HTML).text
    assert "修改范围" not in gate_view and "/limits" not in gate_view
    assert 'data-api="/api/samples"' not in gate_view
    assert f"/api/alerts/{alert_id}/verify" not in client.get("/safety", headers=HTML).text
    assert client.get("/admin", headers=HTML).status_code == 403
    as_role(Role.CANTEEN_MANAGER)
    assert 'data-method="PUT"' in client.get("/canteen", headers=HTML).text
    as_role(Role.SAFETY_OFFICER)
    safety = client.get("/safety", headers=HTML).text
    assert f'data-api="/api/alerts/{alert_id}/verify"' in safety
    assert "签字确认本周" in safety and "/api/reports/weekly.pdf" in safety


def test_own_corrective_action_is_flagged_and_refused(client: TestClient, hub: Hub, feed: Feed,
                                                      as_role: Callable[[Role], User]) -> None:
    officer = as_role(Role.SAFETY_OFFICER)
    alert_id = _close_alert(hub, feed, officer.username)
    page = client.get("/safety", headers=HTML).text
    assert "记录纠正措施的人不能验收自己的措施" in page
    refused = client.post(f"/api/alerts/{alert_id}/verify", json={"text": "ok"})
    assert refused.status_code == 409 and "cannot verify" in refused.json()["detail"]


def test_safety_history_filters(client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    feed.reading("fridge-1", 12.5)
    as_role(Role.SAFETY_OFFICER)
    found = client.get("/safety", params={"part": "history", "kind": "temperature"}, headers=HTML).text
    assert "/alerts/1" in found
    assert "/alerts/1" not in client.get("/safety", params={"part": "history", "kind": "gate"}, headers=HTML).text
    assert "/alerts/1" not in client.get("/safety", params={"part": "history", "state": "verified"},
                                         headers=HTML).text
    assert "/alerts/1" not in client.get("/safety", params={"part": "history", "from": "2001-01-01",
                                                            "to": "2001-01-07"}, headers=HTML).text
    bad = client.get("/safety", params={"from": "2024-02-02", "to": "2024-02-01"}, headers=HTML)
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "to"


def test_admin_page_lists_devices_sensors_users(client: TestClient, hub: Hub, feed: Feed,
                                                as_role: Callable[[Role], User]) -> None:
    admin = as_role(Role.ADMIN)
    page = client.get("/admin", headers=HTML).text
    assert "dev-a" in page and "1.2.3" in page and "在线" in page
    assert "dev-a/freezer-1" in page and admin.username in page
    assert 'data-api="/api/users"' in page and "未配置通知渠道" in page
    # Escalation in words, not config ids ("cold_chain … → canteen_manager").
    assert "冷链（冰箱、冷冻柜、留样）" in page and "10 分钟无人确认，再通知食堂负责人" in page
    assert "<strong>cold_chain</strong>" not in page and "→ canteen_manager" not in page


def test_gate_page(client: TestClient, hub: Hub, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.GATEKEEPER)
    page = client.get("/gate", headers=HTML).text
    assert "大门与门禁" in page and "今日巡查" in page and "尚无关门检查记录" in page
    for part in ("gates", "alarms", "patrols"):
        assert client.get("/gate", params={"part": part}, headers=HTML).status_code == 200


def test_the_week_is_shown_in_words(client: TestClient, feed: Feed, as_role: Callable[[Role], User]) -> None:
    as_role(Role.SAFETY_OFFICER)
    page = client.get("/safety", headers=HTML).text
    assert re.search(r"第 \d+ 周（\d+ 月 \d+ 日–\d+ 月 \d+ 日）", page)
    assert not re.search(r"周报 \d{4}-W\d{2}", page)


def test_the_hubs_banner_is_on_every_page(tmp_path: Path) -> None:
    hub = Hub(HubSettings(home=tmp_path, banner="演示：报警延时已缩短"), connect_mqtt=False)
    try:
        with TestClient(create_app(hub.settings, hub=hub)) as client:
            authorize(client, hub, Role.GATEKEEPER)
            assert "演示：报警延时已缩短" in client.get("/gate", headers=HTML).text
    finally:
        hub.stop()
