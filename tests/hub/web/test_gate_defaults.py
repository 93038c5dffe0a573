"""Every gate is watched from the first minute: the pages say loudly when the default hours are unconfirmed,
and never "no after-hours events ✔" while a gate is watched by no rule."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.auth.users import User
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize
from tests.hub.web.conftest import Feed

GATES: list[dict[str, object]] = [{"sensor": "gate-east", "kind": "gate", "name": "东门"}]


def test_unconfirmed_defaults_are_loud_on_the_gate_and_admin_pages_until_an_admin_confirms(
        client: TestClient, hub: Hub, as_role: Callable[[Role], User]) -> None:
    Feed(hub, "gate-1").status(GATES)
    as_role(Role.GATEKEEPER)
    page = client.get("/gate").text
    assert 'data-defaults="unconfirmed"' in page and "正在使用默认开放时间" in page
    assert "06:30–08:30、11:30–13:30、16:30–18:30" in page and "东门" in page
    assert "管理员" in page  # who may confirm them
    assert "/api/calendar/defaults/confirm" not in page
    admin = as_role(Role.ADMIN)
    page = client.get("/admin").text
    assert 'data-defaults="unconfirmed"' in page and 'data-kind="defaults_confirm"' in page
    assert client.post("/api/calendar/defaults/confirm", json={}).status_code == 200
    page = client.get("/admin").text
    assert 'data-defaults="confirmed"' in page and "unconfirmed" not in page and admin.username in page
    as_role(Role.GATEKEEPER)
    part = client.get("/gate", params={"part": "defaults"}).text
    assert 'data-defaults="confirmed"' in part


@pytest.fixture
def unwatched_hub(tmp_path: Path) -> Iterator[Hub]:
    config = HubConfig()
    config.calendar.default_group.enabled = False
    running = Hub(HubSettings(home=tmp_path / "unwatched", rules=config), connect_mqtt=False)
    yield running
    running.stop()


def test_a_gate_no_rule_watches_is_never_shown_as_all_clear(unwatched_hub: Hub) -> None:
    Feed(unwatched_hub, "gate-1").status(GATES)
    with TestClient(create_app(unwatched_hub.settings, hub=unwatched_hub), base_url="http://hub.test") as client:
        authorize(client, unwatched_hub, Role.GATEKEEPER)
        page = client.get("/gate").text
        assert "近 24 小时没有非开放时间事件" in page and "✔ 近 24 小时" not in page
        assert "没有开放时间规则" in page and "东门" in page
        authorize(client, unwatched_hub, Role.ADMIN)
        page = client.get("/admin", params={"lang": "en"}).text
        assert "belong to no door group and there are no default opening hours" in page


def test_the_gate_acknowledgement_preselects_no_reason(client: TestClient, hub: Hub,
                                                       as_role: Callable[[Role], User]) -> None:
    feed = Feed(hub, "gate-1")
    feed.status(GATES)
    body = {"device": "gate-1", "boot_id": "b", "seq": 99, "ts": 1_794_927_600.0,  # 2026-11-17 23:00 Shanghai
            "sensor": "gate-east", "kind": "gate", "state": "open"}
    hub.pipeline.process([Inbound(wire.topic("s", "gate-1", wire.Channel.EVENT), json.dumps(body).encode(), 99, 1,
                                  0.0)])
    as_role(Role.GATEKEEPER)
    page = client.get("/gate").text
    assert '<option value="" selected disabled>— 请选择原因 —</option>' in page
    assert page.count(" selected") == 1  # the placeholder only
