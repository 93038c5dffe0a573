"""``python -m hub.district serve|add-site|add-inspector|set-password``: run a district worker, register a school
or an account (an inspector, or with ``--admin`` the first district admin) and print its token, or give an account
a password for the pages (read from standard input)."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from hub.auth.credentials import Passwords
from hub.district.inspectors import DistrictRole, add_inspector
from hub.district.service import create_district_app
from hub.district.sessions import set_password
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.district", description="校安 xiaoan district service")
    parser.add_argument("--dsn", help="PostgreSQL connection string (else XIAOAN_DISTRICT_DSN)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run one district worker")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--worker", help="this worker's name (default: the host name)")
    add = commands.add_parser("add-site", help="register a school; prints its token once")
    add.add_argument("site")
    add.add_argument("name")
    inspector = commands.add_parser("add-inspector", help="make a district inspector's account; prints its token once")
    inspector.add_argument("name", help="account name (lower-case letters, digits, - and _)")
    inspector.add_argument("display_name", help="the person's or the office's name, as pages show it")
    scope = inspector.add_mutually_exclusive_group(required=True)
    scope.add_argument("--site", action="append", default=[], help="a school the inspector reads (repeat)")
    scope.add_argument("--all", action="store_true", help="every school of the district")
    inspector.add_argument("--admin", action="store_true",
                           help="a district admin (with --all): also makes accounts and registers schools on a page")
    password = commands.add_parser("set-password", help="give an inspector a password for the pages (read from stdin)")
    password.add_argument("name")
    args = parser.parse_args(argv)
    given = {k: v for k, v in {"dsn": args.dsn, "host": getattr(args, "host", None),
                                "port": getattr(args, "port", None),
                                "worker": getattr(args, "worker", None)}.items() if v is not None}
    settings = DistrictSettings(**given)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in ("add-site", "add-inspector", "set-password"):
        store = DistrictStore(settings.dsn, settings.worker)
        try:
            if args.command == "add-site":
                print(store.add_site(args.site, args.name))
            elif args.command == "set-password":
                # From standard input, never the command line (which other users see in the process list).
                set_password(store, Passwords(), args.name, sys.stdin.readline().rstrip("\r\n"))
                print(f"password set for {args.name}; their sessions were ended")
            else:
                role = DistrictRole.ADMIN if args.admin else DistrictRole.INSPECTOR
                print(add_inspector(store, args.name, args.display_name, args.site, all_sites=args.all, role=role))
        except ValueError as error:
            print(f"refused: {error}", file=sys.stderr)
            return 2
        finally:
            store.close()
        return 0
    uvicorn.run(create_district_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
