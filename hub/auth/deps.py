"""Who is asking, and may they: the dependencies every hub route declares.

A request is authenticated by an ``Authorization: Bearer xa_…`` API token
(integrations) or by the ``xiaoan_session`` cookie (people in a browser). Cookie
requests that change something must also carry the session's CSRF token and must not
come from another site's page; token requests carry no ambient credential, so they
need neither.

Usage in a route::

    def verify(user: Annotated[User, Depends(require(Permission.ALERT_VERIFY))], ...) -> ...
    def page(user: CurrentUser, ...) -> ...
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request

from hub.api.deps import AccountsDep, SettingsDep
from hub.auth.credentials import csrf_for
from hub.auth.roles import Permission, allows
from hub.auth.users import User

SESSION_COOKIE = "xiaoan_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page (sent to the login form) rather than a program (told 401)."""
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(status_code=303, detail="sign in first · 请先登录",
                         headers={"Location": f"/login?next={quote(target, safe='')}"})


def _unauthenticated(request: Request, detail: str) -> HTTPException:
    if wants_html(request):
        return login_redirect(request)
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (if the browser sent one) is this hub.

    Compared on host and port only: behind a TLS proxy the hub itself sees plain HTTP.
    """
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def _check_csrf(request: Request, session_id: str) -> None:
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request refused · 拒绝跨站请求")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_for(session_id)):
        raise HTTPException(status_code=403, detail=f"missing or wrong CSRF token ({CSRF_HEADER} header or"
                                                    f" {CSRF_FIELD} field) · CSRF 校验失败，请刷新页面")


async def current_user(request: Request, accounts: AccountsDep, settings: SettingsDep) -> User:
    """The signed-in user or the owner of the API token; 401 (or, for pages, the login form) otherwise."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated(request, "Authorization must be 'Bearer <token>'")
        user = accounts.token_user(token.strip())
        if user is None:
            raise _unauthenticated(request, "unknown, revoked or disabled API token · 令牌无效")
        request.state.auth_method = "token"
        return user
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        user = accounts.session_user(session_id, settings.session_idle_s, settings.session_max_s)
        if user is not None:
            if request.method not in SAFE_METHODS:
                await _check_csrf(request, session_id)
            request.state.auth_method = "session"
            return user
        raise _unauthenticated(request, "session expired · 登录已过期，请重新登录")
    raise _unauthenticated(request, "not authenticated: sign in or send 'Authorization: Bearer <token>' · 未登录")


CurrentUser = Annotated[User, Depends(current_user)]


async def optional_user(request: Request, accounts: AccountsDep, settings: SettingsDep) -> User | None:
    """For an open route that says more to a signed-in person: the user, or None for anyone else.

    A missing, unknown or expired credential is not an error here; the route answers as
    to a stranger. Only for reading routes (no CSRF check).
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return accounts.token_user(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    session_id = request.cookies.get(SESSION_COOKIE)
    return accounts.session_user(session_id, settings.session_idle_s, settings.session_max_s) if session_id else None


OptionalUser = Annotated[User | None, Depends(optional_user)]


class Require:
    """The dependency ``require`` returns; it keeps its permission so the route table can be read back."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, user: CurrentUser) -> User:
        if not allows(user.role, self.permission):
            raise HTTPException(status_code=403,
                                detail=f"role {user.role.value} may not {self.permission.value} · 当前角色无此权限")
        return user

    def __repr__(self) -> str:
        return f"require({self.permission!r})"


def require(permission: Permission) -> Require:
    """A dependency giving the current user if their role holds ``permission``, else 403."""
    return Require(permission)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for a form's hidden ``csrf_token`` field or a script's ``X-CSRF-Token``."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return csrf_for(session_id) if session_id else ""
