"""The alert vocabulary as types: lifecycle states, severities, alert kinds and rules.

Every layer — the store, the engine, the API, the pages, notifications and reports —
names these values, so they live here, in a module that imports nothing of the hub
and can be imported from anywhere without a cycle. They are ``StrEnum``s: a member
equals its string, so what is written to SQLite, JSON, the audit log and InfluxDB is
the same text as before; values read back are turned into members at the boundary,
where an unknown one fails loudly instead of falling through every ``if``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class AlertState(StrEnum):
    """Where an alert is in its lifecycle (hub.alerts.lifecycle): 发现 → 上报 → 处理 → 验收."""

    #: The condition holds; its delay is still running (not an alarm yet).
    PENDING = "pending"
    #: The delay ran out: an alarm, escalating until someone acknowledges it.
    FIRING = "firing"
    #: Someone is on it; the condition still holds.
    ACKNOWLEDGED = "acknowledged"
    #: The condition cleared; the corrective action is still to be recorded.
    RESOLVED = "resolved"
    #: The corrective action is recorded; the safety officer is still to check it.
    CLOSED = "closed"
    #: Checked: the record is complete.
    VERIFIED = "verified"
    #: The condition ended before its delay ran out: never an alarm.
    CANCELLED = "cancelled"


#: States in which the condition may still hold (the engine keeps following the alert).
ACTIVE_STATES: tuple[AlertState, ...] = (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
#: States someone still has to act on (acknowledge, close or verify).
OPEN_STATES: tuple[AlertState, ...] = (AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED,
                                       AlertState.CLOSED)
#: States in which the alarm sounds (the edge buzzer is on).
SOUNDING_STATES: tuple[AlertState, ...] = (AlertState.FIRING,)
#: States a person has dealt with (the report's "handled").
HANDLED_STATES: tuple[AlertState, ...] = (AlertState.CLOSED, AlertState.VERIFIED)


class Severity(StrEnum):
    """How bad an alert is; ``rank`` orders them (worse is higher)."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Worse is higher: merging and rate-limit decisions keep the worst severity."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 3, Severity.WARNING: 2, Severity.INFO: 1}


def worst(severities: Iterable[Severity]) -> Severity:
    """The worst of several severities (the first of equals)."""
    return max(severities, key=lambda s: s.rank)


class AlertKind(StrEnum):
    """What an alert is about: picks the escalation policy and the page (canteen or gate house)."""

    TEMPERATURE = "temperature"
    DOOR = "door"
    SENSOR = "sensor"
    DEVICE = "device"
    #: The hub itself: a notification channel, the broker.
    HUB = "hub"
    GATE = "gate"
    SAMPLE = "sample"
    #: Food samples that may be discarded: a notice, not an alarm.
    SAMPLE_NOTICE = "sample_notice"
    #: A checklist not done by its deadline (hub.checks).
    CHECK = "check"
    #: A work order not fixed by its due time (hub.checks).
    WORK_ORDER = "work_order"
    #: The gate register: visitors and pupils in and out (hub.visitors).
    VISITOR = "visitor"


class RuleKind(StrEnum):
    """The rule that raised an alert; each has one description in ``hub.alerts.builtin``."""

    # the alert engine's own (hub.alerts.engine)
    TEMPERATURE_LIMITS = "temperature_limits"  # the delayed limits and the hard limits (no delay)
    SENSOR_FAULT = "sensor_fault"
    SENSOR_STALE = "sensor_stale"
    DOOR_OPEN_TOO_LONG = "door_open_too_long"
    DEVICE_OFFLINE = "device_offline"
    CLOCK_UNSYNCED = "clock_unsynced"
    OUTBOX_DROPPING = "outbox_dropping"
    CHANNEL_FAILING = "channel_failing"
    # the ingest pipeline's per-device quotas (hub.ingest)
    DEAD_LETTERS = "dead_letters"
    # the broker's drop counter (hub.broker_watch)
    BROKER_DROPPING = "broker_dropping"
    # the hub's own stores refusing to write: a full disk (hub.store_outage)
    STORE_CANNOT_WRITE = "store_cannot_write"
    # the nightly backup (hub.backup)
    BACKUP_FAILED = "backup_failed"
    #: The school's link to the district has failed for ``district.alarm_after_s``, or its token is refused.
    DISTRICT_LINK = "district_link"
    # gate duty (hub.gate.monitor)
    GATE_AFTER_HOURS = "gate_after_hours"
    GATE_NOT_CLOSED = "gate_not_closed"
    GATE_TAMPER = "gate_tamper"
    GATE_SENSOR_OFFLINE = "gate_sensor_offline"
    PATROL_ROUND_MISSED = "patrol_round_missed"
    # food samples (hub.samples.monitor)
    SAMPLE_MISSING = "sample_missing"
    SAMPLE_UNDERWEIGHT = "sample_underweight"
    SAMPLE_DISCARDED_EARLY = "sample_discarded_early"
    SAMPLE_DISCARDABLE = "sample_discardable"
    # checklists and work orders (hub.checks.service)
    CHECK_OVERDUE = "check_overdue"
    WORK_ORDER_OVERDUE = "work_order_overdue"
    # probe calibration (hub.calibration.service)
    CALIBRATION_FAILED = "calibration_failed"
    CALIBRATION_OVERDUE = "calibration_overdue"
    # the gate register (hub.visitors.service)
    VISITOR_INSIDE_AT_CLOSING = "visitor_inside_at_closing"
    VISITOR_AFTER_HOURS = "visitor_after_hours"
    GATE_OPENING_UNREGISTERED = "gate_opening_unregistered"
    PUPIL_NOT_RETURNED = "pupil_not_returned"
