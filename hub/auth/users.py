"""Who is acting: a person's account as the rest of the hub sees it, and the rules for its fields.

Routes receive a ``User`` from ``hub.auth.deps``; the actor recorded in the audit log
is its ``username``, never a name typed into a request body.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal, get_args

from hub.auth.roles import Role
from hub.errors import FieldError

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[str, ...] = get_args(Locale)
DEFAULT_LOCALE: Locale = "zh-CN"

#: Letters of any script (a school may name accounts 张老师), digits and ``. _ @ -``; no spaces,
#: so a username reads the same in the audit log, a URL and a shell.
_USERNAME = re.compile(r"^[\w.@-]{2,64}$")
#: Short passwords are the ones guessed; length matters more than character classes.
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class AccountError(FieldError):
    """A field of an account is not acceptable; ``field`` names it for the API's answer (422)."""


class NameTaken(AccountError):
    """Another account has this username (409)."""

    status = 409


class LastAdmin(AccountError):
    """The change would leave the hub without an enabled admin (409: the accounts' state refuses it)."""

    status = 409


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    locale: str = DEFAULT_LOCALE


@dataclass(frozen=True)
class UserInfo:
    """An account as the administrator sees it (never the password hash)."""

    user: User
    disabled: bool
    has_password: bool
    created_at: float
    updated_at: float


def normalize_username(username: str) -> str:
    """The stored form of a username (NFC, stripped); raises ``AccountError`` if it is not acceptable."""
    name = unicodedata.normalize("NFC", username.strip())
    if not _USERNAME.fullmatch(name):
        raise AccountError("username", "2–64 letters, digits or . _ @ - (no spaces)"
                                       " · 用户名为 2–64 个字母、数字或 . _ @ -")
    return name


def check_display_name(display_name: str) -> str:
    name = display_name.strip()
    if not name or len(name) > 64 or any(unicodedata.category(c) == "Cc" for c in name):
        raise AccountError("display_name", "1–64 characters, no control characters · 显示名称为 1–64 个字符")
    return name


#: Titles a display name may not borrow, per role whose holder may carry them: the role names of the
#: pages (zh-CN and en, hub.web.i18n), the role keys, and the titles schools use for the same posts.
#: A cook calling themselves "安全员 李老师" would otherwise sign as the safety officer in every record.
ROLE_TITLES: dict[Role, tuple[str, ...]] = {
    Role.CANTEEN_STAFF: ("食堂员工", "Canteen staff", "canteen_staff"),
    Role.CANTEEN_MANAGER: ("食堂负责人", "食堂经理", "食堂主管", "Canteen manager", "canteen_manager"),
    Role.GATEKEEPER: ("门卫", "保安", "Gatekeeper"),
    Role.SAFETY_OFFICER: ("食品安全管理员", "安全员", "总务主任", "Safety officer", "safety_officer"),
    Role.ADMIN: ("系统管理员", "管理员", "Administrator", "admin"),
    Role.TEACHER: ("班主任", "教师", "Teacher", "teacher"),
}


def name_key(text: str) -> str:
    """How two names are compared: width, case, spaces and separators do not tell them apart."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if not (c.isspace() or c in "_-·.・"))


def borrowed_title(display_name: str, role: Role) -> str | None:
    """The title of another role that ``display_name`` carries (its own role's titles are its own), or None."""
    key = name_key(display_name)
    for own in sorted(ROLE_TITLES[role], key=len, reverse=True):
        key = key.replace(name_key(own), " ")
    for other, titles in ROLE_TITLES.items():
        if other is role:
            continue
        for title in titles:
            if name_key(title) in key:
                return title
    return None


def attribution(username: str, display_name: str) -> str:
    """How a person is named on a record: the display name with the username, which no one else can have."""
    return username if not display_name or display_name == username else f"{display_name}（{username}）"


def check_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise AccountError("locale", f"one of {', '.join(LOCALES)}")
    return locale


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password", f"at least {MIN_PASSWORD_LENGTH} characters · 密码至少 {MIN_PASSWORD_LENGTH} 位")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("password", f"at most {MAX_PASSWORD_LENGTH} characters")
    return password
