"""Signing in and out, the signed-in user, API tokens and the administration of accounts.

The login form is the only write route open without credentials; it refuses other
sites' pages and is rate limited per username and per client address, with the
failures kept in the database so a restart does not forgive them.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import MAX_ID, AccountsDep, RowId, SettingsDep, StateDep
from hub.api.pages import RendererDep
from hub.auth.deps import SESSION_COOKIE, CurrentUser, csrf_token, require, same_origin
from hub.auth.roles import GRANTS, Permission, Role, allows
from hub.auth.store import AccountStore, Revoked, TokenInfo
from hub.auth.users import Locale, User, UserInfo
from hub.errors import FieldError, NotFound
from hub.store.state import StateStore
from hub.web.render import Renderer

_LOGGER = logging.getLogger(__name__)

router = APIRouter(tags=["auth"])

AdminUser = Annotated[User, Depends(require(Permission.ADMIN))]

def _safe_next(target: str) -> str:
    """Only a path on this hub: ``//evil.example`` or ``https://…`` would make the form an open redirect."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or target.startswith("/login"):
        return "/"
    return target


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _audit(store: StateStore, accounts: AccountStore, actor: User, action: str, subject: str,
           detail: dict[str, Any]) -> None:
    """On the audit chain, at the accounts' clock (the time the change itself was made)."""
    store.append_audit(accounts.clock(), actor.username, action, subject, detail)


# -- signing in and out --------------------------------------------------------------------------


def _login_page(web: Renderer, request: Request, next_path: str, status: int = 200, error: str = "",
                username: str = "", headers: dict[str, str] | None = None) -> HTMLResponse:
    """The web app's own page (its look, its language switch), with nobody signed in yet."""
    return web.render("login.html", request, None, status_code=status, headers=headers, view="login",
                                    next=_safe_next(next_path), error=error, username=username)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(web: RendererDep, request: Request,
               next: Annotated[str, Query(max_length=2000)] = "/") -> HTMLResponse:
    return _login_page(web, request, next)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    accounts: AccountsDep,
    settings: SettingsDep,
    web: RendererDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password and start a session; the cookie is HttpOnly, SameSite=Lax, Secure over HTTPS."""
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request refused · 拒绝跨站请求")
    address = _client(request)
    keys = [f"user:{username.strip().casefold()}", f"addr:{address}"]
    wait = accounts.login_wait(keys, settings.login_max_failures, settings.login_window_s)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        return _login_page(web, request, next, 429, f"尝试次数过多，请 {minutes} 分钟后再试 · Too many attempts;"
                                               f" try again in {minutes} min", username,
                           headers={"Retry-After": str(math.ceil(wait))})
    user = accounts.authenticate(username, password)
    if user is None:
        accounts.record_login_failure(keys, settings.login_window_s)
        known = accounts.user_by_name(username) is not None
        # Only a known name is logged: people sometimes type their password into the username field.
        _LOGGER.warning("failed sign-in for %s from %s", repr(username.strip()) if known else "an unknown username",
                        address)
        return _login_page(web, request, next, 401, "用户名或密码错误，或账号已停用 · Wrong username or password,"
                                               " or the account is disabled", username)
    accounts.clear_login_failures(keys[0])
    session_id = accounts.start_session(user.id)
    _LOGGER.info("%s signed in from %s", user.username, address)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(settings.session_max_s), path="/",
                        httponly=True, samesite="lax", secure=settings.https)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, accounts: AccountsDep, settings: SettingsDep, user: CurrentUser) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        accounts.end_session(session_id)
    _LOGGER.info("%s signed out", user.username)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.https)
    return response


# -- the signed-in user --------------------------------------------------------------------------


class UserPublic(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    locale: str

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                   locale=user.locale)


class UserInfoPublic(UserPublic):
    """An account as the administrator sees it (never the password hash)."""

    disabled: bool
    has_password: bool
    created_at: float
    updated_at: float

    @classmethod
    def of_info(cls, info: UserInfo) -> UserInfoPublic:
        return cls(**dict(UserPublic.of(info.user)), disabled=info.disabled, has_password=info.has_password,
                   created_at=info.created_at, updated_at=info.updated_at)


class MePublic(UserPublic):
    permissions: list[str] = Field(description="what the role may do")
    auth: str | None = Field(description="session or token")
    csrf_token: str = Field(description="a browser session's CSRF token (empty for a token)")


class ProfileUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    locale: Locale | None = None


class PasswordChange(BaseModel):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024, description="at least 10 characters")


class PasswordReset(BaseModel):
    new_password: str = Field(max_length=1024, description="at least 10 characters")


class CredentialsRevoked(BaseModel):
    """What a new password ended: the account's other sessions and every API token it had."""

    sessions_ended: int
    tokens_revoked: int
    message: str

    @classmethod
    def of(cls, revoked: Revoked, own: bool) -> CredentialsRevoked:
        where = "本账号在其他设备上的登录" if own else "该账号的所有登录"
        return cls(sessions_ended=revoked.sessions, tokens_revoked=revoked.tokens,
                   message=f"密码已更新。{where}已退出（{revoked.sessions} 个），全部 API 令牌已作废"
                           f"（{revoked.tokens} 个），需要时请重新创建。")


