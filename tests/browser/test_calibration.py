"""The admin checks a probe on a phone: live reading, the average over the window, the proposed offset, confirmed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from hub.auth.roles import Role
from hub.calibration.config import CalibrationConfig
from hub.settings import HubConfig
from tests.browser.conftest import DEVICE, Served, overflow_x, screenshot

PROBE_VALUE = 4.2
REFERENCE = 3.9


@pytest.fixture
def hub_rules() -> HubConfig:
    # A short window, so the page fills it within the test, but long enough that readings taking a
    # second longer than usual to be stored (a loaded machine) still span three quarters of it.
    return HubConfig(alarm_delay_s=0, calibration=CalibrationConfig(window_s=5.0))


@pytest.fixture
def probe_readings(served: Served) -> Iterator[None]:
    """The fridge probe reports every 0.2 s, as a DS18B20 source would, until the test ends."""
    stop = threading.Event()

    def report() -> None:
        while not stop.is_set():
            served.device.reading("fridge-1", PROBE_VALUE)
            stop.wait(0.2)

    thread = threading.Thread(target=report, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def test_admin_checks_a_probe_against_a_reference_thermometer(
        served: Served, open_page: Callable[[Role], Page], probe_readings: None) -> None:
    page = open_page(Role.ADMIN)
    page.goto(f"{served.url}/admin")
    page.locator("[data-calibration-link]").click()
    tile = page.locator(f"[data-probe='{DEVICE}/fridge-1']")
    expect(tile).to_contain_text("从未校准")
    tile.get_by_text("校准此探头").click()

    card = page.locator("[data-calibrate]")
    card.locator("select[name=method]").select_option("reference")
    card.locator("input[name=certificate_no]").fill("JL-2026-0815")
    expect(card.locator("[data-live-value]")).to_have_text("4.20")
    propose = card.locator("[data-propose]")
    expect(propose).to_be_enabled()  # the window is full
    expect(card.locator("[data-live-average]")).to_have_text("4.20")
    card.locator("input[name=reference]").fill(str(REFERENCE))
    propose.click()
    expect(card.locator("[data-proposal]")).to_contain_text("建议修正值 -0.30 °C")
    expect(card.locator("[data-proposal]")).to_contain_text("合格")
    card.locator("input[name=note]").fill("冷藏柜中层")
    card.locator("[data-confirm]").click()
    expect(card.locator("[data-recorded]")).to_contain_text("已记录，修正值已下发到设备")
    expect(card.locator("[data-certificate-form]")).to_be_visible()
    assert overflow_x(page) == 0
    screenshot(page, "admin-calibration")

    (check,) = served.hub.calibration.store.checks()
    assert check.checked_by == served.users[Role.ADMIN] and check.certificate_no == "JL-2026-0815"
    assert check.offset == pytest.approx(REFERENCE - PROBE_VALUE) and check.passed and check.offset_sent
