"""A school's whole setup on a phone, as its IT teacher does it: no shell from the first device to the first alarm.

The admin adds a device on the page and takes its install command; the command's link
gives the config, which a real edge agent runs (its probes on a 1-wire fixture tree and
its pins on gpiozero's mock factory stand in for the Pi's hardware, its state directory
for ``/var/lib/xiaoan-edge``); the device's sensors appear on the page, one is named and
made a freezer, and a WeCom-style webhook on this machine receives the test message.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from playwright.sync_api import Page, expect

from edge.agent import Agent
from edge.clock import SystemClock
from edge.configfile import load_edge_settings
from edge.sources.base import SourceContext
from hub.auth.roles import Role
from hub.broker import find_dynsec_plugin
from tests.browser.conftest import Served, overflow_x, screenshot
from tests.browser.test_admin_setup import add_webhook_and_receive_the_test_message
from tests.conftest import SITE, wait_for
from tests.edge.conftest import W1_OK, write_probe

pytestmark = pytest.mark.skipif(find_dynsec_plugin() is None, reason="mosquitto's dynamic security plugin")

#: The probes of the cold-chain example a page-added device's config carries (firmware-config/devices/).
PROBES = {"28-0316a2792bff": 4.0, "28-0416a27a11ff": -18.5}


@pytest.fixture
def agents() -> Iterator[Callable[[Agent], None]]:
    running: list[tuple[Agent, threading.Thread]] = []

    def run(agent: Agent) -> None:
        thread = threading.Thread(target=agent.run, name="edge", daemon=True)
        thread.start()
        running.append((agent, thread))

    yield run
    for agent, thread in running:
        agent.stop()
        thread.join(timeout=10)


def test_a_device_added_on_the_page_runs_its_install_config_and_its_sensors_are_set_up_there(
        served: Served, open_page: Callable[[Role], Page], agents: Callable[[Agent], None], tmp_path: Path) -> None:
    hub = served.hub
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    page.get_by_text("添加设备", exact=False).first.click()
    form = page.locator("form[data-api='/api/devices/enrolled']")
    # The broker is the session's: a name no other test adds, or its account would already exist there.
    form.locator("input[name=name]").fill("first-pi")
    form.locator("input[name=site]").fill(SITE)
    form.locator("select[name=role]").select_option("cold_chain")
    form.locator("button[type=submit]").click()
    command = page.locator("[data-enrol-command]")
    expect(command).to_contain_text("curl -fsS")

    # What the install command does on the Pi: fetch the config once and install it as /etc/xiaoan/edge.yaml.
    link = re.search(r"(http://\S+/api/devices/enrol/[A-Za-z0-9_-]+)", command.inner_text())
    assert link, command.inner_text()
    installed = tmp_path / "etc-xiaoan" / "edge.yaml"
    installed.parent.mkdir()
    with urllib.request.urlopen(link.group(1)) as answer:  # noqa: S310 - the hub under test, on loopback
        installed.write_bytes(answer.read())
    settings = load_edge_settings(installed)
    assert settings.device == "first-pi" and settings.site == SITE
    for probe, celsius in PROBES.items():
        write_probe(tmp_path / "w1", probe, W1_OK.format(milli=int(celsius * 1000)))
    agents(Agent(settings.model_copy(update={"state_dir": tmp_path / "edge-state"}), SystemClock("assume"),
                 context=SourceContext(pin_factory=MockFactory(), w1_base=str(tmp_path / "w1"))))
    wait_for(lambda: {"first-pi/fridge-1", "first-pi/freezer-1"} <= {s["key"] for s in hub.state.sensors()})
    wait_for(lambda: bool(hub.series.readings("first-pi/freezer-1", 0, time.time() + 60)))

    # Its sensors on the page, to be set up: the freezer probe named and made a freezer.
    page.goto(f"{served.url}/admin")
    freezer = page.locator("[data-part=setup_sensors] form[data-sensor='first-pi/freezer-1']")
    expect(freezer).to_have_count(1)
    freezer.locator("input[name=name]").fill("1号冷冻柜（主厨房）")
    freezer.locator("select[name=role]").select_option("cold_unit")
    freezer.locator("select[name=profile]").select_option("freezer")
    freezer.locator("button[type=submit]").click()
    wait_for(lambda: hub.engine.name("first-pi/freezer-1") == "1号冷冻柜（主厨房）")

    add_webhook_and_receive_the_test_message(page, served)
    assert overflow_x(page) == 0
    screenshot(page, "admin-first-device")
    admin = served.users[Role.ADMIN]
    audited = {(e.action, e.actor) for e in hub.state.audit_entries()}
    assert ("setup.sensor", admin) in audited
