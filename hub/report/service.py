"""What the hub runs for reports: on-demand reports, sign-off, the Monday schedule and the reminders.

The schedule is a duty of the hub's scheduler (hub.scheduler), checked every
``CHECK_EVERY_S``: a report takes seconds to build, and the duty has a thread of its
own, so neither ingest nor the alarm timers ever wait for a PDF.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.alerts.kinds import Severity
from hub.errors import FieldError
from hub.notify.base import Notification
from hub.report import builder, csvexport, pdf, schedule
from hub.report.config import ReportConfig
from hub.report.model import Report, Signature
from hub.report.period import Period, PeriodKind, parse
from hub.report.signed import SignedReports
from hub.report.sources import ReportSource
from hub.report.store import ReportStore, SignOff
from hub.store.state import StateStore

_LOGGER = logging.getLogger(__name__)
#: How often the schedule duty looks at the schedule and the reminders.
CHECK_EVERY_S = 60.0
_KIND_ZH = {"daily": "日报", "weekly": "周报", "monthly": "月报", "range": "报告"}
_URL = {"weekly": "weekly.pdf?week=", "daily": "daily.pdf?date=", "monthly": "monthly.pdf?month="}


class ReportError(FieldError):
    """A sign-off the record does not allow (409 unless the raiser says 422 for bad input)."""

    status = 409


class ReportService:
    def __init__(self, source: ReportSource, store: ReportStore, state: StateStore, config: ReportConfig,
                 directory: Path, announce: Callable[[Notification], None], public_url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.store = store
        self.config = config
        self.directory = directory
        self.clock = clock
        self._state = state
        self._announce = announce
        self._public_url = public_url.rstrip("/")
        #: The periods signed so far: their records are closed (hub.closed), the features refuse changes.
        self.signed = SignedReports(store, source.tz)

    @property
    def tz(self) -> ZoneInfo:
        return self.source.tz

    def close(self) -> None:
        self.store.close()

    # -- on demand -------------------------------------------------------------------------------

    def signatures(self, period: Period) -> list[Signature]:
        return [Signature(s.signed_by, s.signer_name, s.signed_at, s.comment)
                for s in self.store.signoffs(period.kind, period.label)]

    def build(self, period: Period, now: float | None = None) -> Report:
        now = self.clock() if now is None else now
        return builder.build(self.source, period, self.config, now, self.signatures(period))

    def pdf(self, period: Period, now: float | None = None) -> bytes:
        return pdf.render(self.build(period, now), self.source.config.samples.label_font)

    def csv(self, period: Period, sensor: str | None = None) -> Iterator[bytes]:
        sensors = [(s["key"], self.source.name(s)) for s in self.source.sensors()
                   if sensor is None or s["key"] == sensor]
        return csvexport.stream(self.source.series, sensors, period.start, period.end, self.tz)

    # -- sign-off --------------------------------------------------------------------------------

    def sign(self, period: Period, username: str, display_name: str, comment: str,
             now: float | None = None) -> SignOff:
        """The safety officer's signature: on the record, in the audit chain, on the report from now on."""
        now = self.clock() if now is None else now
        if period.end > now:
            raise ReportError("period", f"{period.label} is not over yet; it can be signed after it ends", 422)
        signed = self.store.add_signoff(period.kind, period.label, username, display_name or username, now,
                                        comment.strip())
        if signed is None:
            existing = self.store.signoffs(period.kind, period.label)[0]
            raise ReportError("period", f"{period.label} was already signed by {existing.signer_name}")
        self._state.append_audit(now, username, "report.signed", f"report/{period.kind}/{period.label}",
                                 {"signer_name": signed.signer_name, "comment": signed.comment})
        return signed

    # -- schedule --------------------------------------------------------------------------------

    def run_due(self, now: float) -> list[Path]:
        """Make the weeks that are due (catching up after downtime), then send the reminders that are due."""
        made = []
        if self.config.weekly:
            saved = self.store.meta("last_tick")
            last_tick = float(saved) if saved is not None else now  # weeks before the hub first ran are not due
            for period in schedule.due_weeks(last_tick, now, self.config.weekly_at, self.tz,
                                             self.config.catch_up_days):
                if self.store.run(period.kind, period.label) is None:
                    made.append(self.generate(period, now))
            self.store.set_meta("last_tick", repr(now))
        self.remind(now)
        return made

    def generate(self, period: Period, now: float) -> Path:
        """Build, file and announce one report (once per period: the run row is the key)."""
        report = self.build(period, now)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{period.kind}-{period.label.replace('..', '_')}.pdf"
        path.write_bytes(pdf.render(report, self.source.config.samples.label_font))
        if self.store.add_run(period.kind, period.label, now, str(path)):
            self._announce(self._announcement(report, period, now))
            _LOGGER.info("%s report %s generated: %s", period.kind, period.label, path)
        return path

    def _link(self, period: Period) -> str:
        return f"{self._public_url}/api/reports/{_URL.get(period.kind, '')}{period.label}"

    def _announcement(self, report: Report, period: Period, now: float) -> Notification:
        open_alarms = sum(1 for a in report.alarms if not a.handled)
        excursions = sum(len(u.excursions) for u in report.cold_units)
        missing = sum(1 for s in report.samples if s.record_id is None)
        body = (f"{report.title}：报警 {len(report.alarms)} 次（未处置 {open_alarms}），超标 {excursions} 次，"
                f"缺留样 {missing} 餐，巡更 {report.gates.rounds_complete}/{report.gates.rounds_required}。"
                f"请审核签字：{self._link(period)}")
        return Notification(None, f"report:{report.kind}:{report.label}", Severity.INFO,
                            f"食品安全{_KIND_ZH[report.kind]} {report.label} 已生成", body, self.config.route, now)

    def remind(self, now: float) -> list[str]:
        """One reminder a day listing the generated weeks still unsigned ``remind_after_days`` after they ended."""
        due = []
        for run in self.store.runs("weekly"):
            period = parse("weekly", run.label, self.tz)
            signed = bool(self.store.signoffs(run.kind, run.label))
            if schedule.reminder_due(period.end, now, self.config.remind_after_days, signed,
                                     self.store.last_reminded(run.kind, run.label), self.tz):
                due.append(period)
        if not due:
            return []
        for period in due:
            self.store.add_reminder(period.kind, period.label, now)
        labels = "、".join(p.label for p in due)
        self._announce(Notification(
            None, "report:reminder", Severity.WARNING, f"周报待签字：{labels}",
            f"以下周报尚未审核签字：{labels}。请审核后签字：" + "；".join(self._link(p) for p in due),
            self.config.route, now))
        _LOGGER.info("sign-off reminder sent for %s", labels)
        return [p.label for p in due]


def kind_of(value: str) -> PeriodKind:
    """A period kind from text (the sign-off API's ``kind``)."""
    kinds: dict[str, PeriodKind] = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "range": "range"}
    if value not in kinds:
        raise ReportError("kind", f"{value!r} is not one of {', '.join(kinds)}", 422)
    return kinds[value]

