"""Turn what the hub observes into alert records, and alert records into notifications.

The rules (hub.rules) are pure; this is where their state lives. Every rule state —
when an excursion began, whether it fired, which alert it belongs to — is written to
the state store on every change and reloaded at start: a hub restarted ten minutes
into a fifteen-minute delay fires five minutes later, not fifteen, and a condition
already true at start fires because the first observation after start is evaluated
like any other. Escalation bookkeeping lives on the alert row itself, so a restart
neither repeats nor forgets a notification.

Only alarms are records. While a delay runs (a door opened for a delivery, a probe
warming for a minute) the episode lives in the rule state alone: no alert row, no
audit entry. If the condition ends first, nothing was an alarm and nothing is written
but a count (``quiet_episodes``); the page still shows a running delay as pending
(``pending``). An alert row and its audit entries begin when the delay runs out.

A temperature excursion is judged by the limits in force when it began (kept with the
episode): an edit made while it runs may tighten them, never loosen them, so nobody
can end an alarm by changing a number (docs/alerts.md "Limits").
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from edge import wire
from hub.alerts.builtin import MessageContext, describe
from hub.alerts.config import AlertsConfig
from hub.alerts.kinds import ACTIVE_STATES, AlertKind, AlertState, RuleKind, Severity
from hub.alerts.lifecycle import Action, apply_action, check_interim
from hub.alerts.limits import limits_for, profile_of
from hub.alerts.playbooks import Step, playbook_for, steps, worst_value
from hub.closed import NothingSigned, PeriodSigned, SignedPeriods
from hub.errors import FieldError
from hub.rules.condition import ConditionState, Transition, elapse, step
from hub.rules.escalation import Unhandled, due_tiers, unhandled_due
from hub.rules.silence import Silence, silencing
from hub.rules.threshold import Limits, ThresholdState, on_time, on_value
from hub.settings import HubConfig
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert, AlertAction, StateStore

_LOGGER = logging.getLogger(__name__)

# The engine's own rules (their descriptions: hub.alerts.builtin).
THRESHOLD_RULE = RuleKind.TEMPERATURE_LIMITS
FAULT_RULE = RuleKind.SENSOR_FAULT
STALE_RULE = RuleKind.SENSOR_STALE
DOOR_RULE = RuleKind.DOOR_OPEN_TOO_LONG
OFFLINE_RULE = RuleKind.DEVICE_OFFLINE
CLOCK_RULE = RuleKind.CLOCK_UNSYNCED
DROPPING_RULE = RuleKind.OUTBOX_DROPPING
CHANNEL_RULE = RuleKind.CHANNEL_FAILING

#: Called after an alert changed state (the edge buzzer, the web page's live view).
AlertListener = Callable[[Alert], None]


class AlertNotifier(Protocol):
    """Hands a notification to the channels of a route; must not block (it runs on the ingest thread)."""

    def deliver(self, alert: Alert, route: str, reason: str) -> None: ...


class LoggingNotifier:
    """Where no channel is configured: the alarm is on the web page and in the log, and nowhere else."""

    def deliver(self, alert: Alert, route: str, reason: str) -> None:
        _LOGGER.warning("ALARM [%s → %s] %r", reason, route, alert.message)


@dataclass
class _Record:
    """One rule's state for one subject, plus the alert it belongs to."""

    state: Any  # ThresholdState or ConditionState
    alert_id: int | None = None
    #: About the current episode (what to say, the rule's subject and delay); dropped when it ends.
    extra: dict[str, Any] = field(default_factory=dict)
    #: What outlives an episode (an outbox's cumulative drop count).
    memo: dict[str, Any] = field(default_factory=dict)
    #: What was last written to the store; only a change of it is written again.
    saved: dict[str, Any] | None = None

    @property
    def active(self) -> bool:
        return self.condition.since is not None or self.condition.firing

    def durable(self) -> dict[str, Any] | None:
        """The part that must survive a restart (None: nothing to keep, the record can go)."""
        if not self.active and not self.memo:
            return None
        body = self.to_json()
        body.pop("last_ts", None)  # the latest reading time and value change every reading;
        body.pop("last_value", None)  # they need not be written every reading
        return body

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.state, ThresholdState):
            body: dict[str, Any] = {**dataclasses.asdict(self.state.condition), "peak": self.state.peak,
                                    "last_value": self.state.last_value}
        else:
            body = dataclasses.asdict(self.state)
        return {**body, "alert_id": self.alert_id, "extra": self.extra, "memo": self.memo}

    @staticmethod
    def from_json(rule: RuleKind, saved: dict[str, Any]) -> _Record:
        condition = ConditionState(since=saved.get("since"), firing=bool(saved.get("firing")),
                                   last_ts=saved.get("last_ts"))
        state: Any = condition
        if describe(rule).threshold:
            state = ThresholdState(condition, saved.get("peak"), saved.get("last_value"))
        record = _Record(state, saved.get("alert_id"), dict(saved.get("extra") or {}), dict(saved.get("memo") or {}))
        record.saved = record.durable()
        return record

    @property
    def condition(self) -> ConditionState:
        state: ConditionState = self.state.condition if isinstance(self.state, ThresholdState) else self.state
        return state


