"""The page forms for silences, calendar overrides, passwords and the sign-in page: who sees them, CSRF, escaping."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from edge import wire
from hub.alerts.config import AlertsConfig, MaintenanceWindow
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.users import User
from hub.gate.monitor import AFTER_HOURS_RULE
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.base import StoredReading
from hub.store.sqlite_series import SqliteSeriesStore
from hub.web.sparks import HourlyCache
from tests.hub.auth_helpers import PASSWORD, bearer, csrf_headers, login, make_user
from tests.hub.gate.conftest import GATES, SHANGHAI, hub_config
from tests.hub.web.conftest import Feed

HTML = {"Accept": "text/html"}
LATER = time.time() + 86_400.0  # within the longest silence allowed (7 days)
EVIL = '<script>alert("x")</script>'
ESCAPED = str(escape(EVIL))


def _hidden_csrf(page: str) -> set[str]:
    return set(re.findall(r'name="csrf_token" value="([0-9a-f]*)"', page))


# -- silences ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "page", "shown"), [
    (Role.CANTEEN_MANAGER, "/canteen", True), (Role.SAFETY_OFFICER, "/safety", True), (Role.ADMIN, "/admin", True),
    (Role.CANTEEN_STAFF, "/canteen", False), (Role.GATEKEEPER, "/canteen", False), (Role.GATEKEEPER, "/safety", False),
])
def test_the_silence_form_follows_silence_edit(client: TestClient, feed: Feed, as_role: Callable[[Role], User],
                                               role: Role, page: str, shown: bool) -> None:
    as_role(role)
    body = client.get(page, headers=HTML).text
    assert ('data-api="/api/silences"' in body) is shown
    units = re.search(r'<datalist id="silence-units">(.*?)</datalist>', body, re.S)
    assert (units is not None and '<option value="dev-a/fridge-1">1号冷藏柜</option>' in units[1]) is shown
    part = client.get(page, params={"part": "silences"}, headers=HTML)
    assert part.status_code == (200 if shown else 404)


def test_a_silence_is_listed_escaped_and_ended_from_the_page(client: TestClient, hub: Hub, feed: Feed) -> None:
    _, manager = bearer(hub, Role.CANTEEN_MANAGER)
    _, staff = bearer(hub, Role.CANTEEN_STAFF)
    created = client.post("/api/silences", json={"subject": "dev-a/*", "rules": ["temperature_limits"],
                                                 "ends_at": LATER, "reason": EVIL}, headers=manager)
    assert created.status_code == 201, created.text
    silence_id = created.json()["id"]
    part = client.get("/canteen", params={"part": "silences"}, headers={**HTML, **manager}).text
    assert "<html" not in part and "dev-a/*" in part and "temperature_limits" in part
    assert EVIL not in part and ESCAPED in part
    assert f'data-api="/api/silences/{silence_id}" data-method="DELETE"' in part
    assert client.delete(f"/api/silences/{silence_id}", headers=staff).status_code == 403
    assert client.delete(f"/api/silences/{silence_id}", headers=manager).status_code == 204
    after = client.get("/canteen", params={"part": "silences"}, headers={**HTML, **manager}).text
    assert "没有生效的暂停提醒" in after and "dev-a/*" not in after


def test_a_silence_naming_no_rule_is_refused(client: TestClient, hub: Hub) -> None:
    """"temperature" is a kind, not a rule: such a silence silenced nothing while the page listed it as in force."""
    _, manager = bearer(hub, Role.CANTEEN_MANAGER)
    refused = client.post("/api/silences", json={"subject": "dev-a/*", "rules": ["temperature"], "ends_at": LATER},
                          headers=manager)
    assert refused.status_code == 422, refused.text
    assert "rules" in refused.text
    assert hub.state.silences(0.0) == []


def test_configured_maintenance_windows_cannot_be_ended_here(tmp_path: Path) -> None:
    defrost = MaintenanceWindow(subject="dev-a/*", start=dt.time(2), end=dt.time(3), reason="除霜")
    rules = HubConfig(alerts=AlertsConfig(maintenance=[defrost]))
    hub = Hub(HubSettings(home=tmp_path, rules=rules), connect_mqtt=False)
    try:
        with TestClient(create_app(hub.settings, hub=hub)) as client:
            _, officer = bearer(hub, Role.SAFETY_OFFICER)
            part = client.get("/safety", params={"part": "silences"}, headers={**HTML, **officer}).text
            assert "除霜" in part and "配置文件中设定" in part and 'data-method="DELETE"' not in part
    finally:
        hub.stop()


def test_page_forms_carry_the_sessions_csrf_token(client: TestClient, hub: Hub, feed: Feed) -> None:
    make_user(hub, Role.SAFETY_OFFICER, "li-officer", PASSWORD)
    token = login(client, "li-officer")
    page = client.get("/safety", headers=HTML).text
    assert 'data-api="/api/silences"' in page and 'data-api="/api/calendar/overrides"' in page
    assert _hidden_csrf(page) == {token}
    silence = {"subject": "dev-a/fridge-1", "ends_at": LATER, "reason": "维修"}
    assert client.post("/api/silences", json=silence).status_code == 403
    assert client.post("/api/silences", json=silence, headers=csrf_headers(token)).status_code == 201
    override = {"kind": "closed", "date": "2031-06-07", "reason": "高考"}
    assert client.post("/api/calendar/overrides", json=override).status_code == 403
    assert client.post("/api/calendar/overrides", json=override, headers=csrf_headers(token)).status_code == 201


# -- calendar overrides --------------------------------------------------------------------------


class GateFeed:
    """The gate device of the gate tests, publishing straight into the pipeline."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.seq = 0

    def send(self, channel: wire.Channel, body: dict[str, Any]) -> None:
        self.seq += 1
        self.hub.pipeline.process([Inbound(wire.topic("s", "gate-1", channel), json.dumps(body).encode(), self.seq,
                                           1, time.time())])

    def event(self, sensor: str, state: str, ts: float) -> None:
        self.send(wire.Channel.EVENT, {"device": "gate-1", "boot_id": "b", "seq": self.seq + 1, "ts": ts,
                                       "sensor": sensor, "kind": "gate", "state": state})


