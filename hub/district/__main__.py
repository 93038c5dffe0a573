"""``python -m hub.district serve|add-site``: run a district worker, or register a school and print its token."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from hub.district.service import create_district_app
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
    args = parser.parse_args(argv)
    given = {k: v for k, v in {"dsn": args.dsn, "host": getattr(args, "host", None),
                                "port": getattr(args, "port", None),
                                "worker": getattr(args, "worker", None)}.items() if v is not None}
    settings = DistrictSettings(**given)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "add-site":
        store = DistrictStore(settings.dsn, settings.worker)
        try:
            print(store.add_site(args.site, args.name))
        finally:
            store.close()
        return 0
    uvicorn.run(create_district_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