@dataclass(frozen=True)
class _Subject:
    """What an alert is about: enough to create its record."""

    rule: RuleKind
    subject: str
    kind: AlertKind
    severity: Severity
    device: str
    incident: str | None = None

    @staticmethod
    def of(rule: RuleKind, subject: str, device: str, incident: str | None = None,
           severity: Severity | None = None) -> _Subject:
        """A subject of one of the engine's rules, with the kind and severity its description gives."""
        description = describe(rule)
        return _Subject(rule, subject, description.kind, severity or description.severity, device, incident)


def _newest(judged: dict[str, float], sensor: str, ts: float) -> bool:
    """Whether an observation is as new as any the rules judged for its sensor (then it is the newest)."""
    newest = judged.get(sensor)
    if newest is not None and ts < newest:
        return False
    judged[sensor] = ts
    return True


def _judged_by(record: _Record, current: Limits) -> Limits:
    """The limits an excursion is judged by: those it began under, tightened (never loosened) by edits since."""
    pinned = record.extra.get("limits")
    if not record.active or pinned is None:
        return current
    began = Limits(**{**pinned, "severity": Severity(pinned.get("severity", current.severity))})
    return began.stricter(current)


def _pin(record: _Record, state: ThresholdState, limits: Limits) -> None:
    """Keep the limits an excursion began under with the episode (and so across a restart)."""
    if state.condition.since is not None and "limits" not in record.extra:
        record.extra["limits"] = {**dataclasses.asdict(limits), "severity": str(limits.severity)}