@pytest.fixture
def gate_hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=hub_config()), connect_mqtt=False)
    GateFeed(running).send(wire.Channel.STATUS, {"state": "online", "boot_id": "b", "ts": time.time(),
                                                  "sensors": GATES})
    yield running
    running.stop()


@pytest.fixture
def gate_client(gate_hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(gate_hub.settings, hub=gate_hub)) as test_client:
        yield test_client


@pytest.mark.parametrize(("role", "page", "shown"), [
    (Role.SAFETY_OFFICER, "/safety", True), (Role.ADMIN, "/admin", True),
    (Role.CANTEEN_MANAGER, "/safety", False), (Role.GATEKEEPER, "/safety", False),
])
def test_the_calendar_form_follows_calendar_edit(gate_client: TestClient, gate_hub: Hub, role: Role, page: str,
                                                 shown: bool) -> None:
    _, headers = bearer(gate_hub, role)
    body = gate_client.get(page, headers={**HTML, **headers}).text
    assert ('data-kind="override"' in body) is shown
    assert ('name="groups" value="main"' in body) is shown  # the door groups to tick
    part = gate_client.get(page, params={"part": "calendar"}, headers={**HTML, **headers})
    assert part.status_code == (200 if shown else 404)


def test_an_override_is_listed_escaped_and_deleted(gate_client: TestClient, gate_hub: Hub) -> None:
    _, officer = bearer(gate_hub, Role.SAFETY_OFFICER)
    _, gatekeeper = bearer(gate_hub, Role.GATEKEEPER)
    body = {"kind": "extra_windows", "date": "2031-05-20", "groups": ["main"],
            "windows": [{"start": "18:00", "end": "21:00"}], "reason": EVIL}
    assert gate_client.post("/api/calendar/overrides", json=body, headers=gatekeeper).status_code == 403
    created = gate_client.post("/api/calendar/overrides", json=body, headers=officer)
    assert created.status_code == 201, created.text
    override_id = created.json()["id"]
    part = gate_client.get("/safety", params={"part": "calendar"}, headers={**HTML, **officer}).text
    assert "当天增加开放时段" in part and "2031-05-20" in part and "18:00" in part
    assert EVIL not in part and ESCAPED in part
    assert f'data-api="/api/calendar/overrides/{override_id}" data-method="DELETE"' in part
    assert gate_client.delete(f"/api/calendar/overrides/{override_id}", headers=gatekeeper).status_code == 403
    assert gate_client.delete(f"/api/calendar/overrides/{override_id}", headers=officer).status_code == 204
    assert "没有在网页上添加的特殊日期" in gate_client.get("/safety", params={"part": "calendar"},
                                                   headers={**HTML, **officer}).text


