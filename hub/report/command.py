"""``xiaoan report``: a report written to files from the hub's state directory (the hub may keep running).

Only the standard library at import: ``xiaoan`` builds its parser on a Pi too.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.report import period as periods
from hub.report.period import Period


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--week", help="ISO week, e.g. 2026-W47")
    which.add_argument("--date", help="one local day, e.g. 2026-11-18")
    which.add_argument("--month", help="a month, e.g. 2026-11")
    which.add_argument("--range", nargs=2, metavar=("START", "END"), help="local days, inclusive")
    parser.add_argument("--pdf", type=Path, help="write the report as PDF here")
    parser.add_argument("--csv", type=Path, help="write the period's raw readings as CSV here")
    parser.add_argument("--json", type=Path, help="write the report model as JSON here")


def _period(args: argparse.Namespace, tz: ZoneInfo) -> Period:
    if args.week:
        return periods.week(args.week, tz, "--week")
    if args.date:
        return periods.day(args.date, tz, "--date")
    if args.month:
        return periods.month(args.month, tz, "--month")
    return periods.date_range(args.range[0], args.range[1], tz)


def run(args: argparse.Namespace) -> int:
    from hub.report.assemble import open_reports  # noqa: PLC0415 — the stores only when the command runs
    from hub.settings import load_settings  # noqa: PLC0415

    if not (args.pdf or args.csv or args.json):
        print("xiaoan report: nothing to write (give --pdf, --csv and/or --json)", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        period = _period(args, ZoneInfo(settings.timezone))
    except periods.PeriodError as error:
        print(f"xiaoan report: {error}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        reports = open_reports(settings, stack)
        started = time.monotonic()
        if args.pdf or args.json:
            report = reports.build(period)
            if args.json:
                args.json.write_text(json.dumps(dataclasses.asdict(report), ensure_ascii=False, indent=1),
                                     encoding="utf-8")
            if args.pdf:
                from hub.report.pdf import render  # noqa: PLC0415

                args.pdf.write_bytes(render(report, settings.rules.samples.label_font))
        if args.csv:
            with args.csv.open("wb") as out:
                for block in reports.csv(period):
                    out.write(block)
        print(f"{period.kind} report {period.label} written in {time.monotonic() - started:.1f} s")
    return 0
