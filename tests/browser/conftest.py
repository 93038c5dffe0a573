"""The real app in a real browser: uvicorn on a loopback port, a hub on the session's Mosquitto, Chromium.

Playwright drives Debian's own Chromium (``/usr/bin/chromium``); nothing is
downloaded. Screenshots go to ``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect, sync_playwright

from edge import wire
from edge.link import close_client, make_client
from hub.app import create_app
from hub.auth.roles import Role
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig
from tests.conftest import SITE, broker_settings, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
#: A phone held upright.
PHONE: ViewportSize = {"width": 360, "height": 740}
DEVICE = "dev-d"
SENSORS = [{"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "1号冷藏柜"},
           {"sensor": "freezer-1", "kind": "temperature", "profile": "freezer", "name": "2号冷冻柜"}]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Device:
    """An edge device's MQTT session, publishing what a Pi would."""

    def __init__(self, broker: MosquittoBroker, account: Account) -> None:
        self.seq = 0
        self.client = make_client(f"browser-{account.username}", broker_settings(broker, account), account.password)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, channel: wire.Channel, body: dict[str, object]) -> None:
        info = self.client.publish(wire.topic(SITE, DEVICE, channel), json.dumps(body), qos=1)
        info.wait_for_publish(10)

    def status(self, extra: list[dict[str, str]] | None = None) -> None:
        self.publish(wire.Channel.STATUS, {"state": "online", "boot_id": "browser", "ts": time.time(),
                                           "version": "0.9.1", "sensors": [*SENSORS, *(extra or [])]})

    def event(self, sensor: str, kind: str, state: str) -> None:
        self.seq += 1
        self.publish(wire.Channel.EVENT, {"device": DEVICE, "boot_id": "browser", "seq": self.seq, "ts": time.time(),
                                          "sensor": sensor, "kind": kind, "state": state})

    def reading(self, sensor: str, value: float) -> None:
        self.seq += 1
        self.publish(wire.Channel.TELEMETRY, {"device": DEVICE, "boot_id": "browser", "seq": self.seq, "readings": [
            {"sensor": sensor, "kind": "temperature", "value": value, "unit": "°C", "ts": time.time()}]})

    def close(self) -> None:
        close_client(self.client)


@dataclass
class Served:
    hub: Hub
    url: str
    device: Device
    users: dict[Role, str]


@pytest.fixture
def hub_rules() -> HubConfig:
    """The hub config the served app runs (a module may override this fixture)."""
    return HubConfig(alarm_delay_s=0)


@pytest.fixture
def served(make_hub: Callable[..., Hub], broker: MosquittoBroker, accounts: dict[str, Account],
           hub_rules: HubConfig) -> Iterator[Served]:
    hub = make_hub(rules=hub_rules)
    users = {}
    for role in Role:
        name = f"b-{role.value.replace('_', '-')}"
        hub.accounts.create_user(name, {"canteen_staff": "王师傅", "safety_officer": "李主任"}.get(role.value, name),
                                 role, password=PASSWORD)
        users[role] = name
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(hub.settings, hub=hub), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20)
    device = Device(broker, accounts[DEVICE])
    device.status()
    wait_for(lambda: len(hub.state.sensors()) == len(SENSORS))
    try:
        yield Served(hub, f"http://127.0.0.1:{port}", device, users)
    finally:
        device.close()
        server.should_exit = True
        thread.join(timeout=15)


# Module scope, not session: Playwright's sync API keeps an asyncio loop marked as running in
# the main thread while it is open, which would break every later test that calls asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # Other test suites share the machine: give the page time, the wait ends as soon as the condition holds.
    expect.set_options(timeout=15_000)
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def open_page(browser: Browser, served: Served) -> Iterator[Callable[[Role], Page]]:
    """A phone-sized page signed in as a role through the login form."""
    contexts = []

    def sign_in(role: Role) -> Page:
        context = browser.new_context(viewport=PHONE, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{served.url}/")
        page.fill("#username", served.users[role])
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("domcontentloaded")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def overflow_x(page: Page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    width: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return width