def test_a_recurring_acknowledgement_becomes_an_override_with_one_button(gate_client: TestClient,
                                                                          gate_hub: Hub) -> None:
    _, gatekeeper = bearer(gate_hub, Role.GATEKEEPER)
    _, officer = bearer(gate_hub, Role.SAFETY_OFFICER)
    feed = GateFeed(gate_hub)
    today = dt.datetime.now(SHANGHAI).date()
    for back, minute in ((3, 40), (2, 45), (1, 52)):  # the milk van, three mornings running
        opened = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(5, minute), SHANGHAI).timestamp()
        feed.event("side-gate", "open", opened)
        feed.event("side-gate", "closed", opened + 120)
    for alert in [a for a in gate_hub.state.alerts() if a.rule == AFTER_HOURS_RULE]:
        acked = gate_client.post(f"/api/alerts/{alert.id}/acknowledge", json={"text": "送奶车", "reason": "delivery"},
                                 headers=gatekeeper)
        assert acked.status_code == 200, acked.text
    page = gate_client.get("/safety", headers={**HTML, **officer}).text
    assert "门卫多次确认的开门" in page and "05:25–06:10" in page and "“送货”" in page
    (value,) = re.findall(r'name="override" value="([^"]*)"', page)
    override = json.loads(html.unescape(value))  # exactly what the button posts
    assert override["kind"] == "extra_window" and override["groups"] == ["main"]
    assert gate_client.post("/api/calendar/overrides", json=override, headers=officer).status_code == 201
    after = gate_client.get("/safety", headers={**HTML, **officer}).text
    assert "门卫多次确认的开门" not in after and "每天固定增加的开放时段" in after
    gate_view = gate_client.get("/safety", headers={**HTML, **gatekeeper}).text
    assert 'name="override"' not in gate_view  # the gatekeeper has no calendar.edit


# -- passwords -----------------------------------------------------------------------------------


def test_an_admin_resets_a_password_from_the_users_table(client: TestClient, hub: Hub) -> None:
    worker = make_user(hub, Role.CANTEEN_STAFF, "wang-reset", PASSWORD)
    make_user(hub, Role.ADMIN, "root-reset", PASSWORD)
    token = login(client, "root-reset")
    page = client.get("/admin", headers=HTML).text
    assert f'data-api="/api/users/{worker.id}/password" data-kind="reset"' in page and "重置密码" in page
    assert _hidden_csrf(page) == {token}
    new = {"new_password": "Kq7mPz3xWv9rTa"}
    assert client.post(f"/api/users/{worker.id}/password", json=new).status_code == 403  # no CSRF token
    assert client.post(f"/api/users/{worker.id}/password", json=new, headers=csrf_headers(token)).status_code == 200
    _, staff = bearer(hub, Role.CANTEEN_STAFF)
    assert client.post(f"/api/users/{worker.id}/password", json=new, headers=staff).status_code == 403
    assert hub.accounts.authenticate("wang-reset", PASSWORD) is None
    assert hub.accounts.authenticate("wang-reset", new["new_password"]) is not None


@pytest.mark.parametrize("role", list(Role))
def test_everyone_changes_their_own_password_on_the_account_page(client: TestClient, hub: Hub, role: Role) -> None:
    user = make_user(hub, role, password=PASSWORD, display_name="<b>王</b>")
    token = login(client, user.username)
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200 and 'data-api="/api/me/password" data-kind="password"' in page.text
    assert "&lt;b&gt;王&lt;/b&gt;" in page.text and "<b>王</b>" not in page.text
    assert _hidden_csrf(page.text) == {token} and 'href="/account"' in page.text
    change = {"old_password": PASSWORD, "new_password": "a new password for " + role.value}
    assert client.post("/api/me/password", json=change).status_code == 403  # no CSRF token
    wrong = client.post("/api/me/password", json={**change, "old_password": "not my password"},
                        headers=csrf_headers(token))
    assert wrong.status_code == 403 and wrong.json()["detail"]["field"] == "old_password"
    assert client.post("/api/me/password", json=change, headers=csrf_headers(token)).status_code == 200
    assert hub.accounts.authenticate(user.username, change["new_password"]) is not None
    assert client.get("/account", params={"lang": "en"}, headers=HTML).text.count("Change password") >= 1


