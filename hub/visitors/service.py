"""The visitor book component: visits in and out, invitations, leave slips, their alarms and their retention.

Built from its settings slice, its store path and narrow ports: it raises its alarms
through ``AlertRaiser``, writes what people did to the audit chain (ids and states only:
the chain is kept for years, a visitor's personal data is not), tells a host or a head
teacher through ``announce`` (the notification channels), reads the gate's hours from
the school calendar and the gate duty's after-hours openings through ``GateOpenings``.
Times come from the injected ``clock`` or are passed in.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser, AuditTrail
from hub.auth.users import User
from hub.calendar import Opening
from hub.closed import NothingSigned, SignedPeriods, refuse_signed
from hub.errors import Conflict, FieldError, NotFound
from hub.notify.base import Notification
from hub.safetext import one_line
from hub.visitors import rules
from hub.visitors.config import VisitorsConfig
from hub.visitors.kinds import ExitKind, IdType, SlipState, VisitState
from hub.visitors.register import DayRegister, MonthRegister, day_count, day_register, month_register
from hub.visitors.store import Leave, NewVisit, Visit, VisitorStore

_LOGGER = logging.getLogger(__name__)
#: How far back after-hours openings are looked at when the book starts watching (none before it).
_OPENINGS_LOOKBACK_S = 86_400.0
#: How long before a slip's start the pupil may already be let out.
_EARLY_S = 3600.0
SUBJECT_ACTOR = "hub"


class Forbidden(FieldError):
    status = 403


class GateHours(Protocol):
    """The school calendar's windows of a door group on a day (``hub.calendar.SchoolCalendar``)."""

    def openings(self, group_name: str, day: dt.date) -> list[Opening]: ...


class GateOpenings(Protocol):
    """The gate duty's after-hours openings (``hub.gate.monitor.GateMonitor``)."""

    def after_hours_openings(self, since: float, until: float) -> list[tuple[str, float]]: ...


class People(Protocol):
    """The accounts: whom a visit may name as host, and a person's mobile for a message."""

    def active_user(self, username: str) -> User | None: ...

    def phone_of(self, user_id: int) -> str | None: ...


T = TypeVar("T")


@dataclass(frozen=True)
class Done(Generic[T]):
    """A record and whether this request made it (False: a retry answered with what is stored)."""

    record: T
    created: bool


def visit_subject(visit_id: int) -> str:
    return f"visit:{visit_id}"


def leave_subject(leave_id: int) -> str:
    return f"leave:{leave_id}"


