"""The district's pages for people: sign in, every school at a glance, a school, a week's table with its signature.

Server-rendered, every value autoescaped (a school named ``<script>`` shows as text), no
script at all. They read what the JSON routes read (``overview``, ``compliance``,
``signoffs``) within the signed-in inspector's schools; the PDF, CSV and export links
lead to those routes, which take the same session cookie. Forms that change something
carry the session's CSRF token, and a form body is read only up to 16 KiB.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.auth.credentials import Passwords, csrf_for
from hub.district import compliance, overview, paper, sessions, signoffs
from hub.district.api import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SettingsDep,
    SiteParam,
    StoreDep,
    WeekParam,
    check_csrf,
    read_body,
    session_of,
    visible_school,
    week_span_or_422,
)
from hub.district.inspectors import Inspector
from hub.district.settings import DistrictSettings
from hub.safetext import typed_problem

router = APIRouter()
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(default=True), auto_reload=False)
#: A form body, at most (a name and a password, or a remark of 500 characters).
FORM_MAX_BYTES = 16 * 1024
_STATES = {"firing": "报警中", "acknowledged": "已确认", "resolved": "已恢复", "closed": "已处置"}
LOGIN = "/district/login"


def passwords(request: Request) -> Passwords:
    found: Passwords = request.app.state.passwords
    return found


async def form_fields(request: Request) -> dict[str, str]:
    body = await read_body(request, FORM_MAX_BYTES)
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    except ValueError:  # more fields than any of these forms has
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "too many form fields · 表单字段过多") from None
    return {k: v[0] for k, v in fields.items()}


async def checked_form(request: Request) -> dict[str, str]:
    """A form that changes something: its fields, once its CSRF token is the session's."""
    form = await form_fields(request)
    check_csrf(request, request.cookies.get(SESSION_COOKIE, ""), form.get(CSRF_FIELD))
    return form


async def page_inspector(request: Request, store: StoreDep) -> Inspector:
    """The signed-in inspector, or the sign-in page (a page is for a person: no token here)."""
    _, found = await session_of(request, store)
    if found is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "sign in first · 请先登录", headers={"Location": LOGIN})
    return found


PageInspector = Annotated[Inspector, Depends(page_inspector)]


def _last_week(tz: ZoneInfo, now: float) -> str:
    return compliance.week_key(dt.datetime.fromtimestamp(now, tz).date() - dt.timedelta(days=7))


def render(request: Request, settings: DistrictSettings, template: str, who: Inspector | None,
            code: int = 200, **values: Any) -> HTMLResponse:
    tz = ZoneInfo(settings.timezone)
    session_id = request.cookies.get(SESSION_COOKIE, "")

    def when_ts(ts: float | None) -> str:
        return dt.datetime.fromtimestamp(ts, tz).strftime("%m-%d %H:%M") if ts else "—"

    def when(moment: dt.datetime | None) -> str:
        return moment.astimezone(tz).strftime("%m-%d %H:%M") if moment else "从未"

    html = _ENV.get_template(template).render(
        district=settings.name, who=who, csrf=csrf_for(session_id) if session_id else "", when=when,
        when_ts=when_ts, states=_STATES, last_week=_last_week(tz, time.time()), **values)
    return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})


@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return render(request, settings, "login.html", None, title="登录", name="", error="")