def test_signed_out_the_account_page_asks_to_sign_in(client: TestClient) -> None:
    response = client.get("/account", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Faccount"


# -- the sign-in page ----------------------------------------------------------------------------


def test_the_login_page_is_the_web_apps_own(client: TestClient, hub: Hub) -> None:
    page = client.get("/login", params={"next": "/safety"})
    assert page.status_code == 200
    assert '<link rel="stylesheet" href="/static/app.css">' in page.text and "<style>" not in page.text
    assert "<script>" not in page.text and 'data-user=""' in page.text
    assert "登录" in page.text and 'name="next" value="/safety"' in page.text
    assert 'href="/login?next=%2Fsafety&amp;lang=en"' in page.text  # the switch keeps where to go next
    english = client.get("/login", params={"next": "/safety", "lang": "en"})
    assert "Sign in" in english.text and '<html lang="en">' in english.text
    assert "xiaoan_lang=en" in english.headers["set-cookie"]
    refused = client.post("/login", data={"username": EVIL, "password": "not the password"})
    assert refused.status_code == 401 and EVIL not in refused.text and ESCAPED in refused.text
    assert "Sign in" in refused.text  # the language chosen on the form stays for its answer


# -- the tiles' hourly cache ---------------------------------------------------------------------


def test_hourly_cache_reads_completed_hours_once_per_ttl(tmp_path: Path) -> None:
    store = SqliteSeriesStore(tmp_path / "readings.sqlite3")
    try:
        now = 1_800_000_000.0 // 3600 * 3600 + 1800  # half past an hour
        since = now - 86_400
        store.write([StoredReading("d/t", now - h * 3600, 4.0 + h % 3) for h in range(30)], [])
        cache = HourlyCache(ttl_s=600)
        assert cache.hourly(store, "d/t", since, now) == store.hourly("d/t", since, now)
        store.write([StoredReading("d/t", now - 2 * 3600 + 60, 40.0)], [])  # a late upload into a completed hour
        store.write([StoredReading("d/t", now - 60, 8.0)], [])  # and a reading in the hour in progress
        later = now + 30
        cached = cache.hourly(store, "d/t", later - 86_400, later)
        fresh = store.hourly("d/t", later - 86_400, later)
        assert cached[-1] == fresh[-1]  # the hour in progress is always read
        assert cached[:-1] != fresh[:-1]  # the completed hour is the cached one, until the ttl
        expired = now + 601
        assert cache.hourly(store, "d/t", expired - 86_400, expired) == store.hourly("d/t", expired - 86_400,
                                                                                      expired)
        next_hour = now + 3600  # an hour completes: it joins the kept ones, and agrees with the store
        assert cache.hourly(store, "d/t", next_hour - 86_400, next_hour) == store.hourly(
            "d/t", next_hour - 86_400, next_hour)
    finally:
        store.close()


def test_the_canteen_page_uses_the_apps_cache(client: TestClient, hub: Hub, feed: Feed,
                                              as_role: Callable[[Role], User]) -> None:
    feed.reading("fridge-1", 4.5, time.time() - 7200)
    as_role(Role.CANTEEN_STAFF)
    assert "<polyline" in client.get("/canteen", headers=HTML).text
    cache = client.app.state.sparks  # type: ignore[attr-defined]
    assert isinstance(cache, HourlyCache) and cache.hourly(hub.series, "dev-a/fridge-1", time.time() - 86_400,
                                                           time.time())


def test_the_silence_forms_hint_says_the_configured_longest_silence(tmp_path: Path) -> None:
    """The hint said "7 days" whatever the safety officer set; it now says what the API will accept."""
    rules = HubConfig(alarm_delay_s=0, alerts=AlertsConfig(silence_max_s=3 * 86_400.0))
    hub = Hub(HubSettings(home=tmp_path, rules=rules), connect_mqtt=False)
    try:
        with TestClient(create_app(hub.settings, hub=hub)) as client:
            _, officer = bearer(hub, Role.SAFETY_OFFICER)
            chinese = client.get("/safety", headers={**HTML, **officer}).text
            assert "最长 3 天（安全员设定）" in chinese and "7 天" not in chinese
            english = client.get("/safety", params={"lang": "en"}, headers={**HTML, **officer}).text
            assert "at most 3 days after the start" in english
            too_long = client.post("/api/silences", headers=officer, json={
                "subject": "dev-a/*", "starts_at": time.time(), "ends_at": time.time() + 4 * 86_400.0})
            assert too_long.status_code == 422
    finally:
        hub.stop()