class VisitorBook:
    def __init__(self, path: Path, config: VisitorsConfig, record: AuditTrail, engine: AlertRaiser,
                 people: People, tz: ZoneInfo, calendar: Callable[[], GateHours], openings: GateOpenings,
                 announce: Callable[[Notification], None], public_url: str = "",
                 clock: Callable[[], float] = time.time, signed: SignedPeriods | None = None) -> None:
        self.config = config
        self.store = VisitorStore(path)
        self.tz = tz
        self.clock = clock
        self.signed: SignedPeriods = signed or NothingSigned()
        self._record = record
        self._engine = engine
        self._people = people
        self._calendar = calendar
        self._openings = openings
        self._announce = announce
        self._public_url = public_url.rstrip("/")
        self._lock = threading.RLock()
        self._warned_group = False
        if self.store.meta("openings_judged") is None:
            self.store.set_meta("openings_judged", repr(clock()))

    def close(self) -> None:
        self.store.close()

    # -- time and the gate's hours -------------------------------------------------------------

    def local_day(self, ts: float) -> dt.date:
        return rules.local_day(ts, self.tz)

    def day_start(self, day: dt.date) -> float:
        return dt.datetime.combine(day, dt.time(0), self.tz).timestamp()

    def gate_day(self, day: dt.date) -> rules.GateDay | None:
        """The gate's day by the calendar's windows of ``visitors.gate_group`` (None: shut all day)."""
        try:
            return rules.gate_day(self._calendar().openings(self.config.gate_group, day))
        except KeyError:
            if not self._warned_group:
                _LOGGER.warning("visitors.gate_group %r is no door group of the calendar: the gate counts as shut",
                                self.config.gate_group)
                self._warned_group = True
            return None

    def _when(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, self.tz).strftime("%H:%M")

    def _zh(self) -> bool:
        return self._engine.locale != "en"

    # -- people ----------------------------------------------------------------------------------

    def _host(self, username: str) -> User:
        found = self._people.active_user(username.strip())
        if found is None:
            raise FieldError("host", f"no enabled account {username.strip()!r} · 没有这个被访人账号")
        return found

    def _tell(self, users: Sequence[User], key: str, title: str, body: str, route: str, now: float) -> None:
        """A message (not an alarm) on ``route``, addressed to these people's mobiles too."""
        phones = tuple(p for p in (self._people.phone_of(u.id) for u in users) if p)
        self._announce(Notification(None, key, Severity.WARNING, one_line(title), one_line(body), route, now,
                                    recipients=phones))

    # -- visits ------------------------------------------------------------------------------------

    def visit(self, visit_id: int) -> Visit:
        found = self.store.visit(visit_id)
        if found is None:
            raise NotFound("visit_id", f"no visit {visit_id}")
        return found

    def may_see(self, visit: Visit, user: User, gate: bool) -> bool:
        """A visit's details (full phone, document): the gate and the safety officer (``gate``), and the host."""
        return gate or visit.host == user.username

    def _again(self, request_key: str | None) -> Visit | None:
        return self.store.visit_by_key(request_key) if request_key else None

    def _add(self, visit: NewVisit, state: VisitState, request_key: str | None, now: float, *,
             expected_day: str | None = None, invited_by: str = "", registered_by: str = "") -> Visit:
        try:
            visit_id = self.store.add_visit(visit, state, request_key, now, expected_day=expected_day,
                                            invited_by=invited_by, registered_by=registered_by)
        except sqlite3.IntegrityError:
            raise Conflict("request_key", "this request key was used for another record · 请求编号已被使用") from None
        return self.visit(visit_id)

    def invite(self, visit: NewVisit, day: dt.date, actor: User, request_key: str | None = None,
               now: float | None = None) -> Done[Visit]:
        """A teacher or the canteen manager expects a visitor on ``day``: they are its host."""
        now = self.clock() if now is None else now
        again = self._again(request_key)
        if again is not None:
            return Done(again, False)
        if day < self.local_day(now):
            raise FieldError("day", "the day is past · 日期已过")
        refuse_signed(self.signed, "day", f"an invitation for {day}", f"{day} 的预约", self.day_start(day))
        found = self._add(NewVisit(**{**visit.__dict__, "host": actor.username}), VisitState.EXPECTED, request_key,
                          now, expected_day=day.isoformat(), invited_by=actor.username)
        self._record.append_audit(now, actor.username, "visitor.invite", visit_subject(found.id),
                                  {"day": day.isoformat(), "party_size": found.party_size})
        return Done(found, True)

    def expected(self, day: dt.date) -> list[Visit]:
        return self.store.expected_on(day.isoformat())

    def register(self, visit: NewVisit, actor: User, request_key: str | None = None, now: float | None = None
                 ) -> Done[Visit]:
        """A visitor at the gate without an invitation: they wait while the host is told and answers."""
        now = self.clock() if now is None else now
        again = self._again(request_key)
        if again is not None:
            return Done(again, False)
        host = self._host(visit.host)
        found = self._add(NewVisit(**{**visit.__dict__, "host": host.username}), VisitState.WAITING, request_key,
                          now, registered_by=actor.username)
        self._record.append_audit(now, actor.username, "visitor.register", visit_subject(found.id),
                                  {"host": host.username, "state": found.state.value})
        who = f"{found.name}（{found.organisation}）" if found.organisation else found.name
        link = f"{self._public_url}/visitors#visit-{found.id}"
        self._tell([host], f"visit:{found.id}", f"访客等候确认：{who}",
                   f"{who} 在校门等候，来访事由：{found.purpose or '未填写'}，{found.party_size} 人。"
                   f"请确认是否接待：{link}", self.config.host_route, now)
        return Done(found, True)

    def again(self, visit_id: int, actor: User, host: str | None = None, request_key: str | None = None,
              now: float | None = None) -> Done[Visit]:
        """A repeat visitor registered from an earlier visit (two taps: find them, register): waits for the host."""
        earlier = self.visit(visit_id)
        if earlier.arrived_at is None:
            raise Conflict("visit_id", "only a visitor who came in before can be registered again · 该访客没有来访记录")
        fields = NewVisit(earlier.name, earlier.phone, earlier.organisation, host or earlier.host, earlier.purpose,
                          earlier.party_size, earlier.plate, earlier.id_type, earlier.id_last4)
        return self.register(fields, actor, request_key, now)

    def check_in(self, visit_id: int, actor: User, id_type: IdType | None = None, id_last4: str = "",
                 now: float | None = None) -> Done[Visit]:
        """An expected visitor arrives: one tap. A visitor already inside is answered as stored (a retry)."""
        now = self.clock() if now is None else now
        visit = self.visit(visit_id)
        if visit.state is VisitState.INSIDE:
            return Done(visit, False)
        if visit.state is not VisitState.EXPECTED:
            raise Conflict("visit_id", self._not_expected(visit))
        changes: dict[str, object] = {"registered_by": actor.username, "registered_at": now, "arrived_at": now}
        if id_type is not None:
            changes.update(id_type=id_type, id_last4=id_last4)
        if not self.store.move_visit(visit_id, VisitState.EXPECTED, VisitState.INSIDE, now, changes):
            return Done(self.visit(visit_id), False)
        self._record.append_audit(now, actor.username, "visitor.check_in", visit_subject(visit_id),
                                  {"invited_by": visit.invited_by})
        arrived = self.visit(visit_id)
        self._judge_arrival(arrived, now)
        return Done(arrived, True)

    def _not_expected(self, visit: Visit) -> str:
        if visit.state is VisitState.WAITING:
            return "waiting for the host to confirm · 正在等待被访人确认"
        if visit.state is VisitState.LEFT and visit.left_at is not None:
            return f"already left at {self._when(visit.left_at)} · 已于 {self._when(visit.left_at)} 离校"
        if visit.state is VisitState.DECLINED:
            return "the host declined this visit · 被访人已拒绝来访"
        return f"visit {visit.id} is {visit.state.value}"

    def answer(self, visit_id: int, allow: bool, actor: User, any_host: bool, now: float | None = None
               ) -> Done[Visit]:
        """The host (or, with ``any_host``, the safety officer) lets a waiting visitor in, or turns them away."""
        now = self.clock() if now is None else now
        visit = self.visit(visit_id)
        if visit.host != actor.username and not any_host:
            raise Forbidden("visit_id", "only the host confirms this visitor · 只有被访人可以确认")
        wanted = VisitState.INSIDE if allow else VisitState.DECLINED
        if visit.state is wanted:
            return Done(visit, False)
        if visit.state is not VisitState.WAITING:
            raise Conflict("visit_id", f"this visitor is not waiting ({visit.state.value}) · 该访客不在等候确认")
        changes: dict[str, object] = {"answered_by": actor.username, "answered_at": now}
        if allow:
            changes["arrived_at"] = now
        if not self.store.move_visit(visit_id, VisitState.WAITING, wanted, now, changes):
            raise Conflict("visit_id", "answered meanwhile; reload · 已被他人处理")
        self._record.append_audit(now, actor.username, "visitor.confirm" if allow else "visitor.decline",
                                  visit_subject(visit_id), {"host": visit.host})
        answered = self.visit(visit_id)
        if allow:
            self._judge_arrival(answered, now)
        return Done(answered, True)

    def check_out(self, visit_id: int, actor: User, now: float | None = None) -> Visit:
        """One tap on the list of visitors inside; someone not inside is refused with the reason (409)."""
        now = self.clock() if now is None else now
        visit = self.visit(visit_id)
        if visit.state is not VisitState.INSIDE:
            if visit.state is VisitState.LEFT and visit.left_at is not None:
                left = self._when(visit.left_at)
                reason = f"not inside: left at {left} · 不在校内：已于 {left} 离校"
            elif visit.state is VisitState.EXPECTED:
                reason = "not inside: not checked in yet · 不在校内：尚未入校登记"
            elif visit.state is VisitState.WAITING:
                reason = "not inside: still waiting at the gate · 不在校内：仍在校门等候确认"
            else:
                reason = "not inside: the host declined the visit · 不在校内：被访人已拒绝来访"
            raise Conflict("visit_id", reason)
        if not self.store.move_visit(visit_id, VisitState.INSIDE, VisitState.LEFT, now,
                                     {"left_at": now, "left_by": actor.username}):
            raise Conflict("visit_id", "checked out meanwhile · 已由他人登记离校")
        self._record.append_audit(now, actor.username, "visitor.check_out", visit_subject(visit_id), {})
        self._engine.observe(RuleKind.VISITOR_INSIDE_AT_CLOSING, visit_subject(visit_id), False, now, device="",
                             kind=AlertKind.VISITOR, message="")
        return self.visit(visit_id)

    def inside(self) -> list[Visit]:
        return self.store.visits_in((VisitState.INSIDE,))

    def waiting(self) -> list[Visit]:
        return self.store.visits_in((VisitState.WAITING,))

    def hosted_by(self, username: str) -> list[Visit]:
        return self.store.hosted_by(username, (VisitState.WAITING, VisitState.EXPECTED, VisitState.INSIDE))

    def find(self, query: str) -> list[Visit]:
        """Earlier visitors by phone (whole, or its last four digits) or plate: one per person, newest first."""
        text = query.strip()
        phone, plate = rules.normal_phone(text), rules.normal_plate(text)
        if phone is not None or plate is not None:
            found = self.store.seen_by(phone, plate, limit=20)
        elif len(text) == 4 and text.isascii() and text.isdigit():
            found = self.store.seen_by_phone_end(text)
        else:
            raise FieldError("q", "a phone number, its last 4 digits, or a plate · 请输入手机号、尾号4位或车牌")
        seen: set[tuple[str, str]] = set()
        people = []
        for visit in found:
            if (visit.name, visit.phone) not in seen:
                seen.add((visit.name, visit.phone))
                people.append(visit)
        return people[:10]

    def _judge_arrival(self, visit: Visit, now: float) -> None:
        """A visitor let in outside the gate's day: an alarm (an event, waiting to be acknowledged and closed)."""
        if not rules.outside_hours(self.gate_day(self.local_day(now)), now):
            return
        message = (f"非开放时间访客入校：{rules.mask_name(visit.name)}，被访人 {visit.host}，{self._when(now)} 入校"
                   if self._zh() else
                   f"visitor {rules.mask_name(visit.name)} for {visit.host} checked in at {self._when(now)},"
                   " outside gate hours")
        for active in (True, False):
            self._engine.observe(RuleKind.VISITOR_AFTER_HOURS, visit_subject(visit.id), active, now, device="",
                                 kind=AlertKind.VISITOR, message=message, data={"visit": visit.id})

    # -- teachers' classes and leave slips ---------------------------------------------------------

    def classes_of(self, username: str) -> list[str]:
        return self.store.classes_of(username)

    def set_classes(self, username: str, classes: Sequence[str], actor: User, now: float | None = None
                    ) -> list[str]:
        now = self.clock() if now is None else now
        teacher = self._people.active_user(username)
        if teacher is None:
            raise NotFound("username", f"no enabled account {username!r} · 没有这个账号")
        wanted = sorted({c.strip() for c in classes if c.strip()})
        before = self.store.set_classes(teacher.username, wanted)
        self._record.append_audit(now, actor.username, "visitor.classes", f"account:{teacher.username}",
                                  {"before": before, "after": wanted})
        return wanted

    def leave(self, leave_id: int) -> Leave:
        found = self.store.leave(leave_id)
        if found is None:
            raise NotFound("leave_id", f"no leave slip {leave_id}")
        return found

    def issue_slip(self, pupil: str, class_name: str, reason: str, start: float, until: float, returns: bool,
                   collector: str, actor: User, request_key: str | None = None, now: float | None = None
                   ) -> Done[Leave]:
        """The head teacher's leave slip (离校单); a pupil of a class they do not head is refused (403)."""
        now = self.clock() if now is None else now
        if request_key and (again := self.store.leave_by_key(request_key)) is not None:
            return Done(again, False)
        if class_name.strip() not in self.store.classes_of(actor.username):
            raise Forbidden("class_name", f"you are not the head teacher of {class_name.strip()!r}"
                                          " · 您不是该班班主任，不能为该班学生开离校单")
        problem = rules.slip_window_problem(start, until, now)
        if problem is not None:
            raise FieldError("until", problem)
        refuse_signed(self.signed, "start", "a leave slip", "离校单", start, until)
        try:
            leave_id = self.store.add_leave(ExitKind.SLIP, SlipState.ISSUED, pupil.strip(), class_name.strip(),
                                            reason.strip(), start, until, returns, collector.strip(),
                                            actor.username, now, request_key)
        except sqlite3.IntegrityError:
            raise Conflict("request_key", "this request key was used for another record · 请求编号已被使用") from None
        self._record.append_audit(now, actor.username, "leave.issue", leave_subject(leave_id),
                                  {"class": class_name.strip(), "start": start, "until": until, "returns": returns})
        return Done(self.leave(leave_id), True)

    def open_slips(self) -> list[Leave]:
        """Slips still to be used or whose pupil is out (what the gate checks a pupil against)."""
        return self.store.leaves_in((SlipState.ISSUED, SlipState.OUT))

    def issued_by(self, username: str) -> list[Leave]:
        return [s for s in self.store.leaves_in((SlipState.ISSUED, SlipState.OUT)) if s.issued_by == username]

    def pupil_out(self, leave_id: int, actor: User, now: float | None = None) -> Done[Leave]:
        """The gate checks the slip and lets the pupil out (again: answered as stored)."""
        now = self.clock() if now is None else now
        slip = self.leave(leave_id)
        if slip.state is SlipState.OUT:
            return Done(slip, False)
        if slip.state is not SlipState.ISSUED:
            raise Conflict("leave_id", "the slip was used already · 该离校单已使用")
        if not slip.start - _EARLY_S <= now <= slip.until:
            raise Conflict("leave_id", f"the slip is for {self._when(slip.start)}–{self._when(slip.until)}"
                                       f" · 离校单时间为 {self._when(slip.start)}–{self._when(slip.until)}")
        next_state = SlipState.OUT
        if not self.store.move_leave(leave_id, SlipState.ISSUED, next_state, now,
                                     {"out_at": now, "out_by": actor.username}):
            return Done(self.leave(leave_id), False)
        self._record.append_audit(now, actor.username, "leave.out", leave_subject(leave_id), {})
        return Done(self.leave(leave_id), True)

    def pupil_back(self, leave_id: int, actor: User, now: float | None = None) -> Done[Leave]:
        now = self.clock() if now is None else now
        slip = self.leave(leave_id)
        if slip.state is SlipState.RETURNED:
            return Done(slip, False)
        if slip.state is not SlipState.OUT:
            raise Conflict("leave_id", "the pupil has not left through the gate · 该学生尚未登记离校")
        if not self.store.move_leave(leave_id, SlipState.OUT, SlipState.RETURNED, now,
                                     {"returned_at": now, "returned_by": actor.username}):
            return Done(self.leave(leave_id), False)
        self._record.append_audit(now, actor.username, "leave.back", leave_subject(leave_id), {})
        self._engine.observe(RuleKind.PUPIL_NOT_RETURNED, leave_subject(leave_id), False, now, device="",
                             kind=AlertKind.VISITOR, message="")
        return Done(self.leave(leave_id), True)

    def pupil_without_slip(self, pupil: str, class_name: str, reason: str, actor: User,
                           request_key: str | None = None, now: float | None = None) -> Done[Leave]:
        """A pupil who left without a slip: recorded as an exception; the head teacher and safety officer are told."""
        now = self.clock() if now is None else now
        if request_key and (again := self.store.leave_by_key(request_key)) is not None:
            return Done(again, False)
        name, klass = pupil.strip(), class_name.strip()
        try:
            leave_id = self.store.add_leave(ExitKind.NO_SLIP, SlipState.OUT, name, klass, reason.strip(), now, now,
                                            False, "", "", now, request_key, out_by=actor.username)
        except sqlite3.IntegrityError:
            raise Conflict("request_key", "this request key was used for another record · 请求编号已被使用") from None
        teachers = [u for u in (self._people.active_user(t) for t in self.store.teachers_of(klass)) if u]
        self._record.append_audit(now, actor.username, "leave.no_slip", leave_subject(leave_id),
                                  {"class": klass, "told": [t.username for t in teachers]})
        self._tell(teachers, f"leave:{leave_id}", f"学生无离校单离校：{klass} {name}",
                   f"{klass} {name} 于 {self._when(now)} 未持离校单离校（{reason.strip() or '未说明'}），"
                   f"门卫 {actor.display_name} 登记。请班主任与安全员核实。", self.config.exception_route, now)
        return Done(self.leave(leave_id), True)

    # -- the duty ------------------------------------------------------------------------------------

    def run_duty(self, _scheduled: float) -> None:
        """The scheduler's round, judged by the book's own clock (a clock given to the book moves its duty too)."""
        self.tick(self.clock())

    def tick(self, now: float) -> None:
        """Visitors still inside at the gate's closing, pupils not back, after-hours openings nobody registered."""
        with self._lock:
            self._judge_closing(now)
            self._judge_slips(now)
            self._judge_openings(now)

    def _last_closing(self, now: float) -> float | None:
        today = self.local_day(now)
        days = [self.gate_day(today - dt.timedelta(days=1)), self.gate_day(today)]
        ends = [d.end for d in days if d is not None and d.end <= now]
        return max(ends) if ends else None

    def _judge_closing(self, now: float) -> None:
        closing = self._last_closing(now)
        for visit in self.inside():
            arrived = visit.arrived_at if visit.arrived_at is not None else now
            active = closing is not None and rules.still_inside([(arrived, visit.left_at)], closing)
            at = closing if active and closing is not None else now
            message = (f"闭门时访客仍在校内：{rules.mask_name(visit.name)}"
                       f"{'（' + visit.organisation + '）' if visit.organisation else ''}，被访人 {visit.host}，"
                       f"{self._when(arrived)} 入校" if self._zh() else
                       f"visitor {rules.mask_name(visit.name)} for {visit.host} (in at {self._when(arrived)})"
                       " still inside at closing time")
            self._engine.observe(RuleKind.VISITOR_INSIDE_AT_CLOSING, visit_subject(visit.id), active, at, device="",
                                 kind=AlertKind.VISITOR, message=message, data={"visit": visit.id})

    def _judge_slips(self, now: float) -> None:
        for slip in self.store.leaves_in((SlipState.OUT,)):
            active = rules.slip_overdue(now, slip.until, slip.returned_at, slip.returns)
            message = (f"请假学生逾期未返校：{slip.class_name} {slip.pupil}，应于 {self._when(slip.until)} 返校"
                       if self._zh() else
                       f"{slip.class_name} {slip.pupil} not back by {self._when(slip.until)}")
            self._engine.observe(RuleKind.PUPIL_NOT_RETURNED, leave_subject(slip.id), active,
                                 slip.until if active else now, device="", kind=AlertKind.VISITOR, message=message,
                                 data={"leave": slip.id})

    def _judge_openings(self, now: float) -> None:
        judged = float(self.store.meta("openings_judged") or now)
        until = now - self.config.around_s
        if until <= judged:
            return
        since = max(judged, now - _OPENINGS_LOOKBACK_S)
        around = self.config.around_s
        for sensor, opened_at in self._openings.after_hours_openings(since, until):
            times = self.store.registrations_between(opened_at - around, opened_at + around)
            if not rules.unregistered(opened_at, times, around):
                continue
            name = self._engine.name(sensor)
            minutes = round(around / 60)
            message = (f"{name} 于 {self._when(opened_at)} 在非开放时间打开，前后 {minutes} 分钟内门卫无人员登记"
                       if self._zh() else
                       f"{name} opened after hours at {self._when(opened_at)}; nobody registered within"
                       f" {round(around / 60)} minutes")
            subject = f"gate-opening:{sensor}:{int(opened_at)}"
            for active in (True, False):
                self._engine.observe(RuleKind.GATE_OPENING_UNREGISTERED, subject, active, opened_at + around,
                                     device="", kind=AlertKind.VISITOR, message=message,
                                     data={"sensor": sensor, "opened_at": opened_at})
        self.store.set_meta("openings_judged", repr(until))

    # -- the register --------------------------------------------------------------------------------

    def day_book(self, day: dt.date, school: str) -> DayRegister:
        """The day's 门卫登记簿 (masked): visitors in that day or still inside from before, pupils out."""
        start, end = self.day_start(day), self.day_start(day + dt.timedelta(days=1))
        return day_register(day, school, self.store.arrived_between(start, end),
                            self.store.leaves_between(start, end), self.tz, self.gate_day(day))

    def month_book(self, first: dt.date, school: str) -> MonthRegister:
        """The month's summary: per day, visitors, after-hours visits, pupils out, exceptions, late returns."""
        first = first.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        start, end = self.day_start(first), self.day_start(after)
        visits, leaves = self.store.arrived_between(start, end), self.store.leaves_between(start, end)
        counts = []
        now = self.clock()
        day = first
        while day < after:
            counts.append(day_count(day, visits, leaves, self.gate_day(day), self.day_start(day),
                                    self.day_start(day + dt.timedelta(days=1)), now))
            day += dt.timedelta(days=1)
        return month_register(first.strftime("%Y-%m"), school, counts)

    def prune(self, now: float) -> tuple[int, int]:
        """Delete visits and leaves past ``visitors.retention_days``; the audit log keeps the count."""
        days = self.config.retention_days
        visits, leaves = self.store.delete_before(now - days * 86_400)
        if visits or leaves:
            self._record.append_audit(now, SUBJECT_ACTOR, "visitor.retention", "visitors",
                                      {"visits": visits, "leaves": leaves, "retention_days": days})
            _LOGGER.info("deleted %d visits and %d leave records older than %d days", visits, leaves, days)
        return visits, leaves
