"""A report service put together from the stores it reads: shared by the hub and ``xiaoan report``.

A report reads the record (sensors, alarms, audit head), the series, the food-sample
and gate registers, and the school calendar with its overrides. It needs no broker,
no alert engine and no notification channels, so ``xiaoan report`` opens only the
stores below and can run beside a live hub (SQLite in WAL mode takes a second reader).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from contextlib import ExitStack
from zoneinfo import ZoneInfo

from hub.calibration.store import CalibrationStore
from hub.checks.store import CheckStore
from hub.gate.overrides import school_calendar
from hub.gate.store import GateStore
from hub.notify.base import Notification
from hub.report.service import ReportService
from hub.report.sources import ReportSource
from hub.report.store import ReportStore
from hub.samples import rules as sample_rules
from hub.samples.store import SampleStore
from hub.settings import HubSettings
from hub.store.base import SeriesStore
from hub.store.select import open_series
from hub.store.state import StateStore
from hub.visitors.store import VisitorStore


def report_source(settings: HubSettings, state: StateStore, series: SeriesStore, samples: SampleStore,
                  gate: GateStore, canteen_open: Callable[[dt.date], bool], checks: CheckStore | None = None,
                  school_day: Callable[[dt.date], bool] | None = None,
                  calibration: CalibrationStore | None = None,
                  visitors: VisitorStore | None = None) -> ReportSource:
    """The report's reads over the given stores."""
    found = ReportSource(series, state, settings.rules, ZoneInfo(settings.timezone), samples, gate, canteen_open,
                         checks=checks, calibration=calibration, visitors=visitors)
    if school_day is not None:
        found.school_day = school_day
    return found


def report_store(settings: HubSettings) -> ReportStore:
    """The report component's own store (runs, sign-offs, reminders): ``reports.sqlite3``."""
    return ReportStore(settings.db_dir / "reports.sqlite3")


def report_service(settings: HubSettings, source: ReportSource, state: StateStore,
                   announce: Callable[[Notification], None], store: ReportStore | None = None) -> ReportService:
    """The report component: its store (opened here unless given) and the directory reports go to."""
    return ReportService(source, store or report_store(settings), state, settings.rules.report,
                         settings.home / "reports", announce, settings.rules.alerts.public_url)


def open_reports(settings: HubSettings, stack: ExitStack) -> ReportService:
    """Only what a report reads, each store closed by ``stack``: the command line's report service.

    Announcements (a new report, a reminder) belong to the running hub's schedule;
    a report written from the command line announces nothing.
    """
    settings.db_dir.mkdir(parents=True, exist_ok=True)
    state = StateStore(settings.db_dir / "hub.sqlite3")
    stack.callback(state.close)
    series = open_series(settings, state)
    stack.callback(series.close)
    samples = SampleStore(settings.db_dir / "samples.sqlite3")
    stack.callback(samples.close)
    gate = GateStore(settings.db_dir / "gate.sqlite3")
    stack.callback(gate.close)
    calendar = school_calendar(settings.rules.calendar, gate.overrides(), gate.default_confirmation())
    canteen_open = functools.partial(sample_rules.canteen_open_in, calendar, settings.rules.samples)
    checks = CheckStore(settings.db_dir / "checks.sqlite3")
    stack.callback(checks.close)
    calibration = CalibrationStore(settings.db_dir / "calibration.sqlite3")
    stack.callback(calibration.close)

    visitors = VisitorStore(settings.db_dir / "visitors.sqlite3")
    stack.callback(visitors.close)
    source = report_source(settings, state, series, samples, gate, canteen_open, checks, calendar.is_school_day,
                           calibration, visitors)
    service = report_service(settings, source, state, lambda _notification: None)
    stack.callback(service.close)
    return service
