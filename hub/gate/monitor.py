"""What the hub runs for gate duty: after-hours openings, the closing sweep, lost or tampered sensors, patrols.

Every alarm goes through ``AlertEngine.observe`` with kind ``gate``, so the
"gate" escalation policy sends it to the gatekeeper first, with the same delay,
lifecycle, silences and audit as every other alarm. The calendar is the school's
(``calendar`` in the hub config) merged with the overrides made through the API.
Times are the events' own (an edge replaying its outbox after an outage is judged
by when the door opened, not when the message arrived) or the ``now`` of a tick.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from hub.alerts.kinds import AlertKind, RuleKind
from hub.alerts.ports import AlertRaiser, Record
from hub.calendar import DEFAULT_GROUP, CalendarConfig, SchoolCalendar
from hub.closed import NothingSigned, SignedPeriods, refuse_signed
from hub.errors import FieldError
from hub.gate import rules
from hub.gate.config import GateConfig
from hub.gate.overrides import (
    DefaultConfirmation,
    DefaultWindows,
    OverrideSpec,
    StoredOverride,
    default_windows,
    school_calendar,
)
from hub.gate.store import GateStore, Sweep, Visit
from hub.store.base import SeriesStore, StoredEvent

_LOGGER = logging.getLogger(__name__)

# Gate duty's rules (their descriptions: hub.alerts.builtin).
AFTER_HOURS_RULE = RuleKind.GATE_AFTER_HOURS
NOT_CLOSED_RULE = RuleKind.GATE_NOT_CLOSED
TAMPER_RULE = RuleKind.GATE_TAMPER
SENSOR_OFFLINE_RULE = RuleKind.GATE_SENSOR_OFFLINE
MISSED_ROUND_RULE = RuleKind.PATROL_ROUND_MISSED
ALERT_KIND = AlertKind.GATE
#: How far back the state of a gate at a closing time is looked up in the event series.
STATE_LOOKBACK_S = 30 * 86400.0
#: The tick's bookmark is written at least this often (and after any sweep or round).
BOOKMARK_EVERY_S = 60.0


class GateError(FieldError):
    """Input gate duty cannot take; ``field`` names the key at fault (422)."""


class GateMonitor:
    def __init__(self, path: Path, config: GateConfig, calendar: CalendarConfig, offline_after_s: float,
                 state: Record, series: SeriesStore, engine: AlertRaiser,
                 clock: Callable[[], float] = time.time, signed: SignedPeriods | None = None,
                 held_open_kinds: Collection[str] = ()) -> None:
        self.config = config
        #: Door kinds the engine's held-open rule watches: such a door outside every group is not unwatched.
        self._held_open_kinds = frozenset(held_open_kinds)
        #: Periods whose report is signed: the calendar of their days is what the report judged by (hub.closed).
        self.signed: SignedPeriods = signed or NothingSigned()
        self._base_calendar = calendar
        self._offline_after_s = offline_after_s
        self.store = GateStore(path)
        self.clock = clock
        self._state = state
        self._series = series
        self._engine = engine
        self._lock = threading.RLock()
        self.calendar = self._build_calendar()
        start = self.store.last_tick()
        if start is None:
            # Closing times and rounds before the hub first watched were not its to judge.
            start = clock()
            self.store.set_last_tick(start)
        self._last_tick = start
        self._saved_tick = start
        self._warn_few_rounds()

    def close(self) -> None:
        self.store.close()

    def _warn_few_rounds(self) -> None:
        for name, route in self.config.routes.items():
            if len(route.rounds) < self.config.min_rounds_per_day:
                _LOGGER.warning("patrol route %s has %d rounds a day; GB/T 29315-2022 expects key areas patrolled "
                                "at least %d times a day", name, len(route.rounds), self.config.min_rounds_per_day)

    # -- the calendar and its overrides --------------------------------------------------------

    def reconfigure(self, calendar: CalendarConfig, config: GateConfig | None = None) -> None:
        """New terms, holidays, door groups or patrol routes (the admin page): the duty follows from its next
        event or tick. A round window already running is judged by the route in force when it ends."""
        with self._lock:
            self._base_calendar = calendar
            self.calendar = self._build_calendar()
            if config is not None and config != self.config:
                self.config = config
                self._warn_few_rounds()

    def _build_calendar(self) -> SchoolCalendar:
        return school_calendar(self._base_calendar, self.store.overrides(), self.store.default_confirmation())

    # -- the default group ---------------------------------------------------------------------

    def defaults(self) -> dict[str, Any]:
        """The default group's windows in force, who confirmed them, and which gates rely on them.

        ``in_use``: some gate or door is watched only by the default windows; ``confirmed``: an
        admin confirmed (or set) them; until then the pages say loudly that a template is in use.
        """
        confirmation = self.store.default_confirmation()
        group = self.calendar.config.default_group
        sensors = self.gate_sensors()
        return {
            "enabled": group.enabled,
            "school_day": [w.model_dump(mode="json") for w in group.school_day],
            "other_day": [w.model_dump(mode="json") for w in group.other_day],
            "members": [s["key"] for s in sensors if s["group"] == DEFAULT_GROUP],
            "in_use": group.enabled and any(s["group"] == DEFAULT_GROUP for s in sensors),
            "confirmed": confirmation is not None,
            "confirmed_by": confirmation.confirmed_by if confirmation else None,
            "confirmed_at": confirmation.confirmed_at if confirmation else None,
            "unwatched": [s["key"] for s in sensors
                          if s["group"] is None and s["kind"] not in self._held_open_kinds],
        }

    def coverage(self) -> tuple[int, bool]:
        """For /api/health: how many gates and doors no rule watches; default windows in use but unconfirmed."""
        found = self.defaults()
        return len(found["unwatched"]), bool(found["in_use"] and not found["confirmed"])

    def unwatched(self) -> list[str]:
        """Gates and doors no rule watches: in no group (nor the default one), and of a kind with no held-open limit."""
        found: list[str] = self.defaults()["unwatched"]
        return found

    def confirm_defaults(self, windows: DefaultWindows | None, who: str, now: float | None = None
                         ) -> DefaultConfirmation:
        """An admin confirms the default windows as they are (``windows`` None) or as edited; audited."""
        now = self.clock() if now is None else now
        if not self._base_calendar.default_group.enabled:
            raise GateError("default_group", "the default door group is switched off in the config "
                                             "(calendar.default_group.enabled: false)")
        current = self.calendar.config.default_group
        chosen = windows or DefaultWindows(school_day=current.school_day, other_day=current.other_day)
        with self._lock:
            confirmation = self.store.confirm_defaults(chosen, who, now)
            self.calendar = self._build_calendar()
        self._state.append_audit(now, who, "calendar.defaults_confirmed", f"gate-group/{DEFAULT_GROUP}",
                                 {"windows": json.loads(chosen.model_dump_json()),
                                  "config": json.loads(default_windows(self._base_calendar).model_dump_json()),
                                  "edited": windows is not None})
        return confirmation

    def overrides(self) -> list[StoredOverride]:
        return self.store.overrides()

    def add_override(self, spec: OverrideSpec, who: str, now: float | None = None) -> StoredOverride:
        now = self.clock() if now is None else now
        names = self.calendar.group_names()
        unknown = [g for g in spec.groups if g not in names]
        if unknown:
            known = ", ".join(names) or "none configured"
            raise GateError("groups", f"unknown door group(s) {', '.join(unknown)} (known: {known})")
        self._refuse_signed(spec)
        with self._lock:
            stored = self.store.add_override(spec, who, now)
            self.calendar = self._build_calendar()
        self._state.append_audit(now, who, "calendar.override_added", f"calendar-override/{stored.id}",
                                 json.loads(spec.model_dump_json()))
        return stored

    def remove_override(self, override_id: int, who: str, now: float | None = None) -> bool:
        now = self.clock() if now is None else now
        with self._lock:
            found = next((o for o in self.store.overrides() if o.id == override_id), None)
            if found is not None:
                self._refuse_signed(found.spec)
            removed = self.store.remove_override(override_id, who, now)
            if removed:
                self.calendar = self._build_calendar()
        if removed:
            self._state.append_audit(now, who, "calendar.override_removed", f"calendar-override/{override_id}", {})
        return removed

    def _refuse_signed(self, spec: OverrideSpec) -> None:
        """A dated override of a day in a signed period would change what its report judged (409).

        Which meals were due, which doors were after hours: the signed report was built on the
        calendar of that day. A recurring window (no date) is left alone; it shapes days to come.
        """
        if spec.date is None:
            return
        tz = self.calendar.tz
        start = dt.datetime.combine(spec.date, dt.time(0), tz).timestamp()
        end = dt.datetime.combine(spec.date + dt.timedelta(days=1), dt.time(0), tz).timestamp() - 1
        refuse_signed(self.signed, "date", f"a calendar exception of {spec.date.isoformat()}",
                      f"{spec.date.isoformat()} 的校历例外", start, end)

    # -- helpers -------------------------------------------------------------------------------

    def _local(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, self.calendar.tz).strftime("%H:%M")

    def _zh(self) -> bool:
        return self._engine.locale == "zh"

    def _group_label(self, group: str) -> str:
        """A group as a message names it: the default group in words, a configured one by its name."""
        if group == DEFAULT_GROUP and DEFAULT_GROUP not in self._base_calendar.groups:
            return "默认开放时间" if self._zh() else "default opening hours"
        return group

    def gate_sensors(self) -> list[dict[str, Any]]:
        """Registered sensors of the door kinds, each with its group (None: watched by no after-hours rule).

        A gate or door no configured group names is in the default group (``calendar.default_group``).
        """
        calendar = self.calendar
        return [{**s, "group": calendar.group_for_door(s["key"], s["kind"])} for s in self._state.sensors()
                if s["kind"] in self.config.door_kinds]

    # -- events --------------------------------------------------------------------------------

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Doors and gates, tamper switches and patrol reads, in event-time order."""
        with self._lock:
            for event in sorted(events, key=lambda e: e.ts):
                if event.kind in self.config.door_kinds and event.state in ("open", "closed"):
                    self._door(event)
                elif event.kind == self.config.tamper_kind:
                    self._tamper(event)
                elif event.kind == self.config.patrol_kind:
                    self._visit(event)

    def _door(self, event: StoredEvent) -> None:
        calendar = self.calendar
        group = calendar.group_for_door(event.sensor, event.kind)
        if group is None:
            return
        name = self._engine.name(event.sensor)
        severity = rules.severity(self.config, calendar, event.ts)
        if event.state == "open":
            if not rules.after_hours(calendar, group, event.ts):
                return
            label = self._group_label(group)
            message = (f"{name} 在非开放时间打开（{self._local(event.ts)}，{label}）" if self._zh()
                       else f"{name} opened outside its opening hours at {self._local(event.ts)} ({label})")
            self._engine.observe(AFTER_HOURS_RULE, event.sensor, True, event.ts, kind=ALERT_KIND, severity=severity,
                                 device=event.device, message=message,
                                 data={"group": group, "opened_at": event.ts})
            return
        for rule in (AFTER_HOURS_RULE, NOT_CLOSED_RULE):
            self._engine.observe(rule, event.sensor, False, event.ts, kind=ALERT_KIND, severity=severity,
                                 device=event.device, message="")

    def _door_devices(self) -> set[str]:
        return {s["device"] for s in self.gate_sensors() if s["group"] is not None}

    def _tamper(self, event: StoredEvent) -> None:
        if self.calendar.group_of(event.sensor) is None and event.device not in self._door_devices():
            return
        active = event.state.lower() not in rules.TAMPER_CLEAR
        name = self._engine.name(event.sensor)
        message = (f"{name} 防拆报警（{self._local(event.ts)}）" if self._zh()
                   else f"{name} tampered with at {self._local(event.ts)}")
        self._engine.observe(TAMPER_RULE, event.sensor, active, event.ts, kind=ALERT_KIND,
                             severity=rules.severity(self.config, self.calendar, event.ts), device=event.device,
                             message=message, incident=f"device:{event.device}")

    def _visit(self, event: StoredEvent) -> None:
        try:
            detail = json.loads(event.detail)
        except ValueError:
            detail = {}
        tag = str(detail.get("tag") or detail.get("code") or "")[:64]
        checkpoint = rules.resolve_checkpoint(self.config, tag, event.sensor)
        if checkpoint is None:
            _LOGGER.warning("patrol read %r at %s belongs to no checkpoint", tag, event.sensor)
        self.store.add_visit(event.ts, checkpoint, tag, event.sensor, event.device, event.boot_id, event.seq,
                             str(detail.get("input", "")))

    # -- time ----------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Closing sweeps and round windows that ended since the last tick; sensors gone quiet."""
        now = self.clock() if now is None else now
        with self._lock:
            since = max(self._last_tick, now - self.config.catch_up_s)
            worked = False
            if now > since:
                calendar = self.calendar
                for group in self._swept_groups(calendar):
                    for closing in calendar.closings_between(group, since, now):
                        worked = self._sweep(group, closing.timestamp(), now) is not None or worked
                for name, route in self.config.routes.items():
                    for window in rules.rounds_ending(name, route, calendar, since, now):
                        worked = self._judge_round(window, now) or worked
                self._last_tick = now
            self._check_offline(now)
            if worked or now - self._saved_tick >= BOOKMARK_EVERY_S:
                self.store.set_last_tick(self._last_tick)
                self._saved_tick = now

    def _swept_groups(self, calendar: SchoolCalendar) -> list[str]:
        """Every configured group, and the default group once a gate or door is in it."""
        names = list(calendar.config.groups)
        if DEFAULT_GROUP not in names and DEFAULT_GROUP in calendar.group_names() and any(
                s["group"] == DEFAULT_GROUP for s in self.gate_sensors()):
            names.append(DEFAULT_GROUP)
        return names

    def _state_at(self, sensor: dict[str, Any], at: float) -> tuple[str | None, float | None]:
        """A gate's state at ``at``: its latest state if that is older, else from the event series."""
        if sensor["last_ts"] is not None and sensor["last_ts"] <= at:
            return sensor["last_state"], sensor["last_ts"]
        # Newest first: a busy door has more events in the look-back than any limit would hold.
        latest = next((e for e in self._series.events(at - STATE_LOOKBACK_S, at, sensor=sensor["key"], limit=100,
                                                      newest_first=True)
                       if e.kind in self.config.door_kinds and e.state in ("open", "closed")), None)
        if latest is None:
            return None, None
        return latest.state, latest.ts

    def sweep(self, group: str, closing_at: float, now: float | None = None) -> Sweep | None:
        """Run the closing sweep of ``group`` for one closing time (None: already swept)."""
        with self._lock:
            return self._sweep(group, closing_at, self.clock() if now is None else now)

    def _sweep(self, group: str, closing_at: float, now: float) -> Sweep | None:
        members = [s for s in self.gate_sensors() if s["group"] == group]
        states: dict[str, dict[str, Any]] = {}
        for sensor in members:
            state, since = self._state_at(sensor, closing_at)
            states[sensor["key"]] = {"state": state or "unknown", "since": since,
                                     "name": self._engine.name(sensor["key"])}
        not_closed = rules.gates_not_closed({k: (None if v["state"] == "unknown" else v["state"])
                                             for k, v in states.items()})
        sweep = self.store.add_sweep(group, closing_at, now, states, len(not_closed))
        if sweep is None:
            return None
        self._state.append_audit(now, "system", "gate.sweep", f"gate-group/{group}",
                                 {"closing_at": closing_at, "not_closed": not_closed})
        grace = self.calendar.group(group).close_grace_s
        by_key = {s["key"]: s for s in members}
        for key in not_closed:
            sensor = by_key[key]
            if sensor["last_state"] == "closed" and (sensor["last_ts"] or 0) > closing_at:
                continue  # closed since: the report shows it, there is nothing left to alarm about
            name = states[key]["name"]
            label = self._group_label(group)
            message = (f"{name} 在关闭时间 {self._local(closing_at)} 后仍未关闭（{label}）" if self._zh()
                       else f"{name} still open after closing time {self._local(closing_at)} ({label})")
            self._engine.observe(NOT_CLOSED_RULE, key, True, closing_at, kind=ALERT_KIND,
                                 severity=rules.severity(self.config, self.calendar, closing_at),
                                 device=sensor["device"], message=message, delay_s=grace,
                                 data={"group": group, "closing_at": closing_at, "sweep": sweep.id})
        return sweep

    def _judge_round(self, window: rules.RoundWindow, now: float) -> bool:
        route = self.config.routes[window.route]
        start, end = window.opening.start.timestamp(), window.opening.end.timestamp()
        visits = [(v.ts, v.checkpoint) for v in self.store.visits(start, end)]
        missing = rules.missing_checkpoints(route, window.opening, visits)
        if not self.store.add_round(window.route, start, end, not missing, missing, now):
            return False
        if not missing:
            return True
        label = route.name or window.route
        names = "、".join(self.config.checkpoints[c].name or c for c in missing)
        span = f"{self._local(start)}–{self._local(end)}"
        message = (f"巡更漏检：{label} {span} 未到 {names}" if self._zh()
                   else f"Patrol round missed: {label} {span}, not visited: {', '.join(missing)}")
        subject = f"patrol:{window.route}:{window.opening.start.strftime('%Y-%m-%dT%H:%M')}"
        severity = self.config.night_severity if window.night else self.config.day_severity
        observed: dict[str, Any] = {"kind": ALERT_KIND, "severity": severity, "device": "hub", "message": message}
        # An event, not a condition: it fires, is notified, and waits for someone to acknowledge and close it.
        self._engine.observe(MISSED_ROUND_RULE, subject, True, end, **observed,
                             data={"route": window.route, "start": start, "end": end, "missing": missing})
        self._engine.observe(MISSED_ROUND_RULE, subject, False, end, **observed)
        return True

    def _check_offline(self, now: float) -> None:
        """A door sensor's device gone quiet: a gate alarm, grouped with the engine's device_offline."""
        door_devices = self._door_devices()
        if not door_devices:
            return
        for device in self._state.devices():
            name = device["device"]
            if name not in door_devices:
                continue
            went_quiet = device["last_seen"] or device["state_since"] or now
            if device["state"] == "offline":
                went_quiet = min(went_quiet, device["state_since"] or went_quiet)
            active = now - went_quiet >= self._offline_after_s
            message = (f"门磁设备 {name} 离线（{self._local(went_quiet)} 起）" if self._zh()
                       else f"Door sensor device {name} offline since {self._local(went_quiet)}")
            self._engine.observe(SENSOR_OFFLINE_RULE, name, active, now, kind=ALERT_KIND,
                                 severity=rules.severity(self.config, self.calendar, now), device=name,
                                 message=message, incident=f"device:{name}")

    # -- reading back --------------------------------------------------------------------------

    def gates(self, now: float | None = None) -> list[dict[str, Any]]:
        """Every gate and door: state, group, the window it is in or the next one, the group's last sweep."""
        now = self.clock() if now is None else now
        calendar = self.calendar
        result = []
        for sensor in self.gate_sensors():
            group = sensor["group"]
            item: dict[str, Any] = {"key": sensor["key"], "name": self._engine.name(sensor["key"]),
                                    "kind": sensor["kind"], "device": sensor["device"],
                                    "state": sensor["last_state"] or "unknown", "since": sensor["last_ts"],
                                    "group": group, "window_now": None, "window_next": None, "last_sweep": None}
            if group is not None:
                current = calendar.opening_at(group, now)
                upcoming = rules.next_opening(calendar, group, current.end.timestamp() if current else now)
                item["window_now"] = opening_public(current)
                item["window_next"] = opening_public(upcoming)
                last = self.store.last_sweep(group)
                item["last_sweep"] = sweep_public(last) if last else None
            result.append(item)
        return result

    def patrol_day(self, day: dt.date) -> list[dict[str, Any]]:
        """Rounds required and done per route on one local day, with the visits of its windows."""
        calendar = self.calendar
        result = []
        for name, route in self.config.routes.items():
            windows = rules.round_windows(name, route, calendar, day)
            day_start = dt.datetime.combine(day, dt.time(0), calendar.tz).timestamp()
            since = min([day_start, *(w.opening.start.timestamp() for w in windows)])
            until = max([day_start + 86400, *(w.opening.end.timestamp() for w in windows)])
            visits = [v for v in self.store.visits(since, until) if v.checkpoint in route.checkpoints]
            pairs = [(v.ts, v.checkpoint) for v in visits]
            rounds = []
            for window in windows:
                missing = rules.missing_checkpoints(route, window.opening, pairs)
                rounds.append({**(opening_public(window.opening) or {}), "night": window.night, "complete": not missing,
                               "missing": missing, "over": window.opening.end.timestamp() <= self.clock()})
            result.append({"route": name, "name": route.name or name, "checkpoints": route.checkpoints,
                           "required": len(windows), "done": sum(1 for r in rounds if r["complete"]),
                           "rounds": rounds, "visits": [visit_public(v) for v in visits]})
        return result

    def after_hours_openings(self, since: float, until: float) -> list[tuple[str, float]]:
        """Gates and doors opened outside their windows in ``[since, until)``: ``(sensor, opened_at)``, oldest first.

        Read from this duty's own alarms (``gate_after_hours``): the visitor book checks each
        against its registrations (hub.visitors), so an opening nobody registered is found.
        """
        found = self._state.alerts(kind=ALERT_KIND, since=since - 1, until=until, limit=10_000)
        openings = [(a.subject, float(a.data.get("opened_at", a.started_at))) for a in found
                    if a.rule is AFTER_HOURS_RULE]
        return sorted((o for o in openings if since <= o[1] < until), key=lambda o: (o[1], o[0]))

    def visits(self, since: float, until: float) -> list[dict[str, Any]]:
        return [visit_public(v) for v in self.store.visits(since, until)]

    def suggestions(self, now: float | None = None) -> list[rules.Suggestion]:
        """Calendar overrides suggested by after-hours openings acknowledged for the same recurring reason."""
        now = self.clock() if now is None else now
        found = []
        for alert in self._state.alerts(kind=ALERT_KIND, since=now - 14 * 86400, limit=5000):
            reason = str(alert.data.get("ack_reason") or "")
            group = alert.data.get("group")
            # Only reasons someone chose (not a list's first entry taken by one tap, as before they were
            # asked for), and never "other": a suggestion must stand on a reason that says what it was.
            chosen = bool(alert.data.get("ack_reason_chosen")) and reason != rules.OTHER_REASON
            if (alert.rule == AFTER_HOURS_RULE and alert.acked_at is not None and chosen and group
                    and alert.id):
                found.append(rules.AckedOpening(alert.id, alert.subject, str(group), reason,
                                                float(alert.data.get("opened_at") or alert.started_at)))
        return rules.suggest_overrides(found, self.calendar, now)


def opening_public(opening: Any) -> dict[str, Any] | None:
    if opening is None:
        return None
    return {"start": opening.start.isoformat(), "end": opening.end.isoformat(),
            "start_ts": opening.start.timestamp(), "end_ts": opening.end.timestamp()}


def sweep_public(sweep: Sweep) -> dict[str, Any]:
    return {"id": sweep.id, "group": sweep.group, "closing_at": sweep.closing_at, "swept_at": sweep.swept_at,
            "states": sweep.states, "not_closed": sweep.not_closed}


def visit_public(visit: Visit) -> dict[str, Any]:
    return {"id": visit.id, "ts": visit.ts, "checkpoint": visit.checkpoint, "tag": visit.tag,
            "sensor": visit.sensor, "device": visit.device, "input": visit.input}
