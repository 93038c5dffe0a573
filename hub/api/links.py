"""One-tap links from alarm messages: open one alarm as the person the link was sent to, and act on it.

``GET /link/{alert}/{token}`` only says what the link is for (chat apps fetch links to
preview them; a preview must not use the link up). Its button posts back, which uses
the token (hub.auth.links) and sets a cookie limited to ``/link/{alert}`` and to a
quarter of an hour. With that cookie the alarm's page acknowledges it and records
interim actions — the only two things a link can do. Every refusal is a page in
Chinese and English. The token is in the path, which the access log redacts
(hub.http_limits).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.alerts.kinds import AlertKind, AlertState
from hub.alerts.lifecycle import INTERIM_STATES
from hub.api.deps import AccountsDep, AlertsDep, LinksDep, LiveDep, RowId, SettingsDep, StateDep
from hub.api.pages import RendererDep
from hub.auth.credentials import csrf_for
from hub.auth.deps import CSRF_FIELD, SESSION_COOKIE, same_origin
from hub.auth.links import LinkGrant, LinkRefusal, LinkRefused
from hub.auth.roles import Permission, allows
from hub.auth.users import attribution
from hub.errors import FieldError
from hub.gate.rules import ack_reason_refusal
from hub.web import views
from hub.web.render import Renderer

router = APIRouter(prefix="/link", tags=["links"], include_in_schema=False)

LINK_COOKIE = "xiaoan_link"
#: What each refusal says, and its status: a clear page, never a bare error.
_REFUSALS: dict[LinkRefusal, tuple[int, str, str]] = {
    LinkRefusal.UNKNOWN: (404, "这个链接无效。", "This link is not valid."),
    LinkRefusal.USED: (410, "这个链接已经用过了，每个链接只能用一次。",
                       "This link has been used already; each link works once."),
    LinkRefusal.EXPIRED: (410, "这个链接已过期。", "This link has expired."),
    LinkRefusal.OTHER_ALARM: (403, "这个链接不是这条报警的。", "This link is for another alarm."),
    LinkRefusal.OTHER_ACCOUNT: (403, "这个链接是发给别人的，而本浏览器登录的是另一个账号；链接已作废。",
                                "This link was sent to someone else and this browser is signed in as another"
                                " account; the link is now spent."),
}
_NO_SESSION = ("请重新点消息里的链接，或登录。", "Open the link in the message again, or sign in.")
_STATES = {AlertState.FIRING: "报警中 · firing", AlertState.ACKNOWLEDGED: "已确认 · acknowledged",
           AlertState.RESOLVED: "已恢复 · resolved", AlertState.CLOSED: "已关闭 · closed",
           AlertState.VERIFIED: "已验收 · verified", AlertState.CANCELLED: "已取消 · cancelled",
           AlertState.PENDING: "待定 · pending"}


def _refusal(web: Renderer, request: Request, alert_id: int, reason: LinkRefusal | None) -> HTMLResponse:
    status, zh, en = _REFUSALS[reason] if reason is not None else (403, *_NO_SESSION)
    return web.render("link.html", request, None, status_code=status, view="link", alert_id=alert_id,
                      refusal=reason.value if reason is not None else "no_session", refusal_zh=zh, refusal_en=en)


def _grant(links: LinksDep, request: Request, alert_id: int) -> tuple[LinkGrant, str] | None:
    """The link session on this alarm, of an account whose role may (still) acknowledge alarms."""
    session_id = request.cookies.get(LINK_COOKIE)
    grant = links.session(alert_id, session_id) if session_id else None
    if grant is None or not session_id or not allows(grant.user.role, Permission.ALERT_ACK):
        return None
    return grant, session_id


async def _checked_form(request: Request, session_id: str) -> None:
    """A link page's form: from this hub, carrying the link session's CSRF token."""
    sent = str((await request.form()).get(CSRF_FIELD) or "")
    if not same_origin(request) or not hmac.compare_digest(sent, csrf_for(session_id)):
        raise HTTPException(status_code=403, detail="cross-site request refused · 拒绝跨站请求")


_DONE = {"ack": "已确认 · Acknowledged", "action": "已记录 · Recorded"}


def _page(web: Renderer, request: Request, store: StateDep, engine: AlertsDep, accounts: AccountsDep,
          grant: LinkGrant, session_id: str, *, notice: str = "", error: str = "", status: int = 200) -> HTMLResponse:
    alert = store.alert(grant.alert_id)
    if alert is None:
        return _refusal(web, request, grant.alert_id, LinkRefusal.UNKNOWN)

    def person_of(username: str) -> str:
        user = accounts.user_by_name(username)
        return attribution(user.username, user.display_name) if user else username

    data: dict[str, Any] = {
        "alert": alert, "alert_id": alert.id, "title": f"报警 #{alert.id} · Alarm #{alert.id}",
        "where": engine.name(alert.subject), "state": _STATES.get(alert.state, alert.state.value),
        "person": attribution(grant.user.username, grant.user.display_name), "person_of": person_of,
        "can_ack": alert.acked_at is None and alert.state in (AlertState.FIRING, AlertState.RESOLVED),
        "needs_reason": alert.kind == AlertKind.GATE, "reasons": views.ACK_REASONS,
        "can_record": alert.state in INTERIM_STATES, "link_csrf": csrf_for(session_id),
        "actions": store.alert_actions([grant.alert_id]).get(grant.alert_id, []), "notice": notice, "error": error}
    return web.render("link.html", request, None, status_code=status, view="link",
                      headers={"Referrer-Policy": "same-origin"}, **data)


@router.get("/{alert_id}", response_class=HTMLResponse)
def link_alert(web: RendererDep, links: LinksDep, store: StateDep, engine: AlertsDep, accounts: AccountsDep,
               request: Request, alert_id: RowId, done: Literal["", "ack", "action"] = "") -> HTMLResponse:
    """The alarm a used link opened: its facts, acknowledge, record an interim action."""
    found = _grant(links, request, alert_id)
    if found is None:
        return _refusal(web, request, alert_id, None)
    return _page(web, request, store, engine, accounts, *found, notice=_DONE.get(done, ""))


def _done(alert_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"/link/{alert_id}?done={what}", status_code=303)


@router.post("/{alert_id}/acknowledge", response_class=HTMLResponse)
async def link_acknowledge(web: RendererDep, links: LinksDep, engine: AlertsDep, store: StateDep,
                           accounts: AccountsDep, request: Request, alert_id: RowId,
                           reason: Annotated[str, Form(max_length=64)] = "",
                           text: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Acknowledge the link's alarm as the link's person, audited "via link"."""
    found = _grant(links, request, alert_id)
    if found is None:
        return _refusal(web, request, alert_id, None)
    grant, session_id = found
    await _checked_form(request, session_id)
    alert = store.alert(alert_id)
    data: dict[str, object] = {"via": "link"}
    if alert is not None and alert.kind == AlertKind.GATE:
        refusal = ack_reason_refusal(reason, text)
        if refusal is not None:
            return _page(web, request, store, engine, accounts, grant, session_id, error=refusal[1], status=422)
        data |= {"ack_reason": reason.strip(), "ack_reason_chosen": True}
    try:
        engine.act(alert_id, "acknowledge", grant.user.username, text, data=data)
    except FieldError as refused:  # LifecycleError too: already acknowledged, no longer firing
        return _page(web, request, store, engine, accounts, grant, session_id, error=refused.message,
                     status=refused.status or 409)
    except KeyError:
        return _refusal(web, request, alert_id, LinkRefusal.UNKNOWN)
    return _done(alert_id, "ack")


