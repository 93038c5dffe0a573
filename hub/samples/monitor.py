"""What the hub runs for food samples: logging from the station and the API, timers, alarms, the cabinet watch.

Every alarm goes through ``AlertEngine.observe``, so sample alarms get the same
delay, lifecycle, escalation, silences and audit as a fridge's. The record itself
lives in ``SampleStore``; the rules are the pure functions of ``hub.samples.rules``.
Times are passed in (``at``/``now``) or come from the injected ``clock``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge import wire
from hub.alerts.engine import THRESHOLD_RULE
from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser, Record
from hub.calendar import SchoolCalendar
from hub.closed import NothingSigned, SignedPeriods, signed_message
from hub.errors import FieldError
from hub.samples import rules
from hub.samples.config import EVENT_MEAL, LABEL_PREFIX, MEAL_PATTERN, SamplesConfig
from hub.samples.store import Dish, ExcursionLink, SampleRecord, SampleStore
from hub.store.base import SeriesStore, StoredEvent

_LOGGER = logging.getLogger(__name__)

# Food samples' rules (their descriptions: hub.alerts.builtin).
MISSING_RULE = RuleKind.SAMPLE_MISSING
UNDERWEIGHT_RULE = RuleKind.SAMPLE_UNDERWEIGHT
EARLY_DISCARD_RULE = RuleKind.SAMPLE_DISCARDED_EARLY
DISCARDABLE_RULE = RuleKind.SAMPLE_DISCARDABLE
ALERT_KIND = AlertKind.SAMPLE
NOTICE_KIND = AlertKind.SAMPLE_NOTICE
#: Readings this far either side of an excursion are part of its trace (how it began and ended).
TRACE_MARGIN_S = 600.0
#: Discarded records are still checked against late readings (an edge's outbox replay) for this long.
LATE_READINGS_S = 86400.0


class SampleError(FieldError):
    """Input the record cannot take; ``field`` names the key at fault (422)."""


class SampleConflict(SampleError):
    """A valid request the record's state does not allow (discarding twice): 409."""

    status = 409


class SampleNotFound(SampleError):
    """No sample record with that id: 404."""

    status = 404


class SampleForbidden(SampleError):
    """Someone else's entry: only the person who logged a dish may correct it (403)."""

    status = 403


@dataclass(frozen=True)
class DishInput:
    name: str
    weight_g: float | None = None
    code: str | None = None
    #: Accepted under the minimum weight as "short" only with the reason (people; a station's scale is flagged).
    short_reason: str = ""


@dataclass
class LogResult:
    record: SampleRecord
    created: bool
    underweight: list[Dish] = field(default_factory=list)


#: How often the stations' "samples held" lights are brought up to date.
INDICATOR_CHECK_S = 10.0

def subject_of(day: str, meal: str, occasion: str = "") -> str:
    """The alert subject of a meal's samples (no ``/``: it is not a device's sensor)."""
    return f"samples:{day}:{meal}" + (f":{occasion}" if occasion else "")


