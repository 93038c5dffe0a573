"""``xiaoan user add|passwd|list|token``: accounts from the hub's shell, for the first admin and for recovery.

Passwords are read without echo (or from standard input with ``--password-stdin``,
for scripts), or generated with ``--random`` and shown once. Tokens are shown once.
Imports of the hub are deferred, like the rest of the ``xiaoan`` command.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.auth.store import AccountStore

ROLES = ("canteen_staff", "canteen_manager", "gatekeeper", "safety_officer", "admin")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="people's accounts and API tokens (in $XIAOAN_HOME)")
    actions = user.add_subparsers(dest="user_command", required=True)
    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", default="", help="display name, e.g. 王师傅 (default: the username)")
    add.add_argument("--locale", default="zh-CN", choices=("zh-CN", "en"))
    passwd = actions.add_parser("passwd", help="set an account's password (its sessions end, its API tokens are revoked)")  # noqa: E501
    passwd.add_argument("username")
    for sub in (add, passwd):
        source = sub.add_mutually_exclusive_group()
        source.add_argument("--random", action="store_true", help="generate a password and show it once")
        source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    actions.add_parser("list", help="list accounts")
    token = actions.add_parser("token", help="create an API token for an account (shown once)")
    token.add_argument("username")
    token.add_argument("--name", required=True, help="what will use it, e.g. prometheus")
    phone = actions.add_parser("phone", help="set an account's mobile number: its SMS replies acknowledge alarms")
    phone.add_argument("username")
    phone.add_argument("number", nargs="?", default=None, help="+86 and the 11 digits; leave out to remove it")
    user.set_defaults(func=run)


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password and whether it was generated (and must be shown)."""
    from hub.auth.credentials import new_password

    if args.random:
        return new_password(), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    first = getpass.getpass("新密码 New password: ")
    if getpass.getpass("再输入一次 Again: ") != first:
        raise ValueError("the two passwords differ · 两次输入不一致")
    return first, False


def run(args: argparse.Namespace) -> int:
    from hub.auth.store import AccountStore
    from hub.settings import load_settings

    accounts = AccountStore(load_settings().db_dir / "hub.sqlite3")
    try:
        return _run(args, accounts)
    finally:
        accounts.close()


def _run(args: argparse.Namespace, accounts: AccountStore) -> int:
    from hub.auth.roles import Role
    from hub.auth.users import AccountError

    command = args.user_command
    try:
        if command == "list":
            for info in accounts.users():
                user = info.user
                state = "disabled" if info.disabled else ("token only" if not info.has_password else "active")
                print(f"{user.id:4d}  {user.username:20s} {user.role.value:16s} {state:10s} {user.display_name}")
            return 0
        found = accounts.user_by_name(args.username) if command != "add" else None
        if command != "add" and found is None:
            print(f"xiaoan user: no account {args.username!r}", file=sys.stderr)
            return 2
        if command == "token":
            assert found is not None
            token, token_info = accounts.create_token(found.id, args.name)
            print(f"API token {token_info.name!r} for {found.username} (shown only now · 只显示这一次):\n{token}")
            return 0
        if command == "phone":
            assert found is not None
            accounts.set_phone(found.id, args.number)
            print(f"mobile number of {found.username}: {args.number or '(none)'}")
            return 0
        password, generated = _password(args)
        if command == "add":
            created = accounts.create_user(args.username, args.name, Role(args.role), args.locale, password=password)
            print(f"created {created.username} ({created.role.value})")
        else:
            assert found is not None
            accounts.set_password(found.id, password)
            print(f"password of {found.username} changed; their sessions ended and their API tokens were revoked")
        if generated:
            print(f"password (shown only now · 只显示这一次): {password}")
        return 0
    except (AccountError, ValueError) as error:
        print(f"xiaoan user: {error}", file=sys.stderr)
        return 2
