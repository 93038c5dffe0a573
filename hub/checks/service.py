"""The checks component: what is due, filling a checklist, hazards and work orders, and the overdue alarms.

Built from its settings slice, its store path and narrow ports (``hub.alerts.ports``):
it raises its alarms through ``AlertRaiser`` and writes what people did to the audit
chain; the school calendar and the canteen's days come in as callables, so one
calendar (with the overrides made through the API) serves the whole hub. Times come
from the injected ``clock`` or are passed in.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser, AuditTrail, Directory
from hub.checks import prefill, records, rules, templates
from hub.checks.config import KEY_PATTERN, ChecksConfig, ItemConfig, TemplateConfig
from hub.checks.kinds import (
    OPEN_ORDER_STATES,
    Answer,
    AutoSource,
    Cadence,
    Category,
    ItemKind,
    OrderAction,
    OrderState,
    Urgency,
)
from hub.checks.places import PlaceCodes, order_subject, typed
from hub.checks.prefill import Prefill
from hub.checks.store import (
    CheckRun,
    CheckStore,
    ItemAnswer,
    NewAnswer,
    NewOrder,
    PlaceLine,
    PlaceScan,
    Rejection,
    WorkOrder,
)
from hub.closed import NothingSigned, SignedPeriods, refuse_signed
from hub.errors import Conflict, FieldError, NotFound
from hub.gate.store import Sweep
from hub.rules.threshold import Limits
from hub.samples.config import SamplesConfig
from hub.samples.store import SampleStore
from hub.store.base import SeriesStore

_LOGGER = logging.getLogger(__name__)

CHECK_OVERDUE_RULE = RuleKind.CHECK_OVERDUE
ORDER_OVERDUE_RULE = RuleKind.WORK_ORDER_OVERDUE
#: How long an undone checklist stays an alarm after its deadline (then it resolves and waits to be closed).
_GIVE_UP_S: dict[Cadence, float] = {Cadence.DAILY: 86_400.0, Cadence.WEEKLY: 7 * 86_400.0,
                                    Cadence.MONTHLY: 28 * 86_400.0}
#: Words of the checks API's paths, which no template may be called.
_RESERVED_KEYS = frozenset({"photos", "runs", "templates"})
#: How far back a checklist's opening time is believed (an older one is a page left open).
_OPEN_AT_MOST_S = 86_400.0


#: Days already looked up in the calendar during one page or one tick (``ChecksService._one_look``).
_DAYS: contextvars.ContextVar[dict[dt.date, tuple[bool, bool]] | None] = contextvars.ContextVar("days", default=None)


class ChecksForbidden(FieldError):
    status = 403


def _template_texts(template: TemplateConfig) -> list[tuple[str, str]]:
    """Every text of a template someone typed, with the field it came from."""
    found = [("name", template.name), ("place", template.place)]
    for index, item in enumerate(template.items):
        found += [(f"items.{index}.text", item.text), (f"items.{index}.section", item.section),
                  (f"items.{index}.unit", item.unit), (f"items.{index}.place", item.place)]
    return found


@dataclass(frozen=True)
class AnswerInput:
    item: str
    answer: Answer | None = None
    value: float | None = None
    text: str = ""
    note: str = ""
    #: Photos taken with the answer (names of photos the page uploaded first).
    photos: tuple[str, ...] = ()


@dataclass
class DueCheck:
    """A checklist of the current period: its deadline, whether it is done, and the automatic answers."""

    key: str
    template: TemplateConfig
    period: str
    due_day: dt.date | None
    deadline: float | None
    run: CheckRun | None
    prefills: dict[str, Prefill] = field(default_factory=dict)
    #: Lines already answered at their places (after scanning each place's code), by item.
    lines: dict[str, PlaceLine] = field(default_factory=dict)

    def overdue(self, now: float) -> bool:
        return self.run is None and self.deadline is not None and now > self.deadline


@dataclass
class Submitted:
    run: CheckRun
    created: bool
    orders: list[WorkOrder]


def check_subject(template: str, period: str) -> str:
    """The alert subject of one checklist's period (no ``/``: not a sensor)."""
    return f"checks:{template}:{period}"


