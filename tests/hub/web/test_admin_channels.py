"""Channels and routes from the admin page: saved in the database, versioned, secrets never shown again."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from hub.auth.roles import Role
from hub.auth.users import User
from hub.notify.config import AppriseChannelConfig
from hub.runtime import Hub
from tests.hub.notify.http_sink import HttpSink

SECRET = "k3y5ecretTOKENa1b2"


def _webhook(port: int, label: str = "厨房群") -> dict[str, object]:
    # A WeCom-style bot endpoint: the key travels in the URL's query, as in …/webhook/send?key=KEY.
    return {"kind": "webhook", "label": label, "url": f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key={SECRET}"}


def test_an_admin_adds_a_webhook_channel_and_the_endpoint_receives_the_test_message(
        client: TestClient, hub: Hub, as_role: Callable[[Role], User], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    as_role(Role.ADMIN)
    with HttpSink() as sink:
        added = client.put("/api/admin/notify/channels/kitchen", json=_webhook(sink.port))
        assert added.status_code == 200, added.text
        assert added.json()["changes"] == ["channels.kitchen", "channels.web", "routes.admin", "routes.canteen",
                                           "routes.canteen_manager", "routes.gatekeeper", "routes.safety_officer"]
        sent = client.post("/api/notifications/test", json={"channel": "kitchen"})
        assert sent.status_code == 200 and sent.json()["ok"] is True, sent.text
    assert len(sink.received) == 1
    assert sink.received[0].path.startswith("/cgi-bin/webhook/send?") and f"key={SECRET}" in sink.received[0].path
    assert "测试消息" in json.loads(sink.received[0].body)["title"]
    shown = client.get("/api/admin/notify")
    kitchen = next(c for c in shown.json()["channels"] if c["name"] == "kitchen")
    assert kitchen["kind"] == "webhook" and kitchen["label"] == "厨房群"
    assert kitchen["fields"] == {"host": "127.0.0.1", "url": "…a1b2"}
    page = client.get("/admin", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "⟦" not in page.text
    assert "厨房群" in page.text and "食堂员工" in page.text and "…a1b2" in page.text
    audit = client.get("/api/audit")
    for text in (added.text, sent.text, shown.text, page.text, audit.text, caplog.text):
        assert SECRET not in text
    assert any(entry["action"] == "notify.channel.added" for entry in audit.json()), audit.text


def test_the_settings_file_is_private_to_the_hub(hub: Hub) -> None:
    mode = stat.S_IMODE(os.stat(hub.settings.db_dir / "settings.sqlite3").st_mode)
    assert mode == 0o600


def test_a_bad_url_is_refused_naming_the_field(client: TestClient, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    refused = client.put("/api/admin/notify/channels/kitchen", json={"kind": "webhook", "url": "ftp://x/y"})
    assert refused.status_code == 422
    assert refused.json()["detail"]["field"] == "url"
    refused = client.put("/api/admin/notify/channels/kitchen", json={"kind": "sms", "port": "/dev/ttyUSB2",
                                                                     "numbers": ["13800138000"]})
    assert refused.status_code == 422 and refused.json()["detail"]["field"] == "numbers"
    assert client.get("/api/admin/notify").json()["version"] is None


def test_others_than_the_admin_are_refused(client: TestClient, as_role: Callable[[Role], User]) -> None:
    as_role(Role.SAFETY_OFFICER)
    assert client.get("/api/admin/notify").status_code == 403
    assert client.put("/api/admin/notify/channels/kitchen", json=_webhook(9)).status_code == 403


def test_a_route_in_use_keeps_its_channel_and_a_change_is_rolled_back(
        client: TestClient, hub: Hub, as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    first = client.put("/api/admin/notify/channels/kitchen", json=_webhook(9)).json()["id"]
    route = client.put("/api/admin/notify/routes/canteen", json={"always": ["web"], "fallback": ["kitchen"]})
    assert route.status_code == 200, route.text
    later = client.put("/api/admin/notify/channels/office",
                       json={"kind": "dingtalk", "token": "0123456789abcdef", "secret": "SEC0123456789"})
    assert later.status_code == 200, later.text
    refused = client.delete("/api/admin/notify/channels/kitchen")
    assert refused.status_code == 409 and refused.json()["detail"]["field"] == "name"
    undone = client.post(f"/api/admin/notify/versions/{route.json()['id']}/rollback")
    assert undone.status_code == 200, undone.text
    assert undone.json()["changes"] == ["routes.canteen"]
    config = hub.notifications.config
    assert config is not None and config.routes["canteen"].fallback == []
    assert set(config.channels) == {"web", "kitchen", "office"}  # the later change stays
    assert set(hub.notifications.channels) == {"web", "kitchen", "office"}  # in force without a restart
    assert client.post(f"/api/admin/notify/versions/{first}/rollback").json()["detail"]["field"] == "version"


def test_a_secret_left_empty_keeps_the_saved_one(client: TestClient, hub: Hub,
                                                  as_role: Callable[[Role], User]) -> None:
    as_role(Role.ADMIN)
    client.put("/api/admin/notify/channels/kitchen", json=_webhook(9))
    changed = client.put("/api/admin/notify/channels/kitchen", json={"kind": "webhook", "label": "新名字", "url": ""})
    assert changed.status_code == 200, changed.text
    config = hub.notifications.config
    assert config is not None
    spec = config.channels["kitchen"]
    assert isinstance(spec, AppriseChannelConfig)
    assert spec.label == "新名字" and spec.urls == [f"json://127.0.0.1:9/cgi-bin/webhook/send?-key={SECRET}"]