@router.post("/{alert_id}/actions", response_class=HTMLResponse)
async def link_interim_action(web: RendererDep, links: LinksDep, engine: AlertsDep, store: StateDep,
                              accounts: AccountsDep, live: LiveDep, request: Request, alert_id: RowId,
                              text: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Record an interim action on the link's alarm as the link's person."""
    found = _grant(links, request, alert_id)
    if found is None:
        return _refusal(web, request, alert_id, None)
    grant, session_id = found
    await _checked_form(request, session_id)
    try:
        engine.record_action(alert_id, grant.user.username, text)
    except FieldError as refused:
        return _page(web, request, store, engine, accounts, grant, session_id, error=refused.message,
                     status=refused.status or 409)
    except KeyError:
        return _refusal(web, request, alert_id, LinkRefusal.UNKNOWN)
    live.on_alert_action(alert_id)
    return _done(alert_id, "action")


@router.get("/{alert_id}/{token}", response_class=HTMLResponse)
def link_open(web: RendererDep, links: LinksDep, request: Request, alert_id: RowId, token: str) -> HTMLResponse:
    """What the link is for, with the button that uses it; a refusal page when it cannot be used."""
    try:
        grant = links.check(alert_id, token[:128])
    except LinkRefused as refused:
        return _refusal(web, request, alert_id, refused.reason)
    return web.render("link.html", request, None, view="link", alert_id=alert_id, confirm=True,
                      person=attribution(grant.user.username, grant.user.display_name),
                      action=request.url.path, headers={"Referrer-Policy": "same-origin"})


@router.post("/{alert_id}/{token}", response_class=HTMLResponse)
def link_use(web: RendererDep, links: LinksDep, accounts: AccountsDep, settings: SettingsDep, store: StateDep,
             request: Request, alert_id: RowId, token: str) -> Response:
    """Use the link: a cookie for this alarm's pages only, then the alarm."""
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request refused · 拒绝跨站请求")
    session_id = request.cookies.get(SESSION_COOKIE)
    signed_in = accounts.session_user(session_id, settings.session_idle_s, settings.session_max_s) \
        if session_id else None
    try:
        link_session, grant = links.redeem(alert_id, token[:128], signed_in)
    except LinkRefused as refused:
        return _refusal(web, request, alert_id, refused.reason)
    now = links.clock()
    store.append_audit(now, grant.user.username, "alert.link.opened", f"alert/{alert_id}", {"via": "link"})
    response = RedirectResponse(f"/link/{alert_id}", status_code=303)
    response.set_cookie(LINK_COOKIE, link_session, max_age=max(1, int(grant.expires_at - now)),
                        path=f"/link/{alert_id}", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response
