"""The district admin's page (账号与学校管理): accounts made and disabled, schools registered, the account log.

Only an admin reaches it (any other signed-in account gets 403); every form carries the
session's CSRF token and is done as the signed-in admin, never as a name in the form.
A token made here is shown once, on the answer to the form that made it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from hub.district import accounts, sessions
from hub.district.api import SettingsDep, StoreDep
from hub.district.inspectors import DistrictRole, Inspector
from hub.district.pages import PageInspector, checked_form, passwords, render
from hub.district.settings import DistrictSettings
from hub.district.store import COMMAND_LINE, DistrictStore

router = APIRouter()
ACCOUNTS = "/district/accounts"
_ROLES = {DistrictRole.INSPECTOR.value: "督查员", DistrictRole.ADMIN.value: "系统管理员"}
_ACTIONS = {"account.added": "新建账号", "account.disabled": "停用账号", "site.added": "登记学校"}
#: The form's fields given back on a refusal (never the password).
_KEPT = ("name", "display_name", "role", "sites", "site", "school_name")


def page_admin(who: PageInspector) -> Inspector:
    """The signed-in admin; any other account is a 403 (it is signed in, just not allowed)."""
    if not who.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "district admins only · 仅限系统管理员")
    return who


PageAdmin = Annotated[Inspector, Depends(page_admin)]
NameParam = Annotated[str, Path(max_length=64)]


def _page(request: Request, store: DistrictStore, settings: DistrictSettings, who: Inspector, code: int = 200,
          error: str = "", form: dict[str, str] | None = None, issued: dict[str, str] | None = None) -> HTMLResponse:
    kept = {key: (form or {}).get(key, "") for key in _KEPT}
    return render(request, settings, "accounts.html", who, code, title="账号管理", accounts=accounts.accounts(store),
                  log=accounts.log(store), roles=_ROLES, actions=_ACTIONS, form=kept, issued=issued, error=error,
                  min_password=sessions.MIN_PASSWORD, command_line=COMMAND_LINE)


async def _answer(request: Request, store: DistrictStore, settings: DistrictSettings, who: Inspector,
                  form: dict[str, str], work: Callable[[], str], issued: dict[str, str]) -> HTMLResponse:
    """Do ``work`` (it returns a token); the page with the token shown once, or with the refusal naming the field."""
    try:
        issued["token"] = await run_in_threadpool(work)
    except ValueError as error:
        return await run_in_threadpool(_page, request, store, settings, who, 422, str(error), form)
    return await run_in_threadpool(_page, request, store, settings, who, 200, "", None, issued)


@router.get(ACCOUNTS, response_class=HTMLResponse)
def accounts_page(request: Request, store: StoreDep, settings: SettingsDep, who: PageAdmin) -> HTMLResponse:
    return _page(request, store, settings, who)


@router.post(ACCOUNTS, response_class=HTMLResponse)
async def make_account(request: Request, store: StoreDep, settings: SettingsDep, who: PageAdmin) -> Response:
    form = await checked_form(request)
    name, role = form.get("name", "").strip(), form.get("role", "")
    if role not in _ROLES:
        return await run_in_threadpool(_page, request, store, settings, who, 422, "role: 请选择角色", form)
    sites = [site for site in re.split(r"[\s,，、]+", form.get("sites", "")) if site]

    def work() -> str:
        return accounts.make_account(store, passwords(request), who, name, form.get("display_name", ""),
                                     DistrictRole(role), sites, form.get("password", ""))

    return await _answer(request, store, settings, who, form, work,
                         {"what": "已新建账号", "name": name, "whom": "本人"})


@router.post(ACCOUNTS + "/{name}/disable", response_class=HTMLResponse)
async def disable_account(request: Request, store: StoreDep, settings: SettingsDep, who: PageAdmin,
                          name: NameParam) -> Response:
    await checked_form(request)
    try:
        await run_in_threadpool(accounts.disable, store, who, name)
    except ValueError as error:
        return await run_in_threadpool(_page, request, store, settings, who, 422, str(error))
    return RedirectResponse(ACCOUNTS, status.HTTP_303_SEE_OTHER)


@router.post("/district/schools", response_class=HTMLResponse)
async def register_school(request: Request, store: StoreDep, settings: SettingsDep, who: PageAdmin) -> Response:
    form = await checked_form(request)
    site = form.get("site", "").strip()

    def work() -> str:
        return store.add_site(site, form.get("school_name", ""), created_by=who.name)

    return await _answer(request, store, settings, who, form, work,
                         {"what": "已登记学校", "name": site, "whom": "该校 hub 的管理员（填入 hub 的区县设置）"})
