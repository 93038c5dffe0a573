"""The admin adds a device on a phone and takes its install command; the command's link gives the config once."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest
import yaml
from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.broker import find_dynsec_plugin
from tests.browser.conftest import Served, overflow_x, screenshot

pytestmark = pytest.mark.skipif(find_dynsec_plugin() is None, reason="mosquitto's dynamic security plugin")


def test_admin_adds_a_device_and_sees_its_install_command(served: Served, open_page: Callable[[Role], Page]) -> None:
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    page.get_by_text("添加设备", exact=False).first.click()
    form = page.locator("form[data-api='/api/devices/enrolled']")
    form.locator("input[name=name]").fill("kitchen-pi")
    form.locator("input[name=site]").fill("test-site")
    form.locator("select[name=role]").select_option("cold_chain")
    form.locator("button[type=submit]").click()

    command = page.locator("[data-enrol-command]")
    expect(command).to_contain_text("curl -fsS")
    expect(page.locator("[data-enrol-qr]")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))
    expect(page.locator("[data-part=devices]")).to_contain_text("kitchen-pi")
    assert overflow_x(page) == 0
    screenshot(page, "admin-add-device")

    text = command.inner_text()
    url = re.search(r"(http://\S+/api/devices/enrol/[A-Za-z0-9_-]+)", text)
    assert url, text
    with urllib.request.urlopen(url.group(1)) as answer:  # noqa: S310 - the hub under test, on loopback
        config = yaml.safe_load(answer.read())
    assert config["device"] == "kitchen-pi" and config["broker"]["password"]
    assert config["broker"]["password"] not in page.content()
    with pytest.raises(urllib.error.HTTPError) as again:
        urllib.request.urlopen(url.group(1))  # noqa: S310
    assert again.value.code == 404
