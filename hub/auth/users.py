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