class ChecksService:
    def __init__(self, path: Path, config: ChecksConfig, record: AuditTrail, directory: Directory,
                 engine: AlertRaiser, series: SeriesStore, samples: SampleStore, samples_config: SamplesConfig,
                 tz: ZoneInfo, school_day: Callable[[dt.date], bool], canteen_open: Callable[[dt.date], bool],
                 limits: Callable[[str], Limits | None], sweeps: Callable[[float, float], Sequence[Sweep]],
                 clock: Callable[[], float] = time.time, signed: SignedPeriods | None = None) -> None:
        self.config = config
        #: Periods whose report is signed: a checklist of theirs can no longer be made up (hub.closed).
        self.signed: SignedPeriods = signed or NothingSigned()
        self.store = CheckStore(path)
        self.tz = tz
        self.clock = clock
        self._record = record
        self._directory = directory
        self._engine = engine
        self._series = series
        self._samples = samples
        self._samples_config = samples_config
        self._school_day = school_day
        self._canteen_open = canteen_open
        #: A sensor's limits in force (the engine's: profile, overrides and edits).
        self._limits = limits
        #: The gate duty's closing sweeps in ``[since, until)``.
        self._sweeps = sweeps
        self.watch_since = self.store.watch_since(clock())
        #: Places, their QR codes and the reports strangers send from them.
        # The clock is read through ``self`` when called: it may be replaced after construction.
        self.places = PlaceCodes(self.store, config, record, lambda: self.clock())  # noqa: PLW0108

    def close(self) -> None:
        self.store.close()

    def reconfigure(self, config: ChecksConfig, samples_config: SamplesConfig) -> None:
        """The ``checks`` section changed while running (an import, the admin page): in force from the next look.

        A checklist already filled keeps the template it was filled with (its version is in the record).
        """
        self.config = config
        self.places.config = config
        self._samples_config = samples_config

    # -- time and calendar ---------------------------------------------------------------------

    def local_day(self, ts: float) -> dt.date:
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    def _day_start(self, day: dt.date) -> float:
        return dt.datetime.combine(day, dt.time(0), self.tz).timestamp()

    def runs_on(self, template: TemplateConfig) -> Callable[[dt.date], bool]:
        def runs(day: dt.date) -> bool:
            school, canteen = self._day_kind(day)
            return rules.template_runs_on(template, school, canteen)
        return runs

    def _day_kind(self, day: dt.date) -> tuple[bool, bool]:
        """Whether ``day`` is a school day and a canteen day; asked once per day within ``_one_look``."""
        memo = _DAYS.get()
        if memo is None:
            return self._school_day(day), self._canteen_open(day)
        found = memo.get(day)
        if found is None:
            found = memo[day] = (self._school_day(day), self._canteen_open(day))
        return found

    @contextlib.contextmanager
    def _one_look(self) -> Iterator[None]:
        """The calendar asked once per day for the work inside (every template asks about the same days)."""
        token = _DAYS.set({} if _DAYS.get() is None else _DAYS.get())
        try:
            yield
        finally:
            _DAYS.reset(token)

    def template(self, key: str) -> TemplateConfig:
        found = self.templates().get(key)
        if found is None:
            raise NotFound("template", f"no checklist template {key!r}")
        return found

    def templates(self) -> dict[str, TemplateConfig]:
        """The templates in force: the config's, with the revisions saved on the page on top."""
        return templates.in_force(self.config.templates, self.store.latest_templates())

    def save_template(self, key: str, template: TemplateConfig, actor: str, now: float | None = None) -> int:
        """Keep ``template`` as the new revision of ``key`` (added if new); checklists filled before keep theirs."""
        now = self.clock() if now is None else now
        if not re.fullmatch(KEY_PATTERN, key) or key in _RESERVED_KEYS:
            raise FieldError("key", "lower-case letters, digits and _ (not photos, runs, templates)"
                                    " · 只能用小写字母、数字和下划线")
        for field_name, text in _template_texts(template):
            typed(field_name, text)
        revision = self.store.save_template(key, json.dumps(template.model_dump(mode="json"), ensure_ascii=False),
                                            actor, now)
        self._record.append_audit(now, actor, "check.template", f"checks:{key}", {
            "revision": revision, "version": template.version(), "name": template.name,
            "items": [item.key for item in template.items]})
        return revision

    def remove_template(self, key: str, actor: str, now: float | None = None) -> int:
        """No longer ask for checklist ``key`` (its completed checklists stay on the record)."""
        now = self.clock() if now is None else now
        self.template(key)
        revision = self.store.save_template(key, None, actor, now)
        self._record.append_audit(now, actor, "check.template", f"checks:{key}", {"revision": revision,
                                                                                  "removed": True})
        return revision

    def _deadline(self, template: TemplateConfig, period: rules.Period) -> tuple[dt.date | None, float | None]:
        day = rules.due_day(period, self.runs_on(template))
        return day, (rules.deadline(day, template.due_by, self.tz) if day is not None else None)

    # -- what is due ---------------------------------------------------------------------------

    def due(self, now: float | None = None, with_prefill: bool = True) -> list[DueCheck]:
        """Every template's checklist of the current period, done or not (none when its period has no due day),
        after the last period's where it was missed and can still be made up (its alarm still stands)."""
        now = self.clock() if now is None else now
        with self._one_look():
            return self._due(now, with_prefill)

    def _due(self, now: float, with_prefill: bool) -> list[DueCheck]:
        today = self.local_day(now)
        found: list[DueCheck] = []
        in_force = self.templates()
        periods = {key: rules.period_of(template.cadence, today) for key, template in in_force.items()}
        before = {key: rules.previous(template.cadence, periods[key]) for key, template in in_force.items()}
        on_record = self.store.brief([(key, p.key) for key, p in (*periods.items(), *before.items())])
        for key, template in in_force.items():
            current = periods[key]
            missed = self._missed(key, template, before[key], now, (key, before[key].key) in on_record)
            if missed is not None:
                found.append(missed)
            day, deadline = self._deadline(template, current)
            if day is None:
                continue
            run = on_record.get((key, current.key))
            check = DueCheck(key, template, current.key, day, deadline, run)
            if with_prefill and run is None:
                check.prefills = self.prefills(template, now)
            self._walked_lines(check)
            found.append(check)
        return found

    def _missed(self, key: str, template: TemplateConfig, period: rules.Period, now: float,
                done: bool) -> DueCheck | None:
        """The last period's checklist, while it is overdue and may still be made up (without automatic answers:
        the hub's data of today says nothing of that day)."""
        day, deadline = self._deadline(template, period)
        if day is None or deadline is None:
            return None
        late_at = deadline + self.config.grace_min * 60.0
        if not rules.overdue_active(now, late_at, done, late_at + _GIVE_UP_S[template.cadence], self.watch_since):
            return None
        return self._walked_lines(DueCheck(key, template, period.key, day, deadline, None))

    def _walked_lines(self, check: DueCheck) -> DueCheck:
        if check.run is None and any(item.place for item in check.template.items):
            check.lines = self.store.lines(check.key, check.period)
        return check

    def prefills(self, template: TemplateConfig, now: float) -> dict[str, Prefill]:
        """The automatic answers of a template's items as of ``now`` (today so far)."""
        today = self.local_day(now)
        out: dict[str, Prefill] = {}
        for item in template.items:
            if item.auto is None:
                continue
            if item.auto is AutoSource.GATES:
                out[item.key] = prefill.gates(self._sweeps(self._day_start(today), now + 1), self.tz)
            elif item.auto is AutoSource.SAMPLES:
                out[item.key] = prefill.samples(self._samples.on_day(today.isoformat()), self._samples_config,
                                                self._canteen_open(today), today, now, self.tz)
            else:
                out[item.key] = prefill.cold_chain(self._sensor_days(item.auto, self._day_start(today), now))
        return out

    def _sensor_days(self, source: AutoSource, since: float, until: float) -> list[prefill.SensorDay]:
        days = []
        for sensor in prefill.sensors_of(source, self._directory.sensors()):
            key = str(sensor["key"])
            readings = self._series.readings(key, since, until + 1)
            band = self._limits(key)
            days.append(prefill.SensorDay(str(sensor.get("name") or key), band.low if band else None,
                                          band.high if band else None, [(r.ts, r.value) for r in readings]))
        return days

    # -- filling a checklist -------------------------------------------------------------------

    def submit(self, key: str, answers: Sequence[AnswerInput], opened_at: float, actor: str,
               request_id: str | None = None, period: str | None = None, now: float | None = None) -> Submitted:
        """Store a completed checklist; each failed item opens a work order; a fast one is flagged, not refused.

        The same ``request_id`` again (a phone retrying) answers the stored checklist; a second
        checklist for a period already on record is refused (409).
        """
        now = self.clock() if now is None else now
        template = self.template(key)
        if request_id:
            again = self.store.by_request(request_id)
            if again is not None:
                if again.template != key:
                    raise Conflict("request_id", "request_id already used for another checklist")
                return Submitted(again, False, self._orders_of(again))
        current = rules.period_of(template.cadence, self.local_day(now))
        chosen = self._period(template, current, period)
        self._refuse_signed(key, template, chosen)
        if self.store.find(key, chosen.key) is not None:
            raise Conflict("period", f"{template.name} {chosen.key} is already on record · 本期已提交")
        given = {a.item: a for a in answers}
        unknown = sorted(set(given) - {item.key for item in template.items})
        if unknown:
            raise FieldError("answers", f"no item {unknown[0]!r} in {key}")
        automatic = self.prefills(template, now) if chosen == current else {}
        walked = self.store.lines(key, chosen.key)
        stored: list[NewAnswer] = []
        orders: dict[str, NewOrder] = {}
        for index, item in enumerate(template.items):
            if item.place:
                new = self._walked(item, item.key in given, walked.get(item.key))
            else:
                new = self._answered(item, given.get(item.key), automatic.get(item.key), f"answers.{index}.{item.key}")
            stored.append(new)
            if new.answer is Answer.FAIL:
                urgency = rules.urgency_of_failure(item)
                orders[item.key] = NewOrder(f"{template.name}：{item.text}", item.place or template.place,
                                            new.note, urgency, rules.order_due_at(now, urgency,
                                                                                  self.config.order_due_h),
                                            item.key)
        # A walk began at its first scan: the checklist's time counts from there.
        opened_at = min([opened_at, *(line.scanned_at for line in walked.values())])
        opened = min(now, max(opened_at, now - _OPEN_AT_MOST_S))
        fast = rules.too_fast(opened, now, self.config.min_duration_s)
        _, deadline = self._deadline(template, chosen)
        late = deadline is not None and now > deadline
        try:
            run_id, opened_orders = self.store.add_run(
                key, chosen.key, template.name, template.version(),
                json.dumps(template.model_dump(mode="json"), ensure_ascii=False), opened, now, actor, fast, late,
                request_id or None, stored, orders)
        except sqlite3.IntegrityError:
            raise Conflict("period", f"{template.name} {chosen.key} is already on record · 本期已提交") from None
        self._record.append_audit(now, actor, "check.submit", check_subject(key, chosen.key), {
            "run": run_id, "version": template.version(), "too_fast": fast, "late": late,
            "duration_s": round(now - opened, 1), "failed": sorted(orders), "orders": sorted(opened_orders.values())})
        for order_id in sorted(opened_orders.values()):
            self._record.append_audit(now, actor, "order.report", order_subject(order_id), {"run": run_id})
        if deadline is not None:
            self._engine.observe(CHECK_OVERDUE_RULE, check_subject(key, chosen.key), False, now, device="",
                                 kind=AlertKind.CHECK, message="")
        run = self.store.run(run_id)
        assert run is not None
        return Submitted(run, True, self._orders_of(run))

    @staticmethod
    def _answered(item: ItemConfig, answer: AnswerInput | None, auto: Prefill | None, field_name: str) -> NewAnswer:
        """One line as given, judged (a number outside its range fails); refused naming ``field_name``."""
        if answer is None:
            raise FieldError(f"answers.{item.key}", f"{item.text}: not answered · 未填写")
        overridden = auto is not None and auto.answer is not None and answer.answer is not auto.answer
        problem = rules.answer_problem(item, answer.answer, answer.value, answer.text, answer.note, overridden,
                                       len(answer.photos))
        drawn = answer.photos[0] if item.kind is ItemKind.SIGNATURE and answer.photos else None
        if problem is None and drawn is not None and not drawn.endswith(".png"):
            problem = "a signature is the PNG drawn on the page · 签名须在页面上手写"
        if problem is not None:
            raise FieldError(field_name, f"{item.text}: {problem}")
        judged = rules.judged(item, answer.answer, answer.value, answer.text.strip(), len(answer.photos))
        return NewAnswer(item.key, judged, answer.value, answer.text.strip(),
                         answer.note.strip(), item.auto.value if item.auto is not None and auto is not None else None,
                         auto.evidence if auto is not None else "", overridden, answer.photos)

    # -- walking a route: a place's lines after scanning its code ------------------------------

    @staticmethod
    def _walked(item: ItemConfig, given: bool, line: PlaceLine | None) -> NewAnswer:
        """A line of a place on the route: answered only on the page its code opens, never on the checklist."""
        if given:
            raise FieldError(f"answers.{item.key}", f"{item.text}: answered at {item.place} after scanning"
                                                   f" its code · 请到{item.place}扫码后填写")
        if line is None:
            raise FieldError(f"answers.{item.key}", f"{item.text}: not yet checked at {item.place}"
                                                   f" · 尚未到{item.place}扫码检查")
        return NewAnswer(item.key, line.answer, line.value, line.text, line.note, None, "", False, line.photos,
                         line.answered_by, line.answered_at, line.scan_place, line.scanned_at)

    def fill_at_place(self, key: str, scan_id: int, answers: Sequence[AnswerInput], actor: str,
                      period: str | None = None, now: float | None = None) -> list[PlaceLine]:
        """Keep the lines of checklist ``key`` answered at the place of scan ``scan_id``.

        Only that place's lines are taken, only from the person who scanned, only while the scan
        is fresh (``checks.scan_valid_min``) and its place's code still in use; each line keeps the
        scan's place and time. They become the checklist's answers when it is submitted.
        """
        now = self.clock() if now is None else now
        template = self.template(key)
        scan = self._fresh_scan(scan_id, actor, now)
        current = rules.period_of(template.cadence, self.local_day(now))
        chosen = self._period(template, current, period)
        self._refuse_signed(key, template, chosen)
        if self.store.find(key, chosen.key) is not None:
            raise Conflict("period", f"{template.name} {chosen.key} is already on record · 本期已提交")
        if not answers:
            raise FieldError("answers", "no line answered · 未填写")
        automatic = self.prefills(template, now) if chosen == current else {}
        lines: list[PlaceLine] = []
        for index, answer in enumerate(answers):
            item = template.item(answer.item)
            if item is None:
                raise FieldError(f"answers.{index}.item", f"no item {answer.item!r} in {key}")
            if item.place != scan.place:
                raise FieldError(f"answers.{index}.item", f"{item.text}: not a line of {scan.place}"
                                                          f" · 此项不在{scan.place}检查")
            new = self._answered(item, answer, automatic.get(item.key), f"answers.{index}.{item.key}")
            lines.append(PlaceLine(key, chosen.key, item.key, new.answer, new.value, new.text, new.note, new.photos,
                                   actor, now, scan.id, scan.place, scan.at))
        self.store.put_lines(lines)
        self._record.append_audit(now, actor, "check.lines", check_subject(key, chosen.key), {
            "place": scan.place, "scan": scan.id, "scanned_at": scan.at, "items": [line.item for line in lines]})
        return lines

    def _fresh_scan(self, scan_id: int | None, actor: str, now: float) -> PlaceScan:
        """The actor's own scan, of a place still in use, within ``checks.scan_valid_min`` (else 403)."""
        scan = self.store.scan(scan_id) if scan_id is not None else None
        if scan is None or scan.actor != actor:
            raise ChecksForbidden("scan", "no scan of yours with this id · 请先扫描该地点的二维码")
        place = self.store.place(scan.place_id)
        if place is None or place.retired_at is not None:
            raise ChecksForbidden("scan", "this place's code is retired · 该地点二维码已停用")
        if now - scan.at > self.config.scan_valid_min * 60.0 or now < scan.at:
            raise ChecksForbidden("scan", "the scan is too old: scan the code again · 扫码已过期，请重新扫码")
        return scan

    # -- a reviewer sends a line back ----------------------------------------------------------

    def reject(self, run_id: int, item_key: str, reason: str, actor: str, now: float | None = None) -> Rejection:
        """Send a line of a completed checklist back to the person who answered it, with the reason.

        Not a line of a signed period (409: the signed report stands), nor one already sent back.
        """
        now = self.clock() if now is None else now
        run, item, answer = self._line_of(run_id, item_key)
        reason = typed("reason", reason)
        if not reason:
            raise FieldError("reason", "say what is wrong with the line · 请写明退回原因")
        self._refuse_signed_run(run)
        previous = json.dumps({k: v for k, v in vars(answer).items() if k != "run_id"}, ensure_ascii=False,
                              default=str)
        rejection_id = self.store.reject(run.id, item.key, answer.answered_by, reason, actor, now, previous)
        if rejection_id is None:
            raise Conflict("item", f"{item.text}: already sent back · 该项已退回，等待重填")
        self._record.append_audit(now, actor, "check.reject", check_subject(run.template, run.period), {
            "run": run.id, "item": item.key, "person": answer.answered_by, "reason": reason})
        found = self.store.rejection(rejection_id)
        assert found is not None
        return found

    def refill(self, rejection_id: int, answer: AnswerInput, actor: str, scan_id: int | None = None,
               now: float | None = None) -> Rejection:
        """The person a line was sent back to fills it again (a line of a place: after scanning it again)."""
        now = self.clock() if now is None else now
        rejection = self.store.rejection(rejection_id)
        if rejection is None:
            raise NotFound("rejection_id", f"no line sent back with id {rejection_id}")
        if rejection.person != actor:
            raise ChecksForbidden("actor", "only the person it was sent back to fills it again · 只能由原填写人重填")
        if rejection.refilled_at is not None:
            raise Conflict("rejection_id", "already filled again · 已重填")
        run, item, before = self._line_of(rejection.run_id, rejection.item)
        self._refuse_signed_run(run)
        if answer.item != item.key:
            raise FieldError("item", f"this line is {item.key!r}")
        new = self._answered(item, answer, None, f"answer.{item.key}")
        if item.place:
            scan = self._fresh_scan(scan_id, actor, now)
            if scan.place != item.place:
                raise FieldError("scan", f"{item.text}: scan the code at {item.place} · 请到{item.place}扫码后重填")
        template = TemplateConfig.model_validate(json.loads(run.template_json))
        order = None
        if new.answer is Answer.FAIL and before.order_id is None:
            urgency = rules.urgency_of_failure(item)
            order = NewOrder(f"{template.name}：{item.text}", item.place or template.place, new.note, urgency,
                             rules.order_due_at(now, urgency, self.config.order_due_h), item.key)
        try:
            order_id = self.store.refill(rejection, new, now, order)
        except LookupError:
            raise Conflict("rejection_id", "already filled again · 已重填") from None
        self._record.append_audit(now, actor, "check.refill", check_subject(run.template, run.period), {
            "run": run.id, "item": item.key, "rejection": rejection.id, "answer": new.answer, "order": order_id})
        if order_id is not None:
            self._record.append_audit(now, actor, "order.report", order_subject(order_id), {"run": run.id})
        found = self.store.rejection(rejection.id)
        assert found is not None
        return found

    def _line_of(self, run_id: int, item_key: str) -> tuple[CheckRun, ItemConfig, ItemAnswer]:
        run = self.store.run(run_id)
        if run is None:
            raise NotFound("run_id", f"no checklist {run_id}")
        template = TemplateConfig.model_validate(json.loads(run.template_json))
        item = template.item(item_key)
        answer = next((a for a in run.answers if a.item == item_key), None)
        if item is None or answer is None:
            raise NotFound("item", f"no item {item_key!r} in checklist {run_id}")
        return run, item, answer

    def _refuse_signed_run(self, run: CheckRun) -> None:
        template = TemplateConfig.model_validate(json.loads(run.template_json))
        current = rules.period_of(template.cadence, self.local_day(run.submitted_at))
        period = current if current.key == run.period else rules.previous(template.cadence, current)
        self._refuse_signed(run.template, template, period)

    def _refuse_signed(self, key: str, template: TemplateConfig, period: rules.Period) -> None:
        """A checklist of a signed period is not made up afterwards: the signed report said it was missed (409)."""
        start = dt.datetime.combine(period.first, dt.time(0), self.tz).timestamp()
        end = dt.datetime.combine(period.last + dt.timedelta(days=1), dt.time(0), self.tz).timestamp() - 1
        refuse_signed(self.signed, "period", f"checklist {key} {period.key}", f"检查表 {template.name} {period.key} ",
                      start, end)

    def _period(self, template: TemplateConfig, current: rules.Period, asked: str | None) -> rules.Period:
        """The current period, or the one before it (a checklist done after midnight for yesterday)."""
        if asked is None or asked == current.key:
            return current
        before = rules.previous(template.cadence, current)
        if asked == before.key:
            return before
        raise FieldError("period", f"only {current.key} or {before.key} can be filled now")

    def _orders_of(self, run: CheckRun) -> list[WorkOrder]:
        found = [self.store.order(a.order_id) for a in run.answers if a.order_id is not None]
        return [o for o in found if o is not None]

    def runs_between(self, since: float, until: float) -> list[CheckRun]:
        return self.store.submitted_between(since, until)

    # -- work orders ---------------------------------------------------------------------------

    def order(self, order_id: int) -> WorkOrder:
        found = self.store.order(order_id)
        if found is None:
            raise NotFound("id", f"no work order {order_id}")
        return found

    def report(self, title: str, place: str, text: str, urgency: Urgency, actor: str,
               now: float | None = None, category: Category = Category.OTHER) -> WorkOrder:
        """A hazard reported directly (发现 → 上报): a work order waiting to be assigned."""
        now = self.clock() if now is None else now
        order_id = self.store.add_order(NewOrder(title.strip(), place.strip(), text.strip(), urgency,
                                                 rules.order_due_at(now, urgency, self.config.order_due_h),
                                                 category=category), actor, now)
        self._record.append_audit(now, actor, "order.report", order_subject(order_id),
                                  {"title": title, "place": place, "urgency": urgency.value,
                                   "category": category.value})
        return self.order(order_id)

    def _move(self, order_id: int, action: OrderAction, actor: str, note: str, now: float | None,
              changes: Callable[[WorkOrder, float], dict[str, object]] | None = None,
              safety_group: bool = True) -> WorkOrder:
        now = self.clock() if now is None else now
        order = self.order(order_id)
        state = rules.next_state(order.state, action)
        if state is None:
            raise Conflict("state", f"work order {order_id} is {order.state.value}: cannot {action.value}"
                                    " · 当前状态不能进行此操作")
        problem = (rules.acceptance_problem(order.fixed_by, actor, order.reported_by, safety_group)
                   if action in (OrderAction.ACCEPT, OrderAction.REOPEN) else
                   rules.start_problem(order.assignee, actor) if action is OrderAction.START else None)
        if problem is not None:
            raise ChecksForbidden("actor", problem)
        values = changes(order, now) if changes is not None else {}
        if not self.store.step(order_id, order.state, state, actor, action.value, now, note.strip(), values):
            raise Conflict("state", f"work order {order_id} changed meanwhile; reload · 工单已被他人更新")
        self._record.append_audit(now, actor, f"order.{action.value}", order_subject(order_id),
                                  {"from": order.state.value, "to": state.value, "note": note.strip(),
                                   **{k: v for k, v in values.items() if k in ("assignee", "due_at")}})
        moved = self.order(order_id)
        if state not in OPEN_ORDER_STATES:
            self._observe_order(moved, now)
        return moved

    def assign(self, order_id: int, assignee: str, actor: str, due_at: float | None = None, note: str = "",
               now: float | None = None) -> WorkOrder:
        def changes(order: WorkOrder, at: float) -> dict[str, object]:
            return {"assignee": assignee, "due_at": due_at if due_at is not None else order.due_at}
        return self._move(order_id, OrderAction.ASSIGN, actor, note, now, changes)

    def fix(self, order_id: int, note: str, actor: str, now: float | None = None) -> WorkOrder:
        if not note.strip():
            raise FieldError("note", "say what was done · 请写明整改措施")

        def changes(order: WorkOrder, at: float) -> dict[str, object]:
            return {"fix_note": note.strip(), "fixed_by": actor, "fixed_at": at}
        return self._move(order_id, OrderAction.FIX, actor, note, now, changes)

    def start(self, order_id: int, actor: str, note: str = "", now: float | None = None) -> WorkOrder:
        """The assignee has started on it (处理中); its due time stands."""
        return self._move(order_id, OrderAction.START, actor, note, now)

    def accept(self, order_id: int, note: str, actor: str, now: float | None = None,
               safety_group: bool = True) -> WorkOrder:
        """验收通过: by the reporter, or by the safety group (``safety_group``: the actor may accept any order)."""
        def changes(order: WorkOrder, at: float) -> dict[str, object]:
            return {"accepted_by": actor, "accepted_at": at}
        return self._move(order_id, OrderAction.ACCEPT, actor, note, now, changes, safety_group)

    def reopen(self, order_id: int, reason: str, actor: str, now: float | None = None,
               safety_group: bool = True) -> WorkOrder:
        """验收不通过: by whoever may accept it, with the reason; back to the assignee with a new due time."""
        if not reason.strip():
            raise FieldError("reason", "say why the fix is not accepted · 请写明不通过的原因")

        def changes(order: WorkOrder, at: float) -> dict[str, object]:
            return {"due_at": rules.order_due_at(at, order.urgency, self.config.order_due_h), "fixed_at": None}
        return self._move(order_id, OrderAction.REOPEN, actor, reason, now, changes, safety_group)

    def open_for_photos(self, order_id: int) -> WorkOrder:
        """The order, if a photo may still be added (a closed one takes notes only: 409)."""
        order = self.order(order_id)
        if order.state is OrderState.ACCEPTED:
            raise Conflict("order_id", f"work order {order_id} is accepted: nothing more can be attached"
                                       " · 工单已验收，不能再添加照片")
        return order

    def photo_added(self, order_id: int, name: str, size: int, actor: str, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self._record.append_audit(now, actor, "order.photo", order_subject(order_id), {"photo": name, "bytes": size})

    def note(self, order_id: int, text: str, actor: str, now: float | None = None) -> WorkOrder:
        """A note on any order, closed ones included (the only change a closed order takes)."""
        if not text.strip():
            raise FieldError("text", "empty note")
        return self._move(order_id, OrderAction.NOTE, actor, text, now)

    # -- the food-safety records ---------------------------------------------------------------

    def _record_of(self, key: str, period: rules.Period) -> records.ChecklistRecord:
        template = self.template(key)
        run = self.store.find(key, period.key)
        orders = {o.id: o for o in self._orders_of(run)} if run is not None else {}
        return records.checklist_record(template, period.key, run, orders)

    def daily_record(self, day: dt.date) -> records.ChecklistRecord:
        """《每日食品安全检查记录》 of ``day``: the daily checklist as filled, or the blank form."""
        return self._record_of(self.config.daily_record, rules.period_of(Cadence.DAILY, day))

    def weekly_report(self, day: dt.date, now: float | None = None) -> records.PeriodSummary:
        """《每周食品安全排查治理报告》 of the ISO week of ``day``: the weekly checklist, the week's figures, each
        hazard found in the week, and what the fridges, freezers and gates showed over it."""
        now = self.clock() if now is None else now
        with self._one_look():
            summary = self._summary(Cadence.WEEKLY, day, self.config.weekly_report, now)
            week = rules.period_of(Cadence.WEEKLY, day)
            since = self._day_start(week.first)
            until = min(self._day_start(week.last + dt.timedelta(days=1)), now)
            if until > since:
                for source, title in ((AutoSource.FRIDGES, "冷藏设备"), (AutoSource.FREEZERS, "冷冻设备")):
                    seen = prefill.cold_chain(self._sensor_days(source, since, until), span=prefill.Span.WEEK)
                    summary.sensors.append(records.SensorLine(title, seen))
                summary.sensors.append(records.SensorLine(
                    "校门关闭", prefill.gates(self._sweeps(since, until + 1), self.tz, prefill.Span.WEEK)))
            return summary

    def monthly_minutes(self, first: dt.date, now: float | None = None) -> records.PeriodSummary:
        """《每月食品安全调度会议纪要》 of the month of ``first``: the monthly checklist and the month's figures."""
        now = self.clock() if now is None else now
        with self._one_look():
            return self._summary(Cadence.MONTHLY, first, self.config.monthly_minutes, now)

    def _summary(self, cadence: Cadence, day: dt.date, record_key: str, now: float) -> records.PeriodSummary:
        """A week's or a month's figures around its own checklist (``record_key``, left out when not in force)."""
        span = rules.period_of(cadence, day)
        in_force = self.templates()
        summary = records.PeriodSummary(cadence, span.key, self._record_of(record_key, span)
                                        if record_key in in_force else None)
        since = self._day_start(span.first)
        until = self._day_start(span.last + dt.timedelta(days=1))
        for key, template in in_force.items():
            due: list[tuple[float, CheckRun | None]] = []
            seen: set[str] = set()
            for one_day in span.days():
                period = rules.period_of(template.cadence, one_day)
                if period.key in seen:
                    continue
                seen.add(period.key)
                _, deadline = self._deadline(template, period)
                if deadline is not None and since <= deadline < until:
                    due.append((deadline, self.store.find(key, period.key)))
            if due:
                summary.checks.append(records.count_checks(template.name, due, now))
        records.order_figures(summary, self.store.orders_touched(since, until), since, until, now)
        return summary

    # -- the duty ------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Raise or clear the overdue alarms of checklists (this period and the last) and of work orders."""
        with self._one_look():
            self._tick(now)

    def _tick(self, now: float) -> None:
        today = self.local_day(now)
        grace_s = self.config.grace_min * 60.0
        for key, template in self.templates().items():
            current = rules.period_of(template.cadence, today)
            for period in (rules.previous(template.cadence, current), current):
                day, deadline = self._deadline(template, period)
                if day is None or deadline is None:
                    continue
                late_at = deadline + grace_s
                done = bool(self.store.done([(key, period.key)]))
                active = rules.overdue_active(now, late_at, done, late_at + _GIVE_UP_S[template.cadence],
                                              self.watch_since)
                self._engine.observe(CHECK_OVERDUE_RULE, check_subject(key, period.key), active, now, device="",
                                     kind=AlertKind.CHECK, severity=Severity.WARNING,
                                     message=self._check_message(template, period.key, deadline),
                                     data={"template": key, "period": period.key})
        for order in self.store.orders(OPEN_ORDER_STATES, limit=100_000):
            self._observe_order(order, now)

    def _observe_order(self, order: WorkOrder, now: float) -> None:
        self._engine.observe(ORDER_OVERDUE_RULE, order_subject(order.id),
                             rules.order_overdue(now, order.state, order.due_at), now, device="",
                             kind=AlertKind.WORK_ORDER,
                             severity=Severity.WARNING if order.urgency is not Urgency.HIGH else Severity.CRITICAL,
                             message=self._order_message(order), data={"order": order.id})

    def _check_message(self, template: TemplateConfig, period: str, deadline: float) -> str:
        at = dt.datetime.fromtimestamp(deadline, self.tz).strftime("%m-%d %H:%M")
        if self._engine.locale == "en":
            return f"checklist {template.name} ({period}) not done by {at}"
        return f"{template.name}（{period}）应于 {at} 前完成，尚未提交"

    def _order_message(self, order: WorkOrder) -> str:
        at = dt.datetime.fromtimestamp(order.due_at, self.tz).strftime("%m-%d %H:%M")
        who = order.assignee or "未指派"
        if self._engine.locale == "en":
            return f"work order #{order.id} {order.title} ({order.place}) due {at}, not fixed ({who})"
        return f"工单 #{order.id} {order.title}（{order.place}）应于 {at} 前整改，尚未完成（{who}）"
