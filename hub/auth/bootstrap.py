"""The first account of a new hub: ``admin`` with a random password, shown once.

A hub with no account would answer nobody; a default password would be the same on
every school's hub. So the first start makes one, prints it on standard output for the
person installing the hub, and keeps only its hash.
"""

from __future__ import annotations

import logging
from typing import TextIO

from hub.auth.credentials import new_password
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.auth.users import NameTaken, User

_LOGGER = logging.getLogger(__name__)

FIRST_ADMIN = "admin"


def ensure_first_admin(accounts: AccountStore, out: TextIO) -> User | None:
    """Create ``admin`` if the hub has no account yet and print its password to ``out``; else ``None``."""
    if accounts.count_users():
        return None
    password = new_password()
    try:
        user = accounts.create_user(FIRST_ADMIN, "系统管理员 Administrator", Role.ADMIN, password=password)
    except NameTaken:
        return None  # another process on this state directory (``xiaoan user``) made it first
    print(f"""
  校安 xiaoan: 已创建首个管理员账号 · created the first administrator account
    用户名 username  {FIRST_ADMIN}
    密码   password  {password}
  此密码只显示这一次，请立即登录并修改 · This password is shown only this once: sign in and change it
  (web: 账号 → 修改密码 · POST /api/me/password;  shell: xiaoan user passwd {FIRST_ADMIN})
""", file=out, flush=True)
    _LOGGER.warning("created the first account %r; its password was shown once on standard output and is not"
                    " kept: change it with 'xiaoan user passwd %s' or POST /api/me/password", FIRST_ADMIN,
                    FIRST_ADMIN)
    return user