class AlertEngine:
    def __init__(self, store: StateStore, config: HubConfig, tz: ZoneInfo,
                 listeners: Sequence[AlertListener] = (), notifier: AlertNotifier | None = None,
                 clock: Callable[[], float] = time.time, signed: SignedPeriods | None = None) -> None:
        self._store = store
        #: The periods whose report is signed: their alarms take no more actions or photos (hub.closed).
        self.signed: SignedPeriods = signed or NothingSigned()
        self._config = config
        self._alerts_config: AlertsConfig = config.alerts
        self._tz = tz
        self._listeners = list(listeners)
        self.notifier: AlertNotifier = notifier or LoggingNotifier()
        self._clock = clock
        self._lock = threading.RLock()
        self._limits: dict[str, Limits] = {}
        self._names: dict[str, str] = {}
        self._profiles: dict[str, str] = {}
        self._door_of: dict[str, str] = {u.temperature: u.door for u in self._alerts_config.units}
        self._unit_of_door: dict[str, str] = {u.door: u.temperature for u in self._alerts_config.units}
        #: Delayed conditions that ended before their delay ran out, per rule (a statistic, not a record).
        self.quiet_episodes: Counter[RuleKind] = Counter()
        self._records: dict[tuple[RuleKind, str], _Record] = {
            key: _Record.from_json(key[0], saved) for key, saved in store.rule_states().items()
        }
        #: The newest reading and the newest event time the rules have judged, per sensor. A backlog
        #: drained after an outage arrives after the live data of its sensors (the backfill lane): what
        #: is older than this is stored and listed as history, never judged again — it may not fire an
        #: alarm about the past nor rewind the state a newer observation set (docs/reliability.md).
        #: One float per sensor (bounded by the sensors the devices announce).
        self._judged_readings: dict[str, float] = {}
        self._judged_events: dict[str, float] = {}
        self.history_skipped = 0
        self.refresh_sensors()

    # -- configuration -------------------------------------------------------------------------

    def add_listener(self, listener: AlertListener) -> None:
        self._listeners.append(listener)

    def reconfigure(self, config: HubConfig) -> None:
        """New settings in force (the admin page named or assigned a sensor): names, profiles and limits follow.

        An excursion already running keeps the limits it began under (``_judged_by``).
        """
        with self._lock:
            self._config = config
            self._alerts_config = config.alerts
            self._door_of = {u.temperature: u.door for u in config.alerts.units}
            self._unit_of_door = {u.door: u.temperature for u in config.alerts.units}
        self.refresh_sensors()

    def refresh_sensors(self) -> None:
        """Re-read the sensor registry and the edited limits (after a device announced its sensors,
        after someone changed a sensor's limits)."""
        limits: dict[str, Limits] = {}
        names: dict[str, str] = {}
        profiles: dict[str, str] = {}
        edits = self._store.limit_edits()
        for sensor in self._store.sensors():
            profiles[sensor["key"]] = profile_of(sensor, self._config)
            found = limits_for(sensor, self._config, edits.get(sensor["key"]))
            if found is not None:
                limits[sensor["key"]] = found
            override = self._config.sensors.get(sensor["key"])
            configured = override.name if override is not None else None
            names[sensor["key"]] = configured or sensor["name"] or sensor["key"]
        with self._lock:
            self._limits, self._names, self._profiles = limits, names, profiles

    def limits(self, key: str) -> Limits | None:
        with self._lock:
            return self._limits.get(key)

    def name(self, key: str) -> str:
        return self._names.get(key, key)

    @property
    def locale(self) -> str:
        return self._alerts_config.locale

    # -- observations --------------------------------------------------------------------------

    def on_readings(self, readings: Sequence[StoredReading]) -> None:
        """Evaluate a committed batch, in reading-time order."""
        changed: list[Alert] = []
        fault_delay = self._alerts_config.defaults.fault_delay_s
        with self._lock:
            for reading in sorted(readings, key=lambda r: r.ts):
                if not _newest(self._judged_readings, reading.sensor, reading.ts):
                    self.history_skipped += 1
                    continue
                device = reading.sensor.split("/", 1)[0]
                self._condition(_Subject.of(FAULT_RULE, reading.sensor, device),
                                reading.fault is not None, reading.ts, fault_delay, changed, fault=reading.fault)
                limits = self._limits.get(reading.sensor)
                if limits is None or reading.value is None:
                    continue
                if (THRESHOLD_RULE, reading.sensor) not in self._records and not limits.outside(reading.value):
                    continue  # the common case: in range, nothing pending
                record = self._record(THRESHOLD_RULE, reading.sensor)
                limits = _judged_by(record, limits)
                new_state, transition = on_value(limits, record.state, reading.value, reading.ts)
                _pin(record, new_state, limits)
                subject = _Subject.of(THRESHOLD_RULE, reading.sensor, device, self._unit_incident(reading.sensor),
                                      limits.severity)
                self._advance(subject, record, new_state, transition, reading.ts, changed)
        self._notify(changed)

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """Doors: a door of a kind with a maximum open time alarms when held open past it."""
        changed: list[Alert] = []
        limits = self._alerts_config.defaults.door_open_max_s
        with self._lock:
            for event in sorted(events, key=lambda e: e.ts):
                if event.kind not in limits or event.state not in ("open", "closed"):
                    continue
                if not _newest(self._judged_events, event.sensor, event.ts):
                    self.history_skipped += 1
                    continue
                subject = _Subject.of(DOOR_RULE, event.sensor, event.device,
                                      self._unit_incident(self._unit_of_door.get(event.sensor, "")))
                self._condition(subject, event.state == "open", event.ts, limits[event.kind], changed)
        self._notify(changed)

    def on_health(self, device: str, health: wire.Health, now: float) -> None:
        """Clock never synchronised; an outbox that had to drop readings."""
        changed: list[Alert] = []
        defaults = self._alerts_config.defaults
        with self._lock:
            self._condition(_Subject.of(CLOCK_RULE, device, device), not health.clock_synced,
                            now, defaults.clock_unsynced_after_s, changed)
            if health.dropped > 0 or (DROPPING_RULE, device) in self._records:
                memo = self._record(DROPPING_RULE, device).memo
                # Counted since the outbox was created: a first sight with drops is news too.
                if health.dropped > memo.get("dropped", 0):
                    memo["last_increase"] = now
                    memo["increase"] = health.dropped - memo.get("dropped", 0)
                memo["dropped"] = health.dropped
                active = now - memo.get("last_increase", float("-inf")) < defaults.dropped_quiet_s
                self._condition(_Subject.of(DROPPING_RULE, device, device), active, now, 0.0,
                                changed, increase=memo.get("increase", 0))
        self._notify(changed)

    def observe(self, rule: RuleKind, subject: str, active: bool, at: float, *, device: str, message: str,
                kind: AlertKind | None = None, severity: Severity | None = None, delay_s: float = 0.0,
                incident: str | None = None, data: dict[str, Any] | None = None) -> Alert | None:
        """The seam for domain modules (food samples, gate duty): report a condition of your own.

        ``active`` is whether the condition holds at ``at``; it goes through the same
        delay, lifecycle, escalation, silences and audit as the built-in rules.
        ``kind`` and ``severity`` default to the rule's description (hub.alerts.builtin).
        Returns the alert when this call changed a recorded one (not while a delay runs).
        """
        changed: list[Alert] = []
        description = describe(rule)
        found = _Subject(rule, subject, kind or description.kind, severity or description.severity, device, incident)
        with self._lock:
            self._condition(found, active, at, delay_s, changed,
                            message=message, data=data or {})
        self._notify(changed)
        return next((a for a in changed if a.id is not None), None)

    def on_channel_failure(self, channel: str, error: str) -> None:
        """A notification channel failed: an alarm of its own (its fallback carries it)."""
        now = self._clock()
        changed: list[Alert] = []
        with self._lock:
            self._condition(_Subject.of(CHANNEL_RULE, channel, "hub"), True, now, 0.0, changed,
                            error=error[:200])
        self._notify(changed)

    def on_channel_ok(self, channel: str) -> None:
        now = self._clock()
        changed: list[Alert] = []
        with self._lock:
            self._condition(_Subject.of(CHANNEL_RULE, channel, "hub"), False, now, 0.0, changed)
        self._notify(changed)

    def record_resolved(self, alert: Alert) -> Alert:
        """Record an alarm that fired and resolved while it could only live in memory (hub.store_outage).

        A full disk refuses the alert record the engine writes before notifying, so that
        alarm was notified from memory; once the store writes again it is saved here as
        it ended — resolved, waiting for its corrective action and verification like any
        other — in one transaction with its audit entry, and the routes it reached are
        told it is over.
        """
        assert alert.id is None and alert.resolved_at is not None
        alert.state = AlertState.RESOLVED
        with self._lock:
            self._store.save_alert(alert, action="alert.resolved",
                                   detail={"rule": alert.rule, "fired_at": alert.fired_at, "kept_in_memory": True})
            _LOGGER.info("alert %s recorded after the store could write again: %r", alert.id, alert.message)
            if alert.notified_tier >= 0:
                self._send(alert, alert.notified_tier, "resolved", alert.resolved_at)
        self._notify([alert])
        return alert

    def tick(self, now: float) -> None:
        """Run time forward: delays run out, sensors go stale, devices go quiet, escalation moves on."""
        changed: list[Alert] = []
        with self._lock:
            for (rule, subject_key), record in list(self._records.items()):
                if rule == THRESHOLD_RULE and (limits := self._limits.get(subject_key)) is not None:
                    limits = _judged_by(record, limits)
                    new_state, transition = on_time(limits, record.state, now)
                    device = subject_key.split("/", 1)[0]
                    subject = _Subject.of(rule, subject_key, device, self._unit_incident(subject_key),
                                          limits.severity)
                    self._advance(subject, record, new_state, transition, now, changed)
                elif (observed := record.extra.get("observed")) is not None:
                    new, transition = elapse(record.condition, now, float(observed["delay_s"]))
                    subject = _Subject(rule, subject_key, AlertKind(observed["kind"]),
                                       Severity(observed["severity"]), observed["device"], observed["incident"])
                    self._advance(subject, record, new, transition, now, changed)
            self._check_quiet(now, changed)
            self._escalate_all(now)
            self._chase_unhandled(now)
        self._notify(changed)

    def _check_quiet(self, now: float, changed: list[Alert]) -> None:
        """Devices that stopped talking, and sensors that stopped reporting."""
        defaults = self._alerts_config.defaults
        offline: set[str] = set()
        for device in self._store.devices():
            name = device["device"]
            went_quiet = device["last_seen"] or device["state_since"] or now
            if device["state"] == "offline":
                went_quiet = min(went_quiet, device["state_since"] or went_quiet)
            active = now - went_quiet >= defaults.offline_after_s
            if active:
                offline.add(name)
            self._condition(_Subject.of(OFFLINE_RULE, name, name, f"device:{name}"), active, now,
                            0.0, changed, since=went_quiet)
        for sensor in self._store.sensors():
            if sensor["kind"] != "temperature" or sensor["device"] in offline:
                continue  # an offline device is one incident, not one per probe
            last = sensor.get("last_received")
            active = last is not None and now - last >= defaults.stale_after_s
            self._condition(_Subject.of(STALE_RULE, sensor["key"], sensor["device"]), active,
                            now, 0.0, changed, last=last)

    # -- people --------------------------------------------------------------------------------

    def act(self, alert_id: int, action: Action, who: str, text: str = "",
            data: dict[str, Any] | None = None) -> Alert:
        """Acknowledge, close (with the corrective action) or verify; raises LifecycleError or KeyError.

        ``data`` (e.g. the gatekeeper's reason) is stored on the alert in the same transaction.
        """
        with self._lock:
            alert = self._store.alert(alert_id)
            if alert is None:
                raise KeyError(alert_id)
            self.refuse_if_signed(alert, action)
            updated = apply_action(alert, action, who, text, self._clock())
            updated.data.update(data or {})
            self._store.save_alert(updated, actor=who, action=action, detail={"text": text.strip(), **(data or {})})
        self._notify([updated])
        return updated

    def refuse_if_signed(self, alert: Alert, doing: str) -> None:
        """Refuse ``doing`` (an action, attaching a photo) on an alarm of a signed period (hub.closed).

        The signed report printed the alarm as it stood: who acknowledged, closed and verified it,
        with what action. What was finished then stays so; anything more is a note. An alarm still
        open when the period was signed was printed as open: it goes on being handled (a fridge
        that broke on Sunday night is closed on Monday), and the next report shows the rest. An
        alarm closed but not yet verified can still be verified, for the same reason.
        """
        signed = self.signed.covering(alert.started_at, alert.resolved_at or alert.started_at)
        if signed is None or alert.closed_at is None or alert.closed_at > signed.signed_at:
            return
        if doing == "verify" and alert.verified_at is None:
            return
        raise PeriodSigned("alert_id", f"alert {alert.id}", f"报警 {alert.id} ", signed)

    def playbook(self, alert: Alert) -> list[Step]:
        """What to do now about ``alert``: its kind's steps from the hub config (none for some kinds)."""
        found = playbook_for(alert.rule, self._profiles.get(alert.subject, ""), worst_value(alert),
                             alert.threshold)
        return steps(self._alerts_config.playbooks, found, alert.threshold)

    def playbook_texts(self, alert: Alert) -> list[str]:
        """The steps in the language of alarm messages (``alerts.locale``), for notifications."""
        return [item.text(self.locale) for item in self.playbook(alert)]

    def record_action(self, alert_id: int, who: str, text: str, ticked: Sequence[str] = (),
                      photos: Sequence[str] = (), known_photos: Sequence[str] = ()) -> AlertAction:
        """Keep an interim action on an alarm still being handled; raises LifecycleError, FieldError or KeyError.

        ``ticked`` are keys of the alarm's playbook steps; ``photos`` must be among ``known_photos``
        (those already kept with the alarm). The alarm's state does not change: acknowledging and
        closing stay deliberate acts of their own.
        """
        with self._lock:
            alert = self._store.alert(alert_id)
            if alert is None:
                raise KeyError(alert_id)
            ticked = tuple(dict.fromkeys(ticked))
            check_interim(alert, who, text, ticked)
            offered = {item.key for item in self.playbook(alert)}
            unknown = [key for key in ticked if key not in offered]
            if unknown:
                raise FieldError("steps", f"not a step of this alarm: {', '.join(unknown)}")
            missing = [name for name in photos if name not in set(known_photos)]
            if missing:
                raise FieldError("photos", f"no photo {missing[0]!r} kept with alert {alert_id}; upload it first")
            return self._store.add_alert_action(AlertAction(alert_id, self._clock(), who.strip(), text.strip(),
                                                            ticked, tuple(dict.fromkeys(photos))))

    def note_limits_change(self, key: str, change: dict[str, Any], who: str) -> list[Alert]:
        """Write a limits change (proposed or in force) onto the sensor's running alarm, audited.

        The alarm is not ended by it (it keeps the limits it began under); its history shows
        that the limits moved while it ran, by whom, and whether the change awaits approval.
        """
        noted: list[Alert] = []
        with self._lock:
            for alert in self._store.alerts([AlertState.FIRING, AlertState.ACKNOWLEDGED], subject=key):
                if alert.rule != THRESHOLD_RULE:
                    continue
                alert.data.setdefault("limit_changes", []).append({**change, "by": who, "at": self._clock()})
                alert.updated_at = self._clock()
                self._store.save_alert(alert, actor=who, action="alert.limits_changed", detail=change)
                noted.append(alert)
        self._notify(noted)
        return noted

    def pending(self) -> list[Alert]:
        """Delays running now, as unsaved alerts (no id) for the pages: not alarms yet, not records."""
        found: list[Alert] = []
        with self._lock:
            for (rule, subject_key), record in self._records.items():
                since = record.condition.since
                if since is None or record.condition.firing or record.alert_id is not None:
                    continue
                observed = record.extra.get("observed")
                if rule == THRESHOLD_RULE:
                    limits = self._limits.get(subject_key)
                    if limits is None:
                        continue
                    subject = _Subject.of(rule, subject_key, subject_key.split("/", 1)[0],
                                          self._unit_incident(subject_key), limits.severity)
                elif observed is not None:
                    subject = _Subject(rule, subject_key, AlertKind(observed["kind"]),
                                       Severity(observed["severity"]), observed["device"], observed["incident"])
                else:
                    continue
                alert = Alert(rule=rule, subject=subject_key, kind=subject.kind, severity=subject.severity,
                              state=AlertState.PENDING, message="", started_at=since,
                              updated_at=record.condition.last_ts or since, incident=subject.incident,
                              data={"device": subject.device})
                self._describe(alert, subject, record, since)
                found.append(alert)
        return sorted(found, key=lambda a: a.started_at)

    def listed(self, states: Sequence[AlertState] | None = None, limit: int = 500, kind: str | None = None,
               subject: str | None = None, since: float | None = None,
               until: float | None = None) -> list[Alert]:
        """Alerts on record and, where ``pending`` is asked for (or no state), the delays running now.

        A fridge whose delay is running is about to alarm: a manager listing what is active
        sees it, without an id (it is not a record until the delay runs out). Running delays
        come first, newest first, then the records, newest first; filters combine.
        """
        running: list[Alert] = []
        if not states or AlertState.PENDING in states:
            running = [a for a in reversed(self.pending())
                       if (kind is None or a.kind == kind) and (subject is None or a.subject == subject)
                       and (since is None or a.started_at >= since) and (until is None or a.started_at < until)]
        return (running + self._store.alerts(states, limit, kind=kind, subject=subject, since=since,
                                             until=until))[:limit]

    @property
    def silence_max_s(self) -> float:
        """The longest a silence set through the web app may last (the safety officer's setting)."""
        return self._alerts_config.silence_max_s

    def silences(self) -> list[Silence]:
        configured = [window.silence() for window in self._alerts_config.maintenance]
        return configured + self._store.silences(self._clock(), self._alerts_config.silence_max_s)

    # -- internals -----------------------------------------------------------------------------

    def _record(self, rule: RuleKind, subject: str) -> _Record:
        key = (rule, subject)
        record = self._records.get(key)
        if record is None:
            record = _Record(ThresholdState() if describe(rule).threshold else ConditionState())
            self._records[key] = record
        return record

    def _condition(self, subject: _Subject, active: bool, at: float, delay_s: float, changed: list[Alert],
                   **details: Any) -> None:
        """Step a plain condition rule (every rule but the threshold), with what its alert should say.

        The subject and delay are kept with the episode so ``tick`` can let the delay run
        out without another observation, whichever rule it is.
        """
        key = (subject.rule, subject.subject)
        if not active and key not in self._records:
            return  # the common case: nothing wrong, nothing pending
        record = self._record(*key)
        if active:
            record.extra.update(details)
            record.extra["observed"] = {"kind": subject.kind, "severity": subject.severity,
                                        "device": subject.device, "incident": subject.incident, "delay_s": delay_s}
        new, transition = step(record.condition, active, at, delay_s)
        self._advance(subject, record, new, transition, at, changed)

    def _unit_incident(self, temperature_key: str) -> str | None:
        """Alerts of one cold unit (its probe and its door) are one incident."""
        if temperature_key in self._door_of:
            return f"unit:{temperature_key}"
        return None

    def _advance(self, subject: _Subject, record: _Record, new_state: Any, transition: Transition | None,
                 at: float, changed: list[Alert]) -> None:
        record.state = new_state
        if transition is not None:
            alert = self._transition(subject, record, transition, at)
            if alert is not None:
                changed.append(alert)
        elif record.alert_id is not None and isinstance(new_state, ThresholdState) and new_state.firing:
            self._update_peak(record.alert_id, new_state)
        if not record.active:
            record.extra = {}  # the episode is over
        durable = record.durable()
        if durable != record.saved:
            self._store.save_rule_state(subject.rule, subject.subject, durable)
            record.saved = durable
        if durable is None:
            self._records.pop((subject.rule, subject.subject), None)

    def _transition(self, subject: _Subject, record: _Record, transition: Transition, at: float) -> Alert | None:
        existing = self._store.alert(record.alert_id) if record.alert_id is not None else None
        since = record.condition.since if record.condition.since is not None else at
        if existing is None and transition in (Transition.PENDING, Transition.CANCELLED):
            # A delay began, or ended before it ran out: the rule state holds it, nothing is recorded.
            # The listeners still hear of it (unsaved, no id) so a page shows or drops its pending card.
            if transition is Transition.CANCELLED:
                self.quiet_episodes[subject.rule] += 1
            unsaved = Alert(rule=subject.rule, subject=subject.subject, kind=subject.kind, severity=subject.severity,
                            state=AlertState.PENDING if transition is Transition.PENDING else AlertState.CANCELLED,
                            message="", started_at=since, updated_at=at, incident=subject.incident,
                            data={"device": subject.device})
            self._describe(unsaved, subject, record, since)
            return unsaved
        if transition in (Transition.PENDING, Transition.FIRE):
            alert = existing or Alert(rule=subject.rule, subject=subject.subject, kind=subject.kind,
                                      severity=subject.severity, state=AlertState.PENDING, message="",
                                      started_at=since, updated_at=at, incident=subject.incident,
                                      data={"device": subject.device})
            self._describe(alert, subject, record, since)
            alert.updated_at = at
            if transition is Transition.FIRE:
                alert.state, alert.fired_at = AlertState.FIRING, at
        elif existing is None:
            return None
        else:
            alert = existing
            if transition is Transition.CANCELLED:
                alert.state = AlertState.CANCELLED
            elif alert.state in (AlertState.FIRING, AlertState.ACKNOWLEDGED):
                alert.state = AlertState.RESOLVED
            alert.resolved_at = alert.updated_at = at
            if isinstance(record.state, ThresholdState):
                alert.value = record.state.last_value
        self._store.save_alert(alert, action=f"alert.{alert.state}",
                               detail={"rule": subject.rule, "value": alert.value})
        record.alert_id = alert.id if alert.state in ACTIVE_STATES else None
        _LOGGER.info("alert %s %s: %r", alert.id, alert.state, alert.message)
        if alert.state is AlertState.FIRING:
            self._escalate(alert, at)
        elif alert.state is AlertState.RESOLVED and alert.notified_tier >= 0:
            self._send(alert, alert.notified_tier, "resolved", at)
        return alert

    def _describe(self, alert: Alert, subject: _Subject, record: _Record, since: float) -> None:
        """Write what the alert says: the rule's message (hub.alerts.builtin), or the observer's."""
        render = describe(subject.rule).message
        if render is None:  # a domain module's rule, reported through observe()
            alert.message = str(record.extra.get("message", subject.rule))
            alert.data.update(record.extra.get("data", {}))
            return
        context = MessageContext(self.name(subject.subject), subject.subject, since, self._tz, self.locale,
                                 record.extra)
        if isinstance(record.state, ThresholdState):
            limits = _judged_by(record, self._limits[subject.subject])
            worst = record.state.peak if record.state.peak is not None else record.state.last_value
            assert worst is not None
            alert.value, alert.peak = record.state.last_value, record.state.peak
            alert.threshold = limits.breached(worst)
            context = dataclasses.replace(context, value=worst, limit=alert.threshold)
        alert.message = render(context)

    def _update_peak(self, alert_id: int, state: ThresholdState) -> None:
        alert = self._store.alert(alert_id)
        if alert is not None and alert.peak != state.peak:
            alert.peak, alert.value = state.peak, state.last_value
            self._store.save_alert(alert)

    def _escalate_all(self, now: float) -> None:
        for alert in self._store.alerts([AlertState.FIRING]):
            self._escalate(alert, now)

    def _escalate(self, alert: Alert, now: float) -> None:
        """Notify the tiers that are due for a firing, unacknowledged alert (not while silenced)."""
        silence = silencing(self.silences(), alert.rule, alert.subject, now, self._tz)
        if silence is not None:
            if not alert.silenced:
                alert.silenced = True
                alert.data["silenced_by"] = silence.reason or silence.subject
                self._store.save_alert(alert, action="alert.silenced", detail={"reason": silence.reason})
            return
        if alert.silenced:
            # The window is over and the condition is still there: start escalation from now.
            alert.silenced = False
            alert.data["escalation_from"] = now
            self._store.save_alert(alert, action="alert.unsilenced")
        grouped_with = alert.data.get("grouped_with")
        if grouped_with is not None:
            other = self._store.alert(int(grouped_with))
            if other is not None and other.state in ACTIVE_STATES:
                return  # the incident's first alert carries the notifications
        if alert.notified_tier < 0 and self._grouped(alert):
            return
        policy = self._alerts_config.policy_for(alert.kind)
        start = float(alert.data.get("escalation_from") or alert.fired_at or now)
        for tier in due_tiers(policy, start, alert.acked_at is not None, alert.notified_tier,
                              alert.last_notified_at, now):
            reason = "fire" if alert.notified_tier < 0 else ("escalate" if tier > alert.notified_tier else "repeat")
            self._send(alert, tier, reason, now)

    def _chase_unhandled(self, now: float) -> None:
        """Acknowledged alarms not closed in time: remind whoever acknowledged, then page the next tier.

        Acknowledging says someone is on it; the record is done when the corrective action is
        written (closed). A fridge acknowledged at 14:00 and forgotten must not stay open all
        night without anyone hearing of it again.
        """
        policies = self._alerts_config.policies.values()
        if not any(p.unhandled is not None for p in policies):
            return
        for alert in self._store.alerts([AlertState.ACKNOWLEDGED, AlertState.RESOLVED]):
            if alert.acked_at is None or alert.silenced or alert.data.get("grouped_with") is not None:
                continue
            policy = self._alerts_config.policy_for(alert.kind)
            done = list(alert.data.get("unhandled") or [])
            for due in unhandled_due(policy, alert.acked_at, done, now):
                reached = max(alert.notified_tier, 0)
                tier = reached if due is Unhandled.REMIND else min(reached + 1, len(policy.tiers) - 1)
                route = policy.tiers[tier].route
                self.notifier.deliver(alert, route, f"unhandled.{due}")
                done.append(due.value)
                alert.data["unhandled"] = done
                alert.notified_tier = max(alert.notified_tier, tier)
                alert.last_notified_at = alert.updated_at = now
                alert.notify_count += 1
                self._store.save_alert(alert, action=f"alert.unhandled.{due}",
                                       detail={"route": route, "acked_by": alert.acked_by})
                _LOGGER.info("alert %s acknowledged by %s and not closed: %s (%s)", alert.id, alert.acked_by,
                             due, route)

    def _grouped(self, alert: Alert) -> bool:
        """One incident sends one message: a rise while the unit's door is open rides on the door alarm."""
        if alert.incident is None:
            return False
        for other in self._store.alerts([AlertState.FIRING, AlertState.ACKNOWLEDGED]):
            if other.id != alert.id and other.incident == alert.incident and other.notified_tier >= 0:
                alert.notified_tier = other.notified_tier
                alert.last_notified_at = now = self._clock()
                alert.data["grouped_with"] = other.id
                alert.updated_at = now
                self._store.save_alert(alert, action="alert.grouped", detail={"with": other.id})
                return True
        return False

    def _send(self, alert: Alert, tier: int, reason: str, now: float) -> None:
        policy = self._alerts_config.policy_for(alert.kind)
        routes = [policy.tiers[i].route for i in range(tier + 1)] if reason == "resolved" else \
            [policy.tiers[tier].route]
        for route in routes:
            self.notifier.deliver(alert, route, reason)
        if reason != "resolved":
            alert.notified_tier = max(alert.notified_tier, tier)
            alert.last_notified_at = now
            alert.notify_count += 1
            self._store.save_alert(alert, action="alert.notified", detail={"route": routes[0], "reason": reason})

    def _notify(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            for listener in self._listeners:
                try:
                    listener(alert)
                except Exception:
                    _LOGGER.exception("alert listener failed for alert %s", alert.id)