class SampleMonitor:
    def __init__(self, path: Path, config: SamplesConfig, state: Record, series: SeriesStore, engine: AlertRaiser,
                 tz: ZoneInfo, calendar: Callable[[], SchoolCalendar], clock: Callable[[], float] = time.time,
                 send_command: Callable[[str, wire.Command], None] | None = None,
                 signed: SignedPeriods | None = None) -> None:
        self.config = config
        #: Periods whose report is signed: their records take no more dishes, people or discards (hub.closed).
        self.signed: SignedPeriods = signed or NothingSigned()
        #: Publishes a ``cmd`` to a station device (the hub's MQTT session); None: no lights to drive.
        self.send_command = send_command
        #: What each station's "samples held" light was last told, so only changes are sent.
        self._indicator_sent: dict[str, str] = {}
        self._next_indicator_check = float("-inf")
        #: Where the school calendar comes from: the gate's, which includes the overrides made through the API.
        self._calendar = calendar
        self.tz = tz
        self.store = SampleStore(path)
        self.clock = clock
        self._state = state
        self._series = series
        self._engine = engine
        self._lock = threading.RLock()
        self._next_cabinet_check = float("-inf")
        # Meals due before the hub first watched are not "missing": it was not there to see them logged.
        self.watch_since = self.store.watch_since(clock())
        #: Told the id of a record after people (or a station) changed it: the live web pages.
        self._change_listeners: list[Callable[[int | None], None]] = []

    def add_change_listener(self, listener: Callable[[int | None], None]) -> None:
        self._change_listeners.append(listener)


    @property
    def calendar(self) -> SchoolCalendar:
        return self._calendar()
    def close(self) -> None:
        self.store.close()

    # -- helpers -------------------------------------------------------------------------------

    def local_day(self, ts: float) -> dt.date:
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    def _meal_ok(self, meal: str) -> bool:
        return meal == EVENT_MEAL or meal in self.config.meals

    def _audit(self, at: float, actor: str, action: str, record: SampleRecord, detail: dict[str, Any]) -> None:
        self._state.append_audit(at, actor or "system", action, subject_of(record.day, record.meal, record.occasion),
                                 {"record": record.id, **detail})
        for listener in self._change_listeners:
            try:
                listener(record.id)
            except Exception:
                _LOGGER.exception("sample change listener failed for record %s", record.id)

    def _device(self, record: SampleRecord) -> str:
        return record.station or "hub"

    def infer_meal(self, ts: float) -> str:
        """The configured meal served closest to ``ts`` (a scan with no meal and no button pressed)."""
        local = dt.datetime.fromtimestamp(ts, self.tz)
        day = local.date()

        def distance(item: tuple[str, Any]) -> float:
            served = dt.datetime.combine(day, item[1].serve_at, self.tz)
            return abs((local - served).total_seconds())

        if not self.config.meals:
            return EVENT_MEAL
        return min(self.config.meals.items(), key=distance)[0]

    # -- logging -------------------------------------------------------------------------------

    def log_meal(self, meal: str, dishes: Sequence[DishInput], *, day: dt.date | None = None, occasion: str = "",
                 placed_at: float | None = None, placed_by: str = "", reviewer: str = "", cabinet: str = "",
                 station: str = "", source: str = "api", now: float | None = None, actor: str = "") -> LogResult:
        """Create or add to a meal's record; under-weight dishes are flagged and alarmed at once.

        ``placed_by`` and ``reviewer`` are data on the record; the audit entry names ``actor`` (the
        signed-in account, or the station that sent the event) at the hub's time ``now``, while
        ``placed_at`` (when the samples went in the cabinet) is part of what it records. A discarded
        record takes nothing more (409).
        """
        now = self.clock() if now is None else now
        at = placed_at if placed_at is not None else now
        if not self._meal_ok(meal):
            known = ", ".join([*self.config.meals, EVENT_MEAL])
            raise SampleError("meal", f"unknown meal {meal!r} (configured: {known})")
        if occasion and meal != EVENT_MEAL:
            raise SampleError("occasion", f"only the {EVENT_MEAL!r} meal has an occasion")
        if at > now + 300:
            raise SampleError("placed_at", "is in the future")
        for index, dish in enumerate(dishes):
            if not dish.name.strip():
                raise SampleError(f"dishes.{index}.name", "a dish needs a name")
            if dish.weight_g is not None and dish.weight_g <= 0:
                raise SampleError(f"dishes.{index}.weight_g", "must be positive")
            if source == "api":
                self._refuse_light(f"dishes.{index}", dish.weight_g, dish.short_reason)
        record_day = (day or self.local_day(at)).isoformat()
        with self._lock:
            existing = self.store.find(record_day, meal, occasion)
            self._refuse_discarded(existing, "dishes")
            if existing is not None:
                self._refuse_signed(existing, "dishes")
            else:
                self._refuse_signed_day(dt.date.fromisoformat(record_day), at)
            record, created = self.store.open_record(
                record_day, meal, occasion, cabinet=cabinet or self.config.cabinet_for(station), station=station,
                at=at, placed_by=placed_by.strip(), reviewer=reviewer.strip(), retention_s=self.config.retention_s,
                now=now)
            added = [self.store.add_dish(record.id, d.name.strip(), d.weight_g, d.code or None, at, source,
                                         self.config.retention_s, short_reason=self._short(d.weight_g, d.short_reason),
                                         logged_by=actor or station) for d in dishes]
            record = self._reload(record.id)
            light = [d for d in added if rules.underweight(d.weight_g, self.config.min_weight_g)]
            self._audit(now, actor or station, "sample.logged", record, {
                "meal": meal, "source": source, "created": created, "placed_at": at, "placed_by": placed_by.strip(),
                "reviewer": reviewer.strip(),
                "dishes": [{"name": d.name, "weight_g": d.weight_g, "code": d.code, "short_reason": d.short_reason}
                           for d in added]})
            self._check_weights(record, at)
        return LogResult(record, created, light)

    def _short(self, weight_g: float | None, reason: str) -> str:
        """The short reason kept with a dish: only while it is under the minimum."""
        return reason.strip() if rules.underweight(weight_g, self.config.min_weight_g) else ""

    def _refuse_light(self, field: str, weight_g: float | None, short_reason: str) -> None:
        """A person's entry under the minimum weight is refused, unless it is explicitly short with a reason."""
        if not rules.underweight(weight_g, self.config.min_weight_g) or short_reason.strip():
            return
        minimum = self.config.min_weight_g
        raise SampleError(f"{field}.weight_g", f"{weight_g:g} g is under the minimum of {minimum:g} g per dish"
                                               f" (GB 31654-2021): add to the box and weigh it again, or log it as"
                                               f" short with the reason (short_reason) and add the portion later"
                                               f" · 留样量 {weight_g:g} g 不足每样 {minimum:g} g 的要求："
                                               f"请补足后再称重，或标为“不足量”并写明原因，之后补足")

    def add_portion(self, record_id: int, dish_id: int, add_g: float, *, actor: str,
                    now: float | None = None) -> SampleRecord:
        """Top up a short dish: its weight grows by ``add_g``; at the minimum the under-weight alarm ends. Audited."""
        now = self.clock() if now is None else now
        if add_g <= 0:
            raise SampleError("add_g", "must be positive")
        with self._lock:
            record, dish = self._dish_of(record_id, dish_id, "add_g")
            weight = (dish.weight_g or 0.0) + add_g
            self.store.update_dish(dish.id, dish.name, weight, self._short(weight, dish.short_reason))
            record = self._reload(record_id)
            self._audit(now, actor, "sample.portion_added", record, {
                "dish": dish.id, "name": dish.name, "before_g": dish.weight_g, "added_g": add_g, "weight_g": weight})
            self._check_weights(record, now)
        return record

    def correct_dish(self, record_id: int, dish_id: int, *, name: str | None, weight_g: float | None,
                     short_reason: str, reason: str, actor: str, now: float | None = None) -> SampleRecord:
        """Its author corrects a wrong entry (name or weight) while the samples are held; audited with before/after.

        Refused after the retention period (the record is what the inspector reads: 409), once
        discarded or its period signed (409), and for anyone but the account that logged it (403).
        """
        now = self.clock() if now is None else now
        if not reason.strip():
            raise SampleError("reason", "say what was wrong · 请写明更正原因")
        with self._lock:
            record, dish = self._dish_of(record_id, dish_id, "dish")
            if not dish.logged_by or dish.logged_by != actor:
                raise SampleForbidden("dish", f"only the person who logged this dish ({dish.logged_by or 'unknown'})"
                                              f" may correct it · 只有登记人本人可以更正")
            if now >= record.held_until:
                raise SampleConflict("dish", "the retention period is over: the record can no longer be corrected"
                                             " · 留样期已过，记录不能再更正")
            new_name = (name if name is not None else dish.name).strip()
            if not new_name:
                raise SampleError("name", "a dish needs a name")
            new_weight = weight_g if weight_g is not None else dish.weight_g
            if new_weight is not None and new_weight <= 0:
                raise SampleError("weight_g", "must be positive")
            kept_reason = short_reason.strip() or (dish.short_reason if weight_g is None else "")
            self._refuse_light("correction", new_weight, kept_reason)
            self.store.update_dish(dish.id, new_name, new_weight, self._short(new_weight, kept_reason))
            record = self._reload(record_id)
            self._audit(now, actor, "sample.corrected", record, {
                "dish": dish.id, "reason": reason.strip(),
                "before": {"name": dish.name, "weight_g": dish.weight_g, "short_reason": dish.short_reason},
                "after": {"name": new_name, "weight_g": new_weight,
                          "short_reason": self._short(new_weight, kept_reason)}})
            self._check_weights(record, now)
        return record

    def _dish_of(self, record_id: int, dish_id: int, field: str) -> tuple[SampleRecord, Dish]:
        record = self._reload(record_id)
        self._refuse_discarded(record, field)
        self._refuse_signed(record, field)
        dish = next((d for d in record.dishes if d.id == dish_id), None)
        if dish is None:
            raise SampleNotFound("dish", f"no dish {dish_id} in sample record {record_id}")
        return record, dish

    @staticmethod
    def _refuse_discarded(record: SampleRecord | None, field: str) -> None:
        """A discarded record is closed: what was held, by whom, is what the inspector reads (409)."""
        if record is not None and record.discarded_at is not None:
            raise SampleConflict(field, f"sample record {record.id} was discarded by {record.discarded_by}; a"
                                        f" discarded record cannot be changed · 该留样记录已弃置，不能再修改")

    def _refuse_signed(self, record: SampleRecord, field: str) -> None:
        """A record of a signed period is what the signature vouched for (409; a note can be added)."""
        signed = self.signed.covering(record.placed_at)
        if signed is not None:
            raise SampleConflict(field, signed_message(f"sample record {record.id}", f"留样记录 {record.id} ",
                                                       signed))

    def _refuse_signed_day(self, day: dt.date, at: float) -> None:
        """No new record for a meal of a signed period: its report already said what was (not) kept."""
        start = dt.datetime.combine(day, dt.time(0), self.tz).timestamp()
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), self.tz).timestamp() - 1
        signed = self.signed.covering(at) or self.signed.covering(start, end)
        if signed is not None:
            raise SampleConflict("date", signed_message(f"a sample record of {day.isoformat()}",
                                                        f"{day.isoformat()} 的留样记录", signed))

    def _reload(self, record_id: int) -> SampleRecord:
        record = self.store.record(record_id)
        if record is None:
            raise SampleNotFound("id", f"no sample record {record_id}")
        return record

    def _check_weights(self, record: SampleRecord, at: float) -> None:
        light = [d for d in record.dishes if rules.underweight(d.weight_g, self.config.min_weight_g)]
        active = bool(light) and record.discarded_at is None
        message = ""
        if light:
            names = "、".join(f"{d.name} {d.weight_g:g} g" for d in light if d.weight_g is not None)
            message = (f"{record.day} {self.config.meal_name(record.meal)}留样不足量：{names}"
                       f"（每样应不少于 {self.config.min_weight_g:g} g）")
        self._engine.observe(UNDERWEIGHT_RULE, subject_of(record.day, record.meal, record.occasion), active, at,
                             kind=ALERT_KIND, severity=Severity.WARNING, device=self._device(record), message=message,
                             data={"record": record.id, "dishes": [d.id for d in light]})

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Edge ``sample`` events: a meal button opens the meal's record, a scan adds or confirms a dish."""
        for event in sorted(events, key=lambda e: e.ts):
            if event.kind != "sample":
                continue
            try:
                detail = json.loads(event.detail)
                if event.state == "logged":
                    self._on_button(event, detail)
                elif event.state == "scanned":
                    self._on_scan(event, detail)
                else:
                    _LOGGER.info("sample event %s from %s: state %r not handled", event.seq, event.sensor,
                                 event.state)
            except SampleError as error:
                _LOGGER.warning("sample event from %s refused: %r", event.sensor, str(error))
                self._state.append_audit(event.ts, event.device, "sample.refused", event.sensor,
                                         {"state": event.state, "detail": event.detail, "reason": str(error)})

    @staticmethod
    def _weight(detail: dict[str, Any]) -> float | None:
        value = detail.get("weight_g")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def _on_button(self, event: StoredEvent, detail: dict[str, Any]) -> None:
        meal = str(detail.get("meal") or "")
        if not re.match(MEAL_PATTERN, meal):
            raise SampleError("meal", f"a button event needs a meal, got {meal!r}")
        self.log_meal(meal, [], placed_at=event.ts, placed_by=str(detail.get("by") or ""), station=event.device,
                      cabinet=self.config.cabinet_for(event.sensor), source="button", now=max(event.ts, self.clock()),
                      actor=event.device)

    def _on_scan(self, event: StoredEvent, detail: dict[str, Any]) -> None:
        code = str(detail.get("code") or "").strip().removeprefix(LABEL_PREFIX)
        if not code:
            raise SampleError("code", "a scan event needs a code")
        weight = self._weight(detail)
        now = max(event.ts, self.clock())
        existing = self.store.dish_by_code(code) if code not in self.config.dish_codes else None
        if existing is not None:
            # A label the hub printed: the box is in the cabinet (and maybe weighed now).
            record = self._reload(existing.record_id)
            self._refuse_discarded(record, "code")
            with self._lock:
                self.store.add_dish(record.id, existing.name, weight, code, event.ts, "scanner",
                                    self.config.retention_s, scanned=True)
                record = self._reload(record.id)
                self._audit(now, event.device, "sample.scanned", record, {
                    "code": code, "weight_g": weight, "scanned_at": event.ts, "by": str(detail.get("by") or "")})
                self._check_weights(record, event.ts)
            return
        meal = str(detail.get("meal") or "")
        record_found = None
        if not meal:
            since = event.ts - self.config.station_window_min * 60
            record_found = self.store.latest_opened(event.device, since)
            meal = record_found.meal if record_found is not None else self.infer_meal(event.ts)
        name = self.config.dish_codes.get(code, code)
        dish_code = None if code in self.config.dish_codes else code
        self.log_meal(meal, [DishInput(name, weight, dish_code)], occasion=record_found.occasion if record_found
                      else "", day=dt.date.fromisoformat(record_found.day) if record_found else None,
                      placed_at=event.ts, placed_by=str(detail.get("by") or ""), station=event.device,
                      cabinet=self.config.cabinet_for(event.sensor), source="scanner", now=now, actor=event.device)

    # -- people --------------------------------------------------------------------------------

    def set_people(self, record_id: int, placed_by: str = "", reviewer: str = "", *, actor: str) -> SampleRecord:
        """Name the sampler or the reviewer on the record; the audit entry names ``actor``, who made the change."""
        with self._lock:
            record = self._reload(record_id)
            self._refuse_discarded(record, "placed_by" if placed_by.strip() else "reviewer")
            self._refuse_signed(record, "placed_by" if placed_by.strip() else "reviewer")
            self.store.set_people(record_id, placed_by.strip(), reviewer.strip())
            self._audit(self.clock(), actor, "sample.reviewed" if reviewer else "sample.updated", record,
                        {"placed_by": placed_by, "reviewer": reviewer,
                         "before": {"placed_by": record.placed_by, "reviewer": record.reviewer}})
        return self._reload(record_id)

    def discard(self, record_id: int, by: str, at: float | None = None, note: str = "", *,
                actor: str = "") -> SampleRecord:
        """Record who threw the samples away and when; before the retention ends it is an alarm.

        ``by`` is how the record names the person (弃样人); the audit entry names ``actor`` at the hub's time.
        """
        now = self.clock()
        at = now if at is None else at
        if not by.strip():
            raise SampleError("by", "who discarded the samples must be recorded")
        if at > now + 60:
            raise SampleError("at", "a discard cannot be recorded in the future")
        with self._lock:
            record = self._reload(record_id)
            if at < record.placed_at:
                raise SampleError("at", "is before the samples were placed")
            signed = self.signed.covering(at)
            if signed is not None:  # a discard now is a new fact; one dated into a signed period is a rewrite
                raise SampleConflict("at", signed_message(f"a discard of sample record {record_id} at that time",
                                                          f"留样记录 {record_id} 在该时间的弃置", signed))
            early = rules.discarded_early(at, record.held_until)
            if not self.store.mark_discarded(record_id, at, by.strip(), note.strip(), early):
                raise SampleConflict("id", f"sample record {record_id} was already discarded by "
                                           f"{record.discarded_by}")
            record = self._reload(record_id)
            self._audit(now, actor or by, "sample.discarded", record, {
                "early": early, "note": note, "held_until": record.held_until, "discarded_at": at, "by": by})
            subject = subject_of(record.day, record.meal, record.occasion)
            if early:
                until = dt.datetime.fromtimestamp(record.held_until, self.tz).strftime("%m-%d %H:%M")
                self._engine.observe(
                    EARLY_DISCARD_RULE, subject, True, now, kind=ALERT_KIND, severity=Severity.CRITICAL,
                    device=self._device(record),
                    message=(f"{record.day} {self.config.meal_name(record.meal)}留样被提前弃置（{by}），"
                             f"应留至 {until}"),
                    data={"record": record.id, "discarded_by": by, "discarded_at": at})
                if not rules.early_discard_active(now, at, record.held_until):
                    # Recorded only after the hold would have ended: fired for the record, and over.
                    self._engine.observe(EARLY_DISCARD_RULE, subject, False, now, kind=ALERT_KIND,
                                         severity=Severity.CRITICAL, device=self._device(record), message="")
            self._check_weights(record, at)
            self._engine.observe(DISCARDABLE_RULE, subject, False, now, kind=NOTICE_KIND, severity=Severity.INFO,
                                 device=self._device(record), message="")
        return record

    # -- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Run from the ingest pipeline about every second."""
        with self._lock:
            self.check_timers(now)
            self.check_missing(now)
            if now >= self._next_cabinet_check:
                self._next_cabinet_check = now + self.config.cabinet_check_s
                self.check_cabinets(now)
            if now >= self._next_indicator_check:
                self._next_indicator_check = now + INDICATOR_CHECK_S
                self.update_indicators(now)

    def update_indicators(self, now: float) -> None:
        """Switch each station's "samples held" light to what its records say (only on change)."""
        if self.send_command is None:
            return
        states: dict[str, list[rules.HoldState]] = {station: [] for station in self._indicator_sent}
        for record in self.store.not_discarded():
            if record.station:
                states.setdefault(record.station, []).append(
                    rules.hold_state(now, record.held_until, record.discarded_at))
        for station, held in states.items():
            wanted = rules.station_indicator(held)
            if self._indicator_sent.get(station, "off" if not held else "") == wanted:
                continue
            command = wire.Command(action="indicator", target="samples", state=wanted, ts=now)
            try:
                self.send_command(station, command)
            except Exception as error:  # no broker right now: the next check tries again
                _LOGGER.warning("samples light of %s not switched to %s: %s", station, wanted, error)
                continue
            self._indicator_sent[station] = wanted

    def check_timers(self, now: float) -> None:
        """Expired holds get their "may be discarded" notice; early-discard alarms end when the hold would have."""
        for record in self.store.in_cabinet_since(now - self.config.retention_s - LATE_READINGS_S):
            subject = subject_of(record.day, record.meal, record.occasion)
            state = rules.hold_state(now, record.held_until, record.discarded_at)
            if state == "due" and record.notice_at is None:
                self.store.mark_notice(record.id, now)
                self._audit(now, "system", "sample.discardable", record, {"held_until": record.held_until})
                _LOGGER.info("samples of %s %s may be discarded now", record.day, record.meal)
                if self.config.notify_discardable:
                    self._engine.observe(DISCARDABLE_RULE, subject, True, now, kind=NOTICE_KIND, severity=Severity.INFO,
                                         device=self._device(record), data={"record": record.id},
                                         message=f"{record.day} {self.config.meal_name(record.meal)}留样已满"
                                                 f" {self.config.retention_h:g} 小时，可以弃置")
            if record.early and not rules.early_discard_active(now, record.discarded_at, record.held_until):
                self._engine.observe(EARLY_DISCARD_RULE, subject, False, now, kind=ALERT_KIND,
                                     severity=Severity.CRITICAL, device=self._device(record), message="")

    def canteen_open(self, day: dt.date) -> bool:
        return rules.canteen_open_in(self.calendar, self.config, day)

    def check_missing(self, now: float) -> None:
        """Alarm for each meal served today (or yesterday) whose samples are not on record in time."""
        today = self.local_day(now)
        # Back as far as an alarm can still be active (its meal's retention period), so each one also ends.
        days_back = int(self.config.retention_s // 86400) + 1
        for back in range(days_back, -1, -1):
            day = today - dt.timedelta(days=back)
            is_open = self.canteen_open(day)
            logged = self.store.logged_meals(day.isoformat())
            for meal, meal_config in self.config.meals.items():
                if not meal_config.check_missing:
                    continue
                deadline = rules.meal_deadline(day, meal_config.serve_at, self.config.log_within_s(meal), self.tz)
                if deadline < self.watch_since:
                    continue
                give_up = deadline - self.config.log_within_s(meal) + self.config.retention_s
                active = rules.missing_active(now, deadline, give_up, is_open, meal in logged)
                by = dt.datetime.fromtimestamp(deadline, self.tz).strftime("%H:%M")
                self._engine.observe(
                    MISSING_RULE, subject_of(day.isoformat(), meal), active, now, kind=ALERT_KIND,
                    severity=Severity.WARNING, device="hub", data={"day": day.isoformat(), "meal": meal},
                    message=f"{day.isoformat()} {self.config.meal_name(meal)}留样未登记（应在 {by} 前完成）")

    def check_cabinets(self, now: float) -> None:
        """Link every out-of-band spell of a sample cabinet to every sample that was in it at the time."""
        records = [r for r in self.store.in_cabinet_since(now - LATE_READINGS_S) if r.cabinet]
        by_cabinet: dict[str, list[SampleRecord]] = {}
        for record in records:
            by_cabinet.setdefault(record.cabinet, []).append(record)
        for cabinet, held in by_cabinet.items():
            since = min(r.placed_at for r in held) - TRACE_MARGIN_S
            readings = self._series.readings(cabinet, since, now + 1, limit=1_000_000)
            spells = rules.excursions([(r.ts, r.value) for r in readings], self.config.cabinet_low,
                                      self.config.cabinet_high, self.config.excursion_grace_s, now)
            if not spells:
                continue
            alerts = [a for a in self._state.alerts(subject=cabinet, since=since - 86400) if a.rule == THRESHOLD_RULE]
            holds = [(r.id, r.placed_at, r.discarded_at) for r in held]
            by_id = {r.id: r for r in held}
            for spell in spells:
                alert_ids = [a.id for a in alerts if a.id is not None and
                             rules.overlaps(a.started_at, a.resolved_at, spell.start, spell.end, now)]
                for record_id in rules.touched(holds, spell, now):
                    link = ExcursionLink(record_id, cabinet, spell.start, spell.end, spell.low, spell.high, alert_ids)
                    if self.store.link_excursion(link):
                        record = by_id[record_id]
                        _LOGGER.warning("samples of %s %s compromised: %s outside %g–%g °C from %s", record.day,
                                        record.meal, cabinet, self.config.cabinet_low, self.config.cabinet_high,
                                        dt.datetime.fromtimestamp(spell.start, self.tz).isoformat())
                        self._audit(now, "system", "sample.compromised", record, {
                            "cabinet": cabinet, "start": spell.start, "low": spell.low, "high": spell.high,
                            "alerts": alert_ids})

    # -- views ---------------------------------------------------------------------------------

    def records(self, state: str | None = None, day: dt.date | None = None,
                now: float | None = None) -> list[SampleRecord]:
        now = self.clock() if now is None else now
        if day is not None:
            found = self.store.on_day(day.isoformat())
        elif state in ("held", "due"):
            found = self.store.not_discarded()
        else:
            found = self.store.between(now - 7 * 86400, now + 86400)
        if state is None or state == "all":
            return found
        return [r for r in found if rules.hold_state(now, r.held_until, r.discarded_at) == state]

    def trace(self, record_id: int, now: float | None = None) -> list[dict[str, Any]]:
        """Each excursion that touched a record, with the cabinet's readings through it."""
        now = self.clock() if now is None else now
        record = self._reload(record_id)
        result = []
        for link in record.excursions:
            until = (link.end if link.end is not None else now) + TRACE_MARGIN_S + 1  # readings() ends before until
            readings = self._series.readings(link.cabinet, link.start - TRACE_MARGIN_S, until, limit=100_000)
            result.append({"cabinet": link.cabinet, "start": link.start, "end": link.end, "low": link.low,
                           "high": link.high, "alert_ids": link.alert_ids, "band": [self.config.cabinet_low,
                                                                                    self.config.cabinet_high],
                           "readings": [{"ts": r.ts, "value": r.value, "fault": r.fault} for r in readings]})
        return result