def _audit_display_name(store: StateStore, accounts: AccountStore, actor: User, before: User, after: User) -> None:
    """A renamed account is on the record with both names: the records it signed keep the old one."""
    if before.display_name != after.display_name:
        _audit(store, accounts, actor, "user.display_name_changed", f"user/{after.id}",
               {"username": after.username, "before": before.display_name, "after": after.display_name})


@router.get("/api/me")
def me(request: Request, user: CurrentUser) -> MePublic:
    """Who the request acts as, what the role may do, and (for a browser session) its CSRF token."""
    return MePublic(**dict(UserPublic.of(user)), permissions=sorted(p.value for p in GRANTS[user.role]),
                    auth=getattr(request.state, "auth_method", None), csrf_token=csrf_token(request))


@router.patch("/api/me")
def update_me(accounts: AccountsDep, store: StateDep, user: CurrentUser, update: ProfileUpdate) -> UserPublic:
    """Change one's own display name or language (not one's role); a new display name is audited.

    A display name may not be another account's name or carry another role's title (422).
    """
    changed = accounts.update_user(user.id, display_name=update.display_name, locale=update.locale)
    _audit_display_name(store, accounts, user, user, changed)
    return UserPublic.of(changed)


@router.post("/api/me/password")
def change_password(request: Request, accounts: AccountsDep, store: StateDep, user: CurrentUser,
                    change: PasswordChange) -> CredentialsRevoked:
    """Change one's own password (the old one is asked again).

    Every other session of the account ends and every API token of it is revoked; only the browser
    that made the change stays signed in (none when the change came with a token).
    """
    if accounts.authenticate(user.username, change.old_password) is None:
        raise FieldError("old_password", "wrong password · 原密码错误", status=403)
    keep = request.cookies.get(SESSION_COOKIE) if getattr(request.state, "auth_method", None) == "session" else None
    revoked = accounts.set_password(user.id, change.new_password, keep_session=keep)
    _audit(store, accounts, user, "user.password_changed", f"user/{user.id}",
           {"sessions_ended": revoked.sessions, "tokens_revoked": revoked.tokens})
    return CredentialsRevoked.of(revoked, own=True)


# -- API tokens ----------------------------------------------------------------------------------


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="what uses it, e.g. prometheus")
    user_id: int | None = Field(default=None, ge=0, le=MAX_ID,
                                  description="admin only: a token for another account")


class TokenPublic(BaseModel):
    id: int
    name: str
    hint: str = Field(description="the token's first characters, to recognise it (the rest is not kept)")
    user_id: int
    username: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    created_by: int | None = Field(description="the account that minted it (null: the hub's shell)")
    created_by_username: str | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenPublic:
        return cls(id=info.id, name=info.name, hint=info.hint + "…", user_id=info.user_id, username=info.username,
                   created_at=info.created_at, last_used_at=info.last_used_at, revoked_at=info.revoked_at,
                   created_by=info.created_by, created_by_username=info.created_by_username)


class TokenCreated(TokenPublic):
    token: str = Field(description="the token itself: shown in this answer only")


@router.get("/api/tokens")
def list_tokens(accounts: AccountsDep, user: CurrentUser, all_users: Annotated[bool, Query(alias="all")] = False
                ) -> list[TokenPublic]:
    """One's own tokens; an admin may ask for everyone's (``?all=true``)."""
    if all_users and not allows(user.role, Permission.ADMIN):
        raise HTTPException(status_code=403, detail="only an admin sees everyone's tokens · 无权限")
    return [TokenPublic.of(t) for t in accounts.tokens(None if all_users else user.id)]


