"""An inspector on a phone: signs in to the district's pages in Chromium, reads the schools, signs last week."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from hub.auth.credentials import Passwords
from hub.district import sessions
from hub.district.inspectors import DistrictRole, add_inspector
from hub.district.service import create_district_app
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from tests.browser.conftest import PHONE, _free_port, browser, overflow_x, playwright, screenshot  # noqa: F401
from tests.conftest import wait_for
from tests.district.helpers import two_schools_one_hot_fridge

pytestmark = [pytest.mark.postgres, pytest.mark.browser]

PASSWORD = "冷链-每日巡查-2026"


@pytest.fixture
def district_url(district_dsn: str) -> Iterator[str]:
    store = DistrictStore(district_dsn, "setup")
    two_schools_one_hot_fridge(store, "第二中学", "2号冷藏柜 11.5 °C")
    add_inspector(store, "li-wei", "李督学", [], all_sites=True)
    sessions.set_password(store, Passwords(), "li-wei", PASSWORD)
    store.close()
    port = _free_port()
    app = create_district_app(DistrictSettings(dsn=district_dsn, worker="browser", secure_cookies=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="district-uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_an_inspector_signs_in_on_a_phone_and_signs_last_week(browser: Browser, district_url: str) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{district_url}/district/")
        expect(page.get_by_role("heading", name="督查人员登录")).to_be_visible()
        page.get_by_label("账号").fill("li-wei")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="全部学校（2 所）")).to_be_visible()
        # The school with a hot fridge first; the wide table scrolls in its own box, not the page.
        expect(page.locator("tbody tr").first).to_contain_text("第二中学")
        assert overflow_x(page) == 0
        screenshot(page, "district-schools-phone")

        page.get_by_role("link", name="第二中学").click()
        expect(page.get_by_text("2号冷藏柜 11.5 °C")).to_be_visible()

        page.get_by_role("link", name="周汇总").click()
        expect(page.get_by_role("heading", name="每周食品安全汇总")).to_be_visible()
        page.get_by_label("审核意见（可不填）").fill("第二中学冷藏柜超温，已电话督促")
        page.get_by_role("button", name="签署本周汇总").click()
        expect(page.get_by_text("已签署：李督学（li-wei）")).to_be_visible()
        assert overflow_x(page) == 0
        screenshot(page, "district-week-signed-phone")

        page.get_by_role("button", name="退出").click()
        expect(page.get_by_role("heading", name="督查人员登录")).to_be_visible()
    finally:
        context.close()


def test_a_district_admin_makes_an_account_and_registers_a_school_on_a_phone(
        browser: Browser, district_url: str, district_dsn: str) -> None:  # noqa: F811
    store = DistrictStore(district_dsn, "setup")
    add_inspector(store, "bureau", "区教育局信息科", [], all_sites=True, role=DistrictRole.ADMIN)
    sessions.set_password(store, Passwords(), "bureau", PASSWORD)
    store.close()
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{district_url}/district/login")
        page.get_by_label("账号").fill("bureau")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.get_by_role("link", name="账号管理").click()
        expect(page.get_by_role("heading", name="账号与学校管理")).to_be_visible()
        page.get_by_label("账号（小写字母").fill("zhang")
        page.get_by_label("姓名 / 科室").fill("张督学")
        page.get_by_label("角色").select_option("inspector")
        page.get_by_label("负责学校").fill("school-a school-b")
        page.get_by_label("初始密码").fill("食安-周排查-2026")
        page.get_by_role("button", name="新建账号").click()
        expect(page.get_by_role("status")).to_contain_text("已新建账号：zhang")
        expect(page.locator("tbody tr", has_text="张督学")).to_contain_text("school-a、school-b")
        page.get_by_label("学校编号（").fill("school-c")
        page.get_by_label("学校名称").fill("第三小学")
        page.get_by_role("button", name="登记学校").click()
        expect(page.get_by_role("status")).to_contain_text("已登记学校：school-c")
        expect(page.locator("tbody tr", has_text="登记学校").first).to_contain_text("bureau登记学校school-c")
        assert overflow_x(page) == 0
        screenshot(page, "district-accounts-phone")
    finally:
        context.close()
