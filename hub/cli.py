"""The ``xiaoan`` command. Imports are deferred so ``xiaoan edge`` on a Pi needs nothing of the hub."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _cmd_hub(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.settings import load_settings

    settings = load_settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="info")
    return 0


def _cmd_edge(args: argparse.Namespace) -> int:
    from edge.config import load_edge_settings

    if args.edge_command == "check-config":
        settings = load_edge_settings(Path(args.file))
        print(f"{args.file}: OK — site {settings.site}, device {settings.device}, {len(settings.sources)} sources")
        return 0
    if args.config is None:
        print("xiaoan edge: --config FILE is required", file=sys.stderr)
        return 2
    from edge.agent import Agent
    from edge.clock import SystemClock

    settings = load_edge_settings(Path(args.config))
    agent = Agent(settings, SystemClock(settings.clock_sync_check))

    def stop(_signum: int, _frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    agent.run()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from hub.demo import run_demo

    return run_demo(Path(args.home) if args.home else None, duration_s=args.duration)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xiaoan", description="校安 xiaoan: school canteen and gate monitoring")
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    hub = commands.add_parser("hub", help="run the hub (MQTT ingest, alerts, API, web) — settings from XIAOAN_*")
    hub.set_defaults(func=_cmd_hub)

    edge = commands.add_parser("edge", help="run an edge agent, or check its config")
    edge.add_argument("--config", help="the device's YAML config")
    edge_commands = edge.add_subparsers(dest="edge_command")
    check = edge_commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file")
    edge.set_defaults(func=_cmd_edge)

    demo = commands.add_parser("demo", help="broker + hub + simulated canteen and gate nodes, with real alarms")
    demo.add_argument("--home", help="state directory (default: $XIAOAN_HOME or ./var)")
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    from edge.yamlconfig import ConfigError

    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        result: int = args.func(args)
    except ConfigError as error:
        print(f"xiaoan: {error}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