@router.post(LOGIN, response_class=HTMLResponse)
async def login(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    form = await form_fields(request)
    name, password = form.get("name", "")[:64], form.get("password", "")[:200]
    result = await run_in_threadpool(sessions.sign_in, store, passwords(request), name, password)
    if result.outcome is sessions.SignIn.OK:
        answer = RedirectResponse("/district/", status.HTTP_303_SEE_OTHER)
        answer.set_cookie(SESSION_COOKIE, result.session_id, max_age=sessions.MAX_AGE_S, path="/district",
                          httponly=True, samesite="strict", secure=settings.secure_cookies)
        return answer
    locked = result.outcome is sessions.SignIn.LOCKED
    error = (f"连续输错 {sessions.MAX_FAILURES} 次，账号已锁定 {sessions.LOCK_S // 60} 分钟，请稍后再试" if locked
             else "账号或密码不正确")
    return render(request, settings, "login.html", None, 429 if locked else 401, title="登录", name=name,
                   error=error)


@router.post("/district/logout")
async def logout(request: Request, store: StoreDep) -> RedirectResponse:
    session_id = request.cookies.get(SESSION_COOKIE, "")[:100]
    if session_id:
        check_csrf(request, session_id, (await form_fields(request)).get(CSRF_FIELD))
        await run_in_threadpool(sessions.sign_out, store, session_id)
    answer = RedirectResponse(LOGIN, status.HTTP_303_SEE_OTHER)
    answer.delete_cookie(SESSION_COOKIE, path="/district")
    return answer


@router.get("/district/", response_class=HTMLResponse)
def schools_page(request: Request, store: StoreDep, settings: SettingsDep, who: PageInspector) -> HTMLResponse:
    return render(request, settings, "schools.html", who, title="全部学校", schools=overview.schools(store, who))


@router.get("/district/schools/{site}", response_class=HTMLResponse)
def school_page(request: Request, store: StoreDep, settings: SettingsDep, who: PageInspector,
                site: SiteParam) -> HTMLResponse:
    name = visible_school(store, who, site)
    tz = ZoneInfo(settings.timezone)
    now = dt.datetime.now(tz).replace(microsecond=0, tzinfo=None)
    return render(request, settings, "school.html", who, title=name, name=name, site=site,
                   alarms=overview.school_alarms(store, site), audit=overview.audit_copy(store, site),
                   export_start=(now - dt.timedelta(days=7)).isoformat(), export_end=now.isoformat())


def _week_page(request: Request, store: StoreDep, settings: DistrictSettings, who: Inspector, week: str,
               code: int = 200, error: str = "") -> HTMLResponse:
    start, end = week_span_or_422(week, settings)
    now = time.time()
    rows = compliance.weekly_table(store, who, start, end, now, settings.ack_on_time_s)
    monday = compliance.monday_of(week)
    over = end <= now  # the next week has begun: it can be shown, and this one signed
    return render(request, settings, "week.html", who, code, title=f"周汇总 {week}", week=week,
                   rows=[{"row": r, "look": paper.needs_a_look(r, start)} for r in rows],
                   signed=signoffs.week_signoffs(store, who.name, week), over=over, error=error,
                   previous=compliance.week_key(monday - dt.timedelta(days=7)),
                   next=compliance.week_key(monday + dt.timedelta(days=7)) if over else "")


@router.get("/district/weeks/{week}", response_class=HTMLResponse)
def week_page(request: Request, store: StoreDep, settings: SettingsDep, who: PageInspector,
              week: WeekParam) -> HTMLResponse:
    return _week_page(request, store, settings, who, week)


@router.post("/district/weeks/{week}/sign", response_class=HTMLResponse)
async def sign_week(request: Request, store: StoreDep, settings: SettingsDep, who: PageInspector,
                    week: WeekParam) -> Response:
    form = await checked_form(request)
    comment = form.get("comment", "").strip()
    _, end = week_span_or_422(week, settings)
    problem = ("审核意见最多 500 字" if len(comment) > 500 else typed_problem(comment)
               or ("本周尚未结束" if end > time.time() else None))
    if problem is None:
        try:
            await run_in_threadpool(signoffs.sign_week, store, who, week, comment)
        except signoffs.AlreadySigned:
            problem = "本周已签署"
    if problem is not None:
        return await run_in_threadpool(_week_page, request, store, settings, who, week, 422, problem)
    return RedirectResponse(f"/district/weeks/{week}", status.HTTP_303_SEE_OTHER)
