"""A one-tap link on a phone: from the message a webhook received to an acknowledged alarm, without signing in.

The hub is served by uvicorn with the configuration ``xiaoan hub`` runs (so the access
log is the real one); the message reaches a loopback webhook through the dispatcher and
Apprise; Chromium at 360 px follows the link from that message.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from hub.app import create_app
from hub.auth.roles import Role
from hub.http_limits import server_config
from hub.runtime import Hub
from tests.browser.conftest import PHONE, _free_port, overflow_x, screenshot
from tests.conftest import wait_for
from tests.hub.auth_helpers import make_user
from tests.hub.notify.http_sink import HttpSink
from tests.hub.test_alarm_links import make_hub, status, telemetry


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Hub, HttpSink, str, Lines]]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with HttpSink() as sink:
        hub = make_hub(tmp_path, sink, public_url=url)
        make_user(hub, Role.CANTEEN_STAFF, "wang-cook", display_name="王师傅")
        config = server_config(create_app(hub.settings, hub=hub), hub.settings, host="127.0.0.1", port=port,
                               lifespan="on", timeout_graceful_shutdown=5)
        access = Lines()
        logging.getLogger("uvicorn.access").addHandler(access)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        try:
            wait_for(lambda: server.started, timeout=20)
            yield hub, sink, url, access
        finally:
            logging.getLogger("uvicorn.access").removeHandler(access)
            server.should_exit = True
            thread.join(timeout=15)
            hub.stop()


def test_a_link_from_the_message_acknowledges_on_a_phone_and_then_is_refused(
        browser: Browser, served: tuple[Hub, HttpSink, str, Lines]) -> None:
    hub, sink, url, access = served
    hub.pipeline.process([status("dev-a"), telemetry("dev-a", 1, 9.5, 1000.0)])
    assert hub.notifications.worker is not None
    hub.notifications.worker.dispatcher.pump()
    message = json.loads(sink.received[-1].body)["message"]
    found = re.search(re.escape(url) + r"(/link/(\d+)/([A-Za-z0-9_-]+))", message)
    assert found, message
    link, alert_id, token = found.group(1), int(found.group(2)), found.group(3)

    phone = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = phone.new_page()
        page.goto(url + link)
        expect(page.locator("main strong").first).to_contain_text("王师傅")
        page.get_by_role("button", name=re.compile("打开报警")).click()
        expect(page.get_by_role("heading", name=re.compile(f"报警 #{alert_id}"))).to_be_visible()
        page.fill("#ack-text", "已把食物移到 2 号冰箱")
        page.get_by_role("button", name=re.compile("确认 · Acknowledge")).click()
        expect(page.get_by_role("status")).to_contain_text("已确认")
        expect(page.locator("[data-acked-by]")).to_contain_text("王师傅")
        assert overflow_x(page) == 0
        screenshot(page, "alarm-link-acknowledged-360")
    finally:
        phone.close()
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_by == "wang-cook" and alert.data.get("via") == "link"

    again = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = again.new_page()
        page.goto(url + link)
        expect(page.get_by_role("alert")).to_contain_text("已经用过")
        expect(page.get_by_role("alert")).to_contain_text("used already")
        assert overflow_x(page) == 0
        screenshot(page, "alarm-link-refused-360")
    finally:
        again.close()
    wait_for(lambda: any(f"/link/{alert_id}/…" in line for line in access.lines), timeout=10)
    assert not any(token in line for line in access.lines)
