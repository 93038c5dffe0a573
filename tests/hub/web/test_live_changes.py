"""Live means live: limit edits, silences and interim actions reach the open pages without a reload.

Each change is published on the page stream (``/api/stream``'s broadcaster) as the event the
page's sections listen for (``data-refresh``), and the section the page then fetches shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.auth.users import User
from hub.runtime import Hub
from tests.hub.web.conftest import Feed

HTML = {"Accept": "text/html"}


def test_a_limit_edit_reaches_the_cooks_tile(client: TestClient, hub: Hub, feed: Feed,
                                              as_role: Callable[[Role], User]) -> None:
    feed.reading("fridge-1", 4.0)
    as_role(Role.CANTEEN_STAFF)
    page = client.get("/canteen", headers=HTML).text
    assert 'data-refresh="limits"' in page and "0 … 8 °C" in page
    events = hub.broadcaster.subscribe()
    as_role(Role.CANTEEN_MANAGER)
    assert client.put("/api/sensors/dev-a/fridge-1/limits", json={"low": 1, "high": 5}).status_code == 200
    assert [(e.kind, e.data) for e in events.drain()] == [("limits", {"sensor": "dev-a/fridge-1"})]
    as_role(Role.CANTEEN_STAFF)
    tiles = client.get("/canteen", params={"part": "tiles"}, headers=HTML).text
    assert "1 … 5 °C" in tiles and "0 … 8 °C" not in tiles


def test_silences_made_and_ended_reach_the_pages(client: TestClient, hub: Hub, feed: Feed,
                                                 as_role: Callable[[Role], User]) -> None:
    as_role(Role.CANTEEN_MANAGER)
    page = client.get("/canteen", headers=HTML).text
    assert 'data-part="silences" data-refresh="silences"' in page
    assert 'data-part="alarms" data-refresh="alert action silences"' in page
    events = hub.broadcaster.subscribe()
    created = client.post("/api/silences", json={"subject": "dev-a/fridge-1", "ends_at": time.time() + 3600,
                                                 "reason": "除霜"})
    assert created.status_code == 201, created.text
    assert client.delete(f"/api/silences/{created.json()['id']}").status_code == 204
    assert [e.kind for e in events.drain()] == ["silences", "silences"]


def test_pages_carry_the_schools_zone_for_times_shown_live(client: TestClient, hub: Hub, feed: Feed,
                                                           as_role: Callable[[Role], User]) -> None:
    as_role(Role.CANTEEN_STAFF)
    page = client.get("/canteen", headers=HTML).text
    assert f'data-tz="{hub.tz.key}"' in page
    script = client.get("/static/app.js").text
    assert 'timeZone: body.getAttribute("data-tz")' in script and "time.textContent = hm(data.ts)" in script


def test_the_gate_page_has_a_night_view_and_every_page_a_sound_switch(client: TestClient, hub: Hub,
                                                                     as_role: Callable[[Role], User]) -> None:
    as_role(Role.GATEKEEPER)
    page = client.get("/gate", headers=HTML).text
    assert "data-night" in page and "夜间模式" in page
    assert "data-sound" in page and "开启提示音" in page
    assert 'id="favicon"' in page and "/static/icon-alarm.svg" in page
    assert client.get("/static/icon-alarm.svg").status_code == 200