@router.post("/api/tokens", status_code=201)
def create_token(accounts: AccountsDep, store: StateDep, user: CurrentUser, request: TokenCreate) -> TokenCreated:
    """A token for an integration; it acts with its owner's role. The token is shown in this answer only."""
    owner = request.user_id if request.user_id is not None else user.id
    if owner != user.id and not allows(user.role, Permission.ADMIN):
        raise HTTPException(status_code=403, detail="only an admin makes tokens for others · 无权限")
    try:
        token, info = accounts.create_token(owner, request.name, created_by=user.id)
    except KeyError:
        raise NotFound("user_id", f"no user {owner}") from None
    _audit(store, accounts, user, "token.created", f"token/{info.id}", {"name": info.name, "owner": info.username})
    return TokenCreated(**dict(TokenPublic.of(info)), token=token)


@router.delete("/api/tokens/{token_id}", status_code=204)
def revoke_token(accounts: AccountsDep, store: StateDep, user: CurrentUser, token_id: RowId) -> None:
    """Revoke one's own token; an admin revokes anyone's (a token left behind by someone who left)."""
    info = accounts.token(token_id)
    if info is None or (info.user_id != user.id and not allows(user.role, Permission.ADMIN)):
        raise NotFound("token_id", f"no token {token_id}")
    if not accounts.revoke_token(token_id):
        raise NotFound("token_id", f"token {token_id} is already revoked")
    _audit(store, accounts, user, "token.revoked", f"token/{token_id}", {"name": info.name, "owner": info.username})


# -- administration of accounts ------------------------------------------------------------------


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    display_name: str = Field(default="", max_length=64, description="default: the username")
    role: Role
    locale: Locale = "zh-CN"
    password: str | None = Field(default=None, max_length=1024,
                                 description="at least 10 characters; none: the account signs in with tokens only")


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    role: Role | None = None
    disabled: bool | None = None
    locale: Locale | None = None


@router.get("/api/users")
def list_users(accounts: AccountsDep, _admin: AdminUser) -> list[UserInfoPublic]:
    return [UserInfoPublic.of_info(info) for info in accounts.users()]


def _info(accounts: AccountStore, user_id: int) -> UserInfoPublic:
    info = accounts.info(user_id)
    assert info is not None  # just made or changed
    return UserInfoPublic.of_info(info)


@router.post("/api/users", status_code=201)
def create_user(accounts: AccountsDep, store: StateDep, admin: AdminUser, request: UserCreate) -> UserInfoPublic:
    """A new account; a taken username is a 409."""
    user = accounts.create_user(request.username, request.display_name, request.role, request.locale,
                                password=request.password)
    _audit(store, accounts, admin, "user.created", f"user/{user.id}",
           {"username": user.username, "role": user.role.value})
    return _info(accounts, user.id)


@router.patch("/api/users/{user_id}")
def update_user(accounts: AccountsDep, store: StateDep, admin: AdminUser, user_id: RowId,
                request: UserUpdate) -> UserInfoPublic:
    """Change role, name, language, or disable the account (its sessions end; its tokens stop working).

    Taking the last enabled admin's role or account away is a 409.
    """
    before = accounts.user(user_id)
    if before is None:
        raise NotFound("user_id", f"no user {user_id}")
    after = accounts.update_user(user_id, display_name=request.display_name, role=request.role,
                                 locale=request.locale, disabled=request.disabled)
    _audit(store, accounts, admin, "user.updated", f"user/{user_id}",
           request.model_dump(mode="json", exclude_none=True))
    _audit_display_name(store, accounts, admin, before, after)
    return _info(accounts, user_id)


@router.post("/api/users/{user_id}/password")
def reset_password(accounts: AccountsDep, store: StateDep, admin: AdminUser, user_id: RowId,
                   request: PasswordReset) -> CredentialsRevoked:
    """An admin sets a new password (someone forgot theirs): every session and API token of the account ends."""
    try:
        revoked = accounts.set_password(user_id, request.new_password)
    except KeyError:
        raise NotFound("user_id", f"no user {user_id}") from None
    _audit(store, accounts, admin, "user.password_reset", f"user/{user_id}",
           {"sessions_ended": revoked.sessions, "tokens_revoked": revoked.tokens})
    return CredentialsRevoked.of(revoked, own=False)

