"""The report as data: what the JSON API returns, the PDF prints and the tests check.

Plain dataclasses (``dataclasses.asdict`` gives the JSON); times are UTC epoch seconds,
formatted in the school's time zone only when printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity


@dataclass
class InterimEntry:
    """Something a person did while the alarm was being handled, before the final corrective action."""

    at: float
    by: str
    text: str
    #: the playbook steps it ticked off, in words
    steps: list[str] = field(default_factory=list)


@dataclass
class AlarmEntry:
    """One alarm and what people did about it (发现 → 上报 → 处理 → 验收)."""

    id: int | None
    rule: RuleKind
    kind: AlertKind
    subject: str
    name: str
    severity: Severity
    state: AlertState
    message: str
    started_at: float
    resolved_at: float | None
    acked_at: float | None
    acked_by: str | None
    action: str | None
    closed_by: str | None
    verified_at: float | None
    verified_by: str | None
    #: closed or verified: the corrective action is on record.
    handled: bool
    #: what people did before closing it (interim actions), oldest first
    interim: list[InterimEntry] = field(default_factory=list)


@dataclass
class ExcursionEntry:
    start: float
    end: float | None
    peak: float
    side: str
    duration_s: float
    started_before: bool
    alarms: list[AlarmEntry] = field(default_factory=list)


@dataclass
class ChartPoint:
    hour: float
    min: float
    max: float
    mean: float


@dataclass
class LimitEditEntry:
    """One change of a cold unit's limits in the period, or one still waiting for approval."""

    at: float
    #: who set them (or proposed them, for a change beyond the regulatory band)
    by: str
    before: str
    after: str
    reason: str = ""
    #: who approved a change beyond the band (None: within the band, no approval needed)
    approved_by: str | None = None
    #: still waiting for a second person (not in force)
    pending: bool = False


@dataclass
class SilenceEntry:
    """A silence in force at some time in the period: notifications of what it covers were held back."""

    subject: str
    rules: list[str]
    starts_at: float | None
    ends_at: float | None
    #: a daily window ("02:00–02:30"), or None
    window: str | None
    reason: str
    created_by: str
    created_at: float | None
    removed_at: float | None = None


@dataclass
class ColdUnit:
    key: str
    name: str
    low: float | None
    high: float | None
    count: int
    min: float | None
    max: float | None
    mean: float | None
    monitored_s: float
    outside_s: float
    within_s: float
    #: within / monitored (None: nothing monitored)
    within_share: float | None
    excursions: list[ExcursionEntry]
    chart: list[ChartPoint]
    door: str | None
    door_opens: list[float]
    #: every change of the limits in the period (who, when, before, after, approved by)
    limit_edits: list[LimitEditEntry] = field(default_factory=list)
    #: seconds the sensor was expected to report in the period (from the period's start, or its first
    #: reading when it appeared during the period, to the period's end or now); the shares' denominator
    expected_s: float = 0.0
    #: monitored / expected: how much of the expected time readings cover
    coverage: float | None = None
    #: too little data to judge the unit (数据不足): its share within limits is no evidence
    insufficient: bool = False


@dataclass
class LogCell:
    slot: str
    at: float
    value: float | None
    ts: float | None
    within: bool | None
    #: the slot's time had not come when the report was made (未到), rather than a missing reading
    future: bool = False


@dataclass
class LogRow:
    day: str
    key: str
    name: str
    cells: list[LogCell]


@dataclass
class SampleDishEntry:
    name: str
    weight_g: float | None
    underweight: bool


@dataclass
class SampleEntry:
    day: str
    meal: str
    meal_name: str
    #: None: no samples on record for a meal the canteen served
    record_id: int | None
    placed_at: float | None
    on_time: bool | None
    placed_by: str
    dishes: list[SampleDishEntry]
    held_until: float | None
    #: held ≥ the retention (or still held at the report's time)
    held_full: bool | None
    cabinet_ok: bool | None
    discarded_at: float | None
    discarded_by: str | None
    early: bool


@dataclass
class GateSection:
    after_hours: list[AlarmEntry]
    #: closing sweeps that found a gate open: group, closing time, the gates still open
    sweeps_open: list[dict[str, Any]]
    rounds_required: int
    rounds_complete: int
    rounds_missed: list[dict[str, Any]]


@dataclass
class SensorCompleteness:
    key: str
    received: int
    interval_s: float | None
    completeness: float | None
    #: the sensor's name (the key is only a secondary reference)
    name: str = ""
    #: seconds the sensor was expected to report in the period (see ColdUnit.expected_s)
    expected_s: float = 0.0
    #: too few readings to judge (数据不足)
    insufficient: bool = False


@dataclass
class DeviceEntry:
    device: str
    site: str
    state: str
    version: str | None
    uptime_s: float | None
    dropped: int | None
    offline: list[dict[str, float | None]]
    offline_s: float
    sensors: list[SensorCompleteness]


@dataclass
class Signature:
    signed_by: str
    signer_name: str
    signed_at: float
    comment: str


@dataclass
class SummaryItem:
    """One thing that went wrong, and whether it was handled."""

    section: str  # cold_chain, samples, gates, devices
    at: float | None
    text: str
    #: None: nothing to do (an excursion shorter than the alarm delay)
    handled: bool | None
    #: printed instead of handled / no action, and flagged: e.g. 数据不足 for a sensor with too little data
    status: str | None = None


@dataclass
class CheckEntry:
    """One checklist due in the period: done on time, done late, missed, or flagged as ticked too fast."""

    template: str
    name: str
    period: str
    due_at: float
    #: done, late or missed
    status: str
    submitted_at: float | None
    submitted_by: str
    too_fast: bool
    failed: int


@dataclass
class OrderEntry:
    id: int
    title: str
    place: str
    urgency: str
    state: str
    reported_at: float
    reported_by: str
    accepted_at: float | None
    #: opened in the period / closed (accepted) in it / still open past its due time at the period's end
    opened: bool
    closed: bool
    overdue: bool


@dataclass
class ChecksSection:
    checks: list[CheckEntry] = field(default_factory=list)
    orders: list[OrderEntry] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)


@dataclass
class OffsetEntry:
    """An offset a probe's node put in force in the period (readings from ``at`` on carry it)."""

    at: float
    offset: float | None
    #: config (the node's YAML) or hub (a recorded check)
    source: str
    hardware_id: str


@dataclass
class CalibrationEntry:
    """One temperature probe's calibration as at the period's end: last check, offset, standing."""

    key: str
    name: str
    hardware_id: str
    offset: float | None
    offset_source: str
    #: ok, due_soon, overdue, failed or never (hub.calibration.kinds.Standing)
    standing: str
    checked_at: float | None
    checked_by: str
    method: str
    certificate_no: str
    passed: bool | None
    correction: float | None
    next_due: float | None
    #: offsets put in force during the period: readings on either side of each carry different corrections
    changes: list[OffsetEntry] = field(default_factory=list)
    #: the probe was replaced in the period (a new 1-wire id): readings across it are from two probes
    replaced_at: float | None = None
    replaced_id: str = ""


@dataclass
class VisitorDay:
    """One day of the gate register in the report: counts only (the register itself is printed apart, masked)."""

    day: str
    visits: int
    people: int
    pupils_out: int
    without_slip: int


@dataclass
class VisitorsSection:
    """The gate register's period: visitors, after-hours visits, pupils out, exceptions (hub.visitors)."""

    days: list[VisitorDay] = field(default_factory=list)
    #: visitors checked in outside the gate's day (their alarms)
    after_hours: int = 0
    #: after-hours gate openings with nobody registered around them (their alarms)
    unregistered_openings: int = 0
    #: visitors still inside at a closing time (their alarms)
    inside_at_closing: int = 0
    #: pupils on a slip not back by its end, as of the report
    late_back: int = 0

    def total(self, name: str) -> int:
        return sum(int(getattr(d, name)) for d in self.days)


@dataclass
class Report:
    kind: str
    label: str
    title: str
    school: str
    timezone: str
    start: float
    end: float
    generated_at: float
    summary: list[SummaryItem]
    alarms: list[AlarmEntry]
    cold_units: list[ColdUnit]
    log_slots: list[str]
    log_sheet: list[LogRow]
    samples: list[SampleEntry]
    gates: GateSection
    devices: list[DeviceEntry]
    #: the audit chain's head when the report was made: anchors the log on paper
    audit_head: str
    signatures: list[Signature] = field(default_factory=list)
    #: silences (and the config file's maintenance windows) in force at some time in the period
    silences: list[SilenceEntry] = field(default_factory=list)
    #: where the school is (campus, address), printed with its name on every page
    site: str = ""
    #: the language of the report's headers and labels: "zh" (default) or "en" (alerts.locale)
    locale: str = "zh"
    #: the period's checklists and work orders (hub.checks); None where the report reads no checks record
    checks: ChecksSection | None = None
    #: each temperature probe's calibration (hub.calibration); None where the report reads no calibration record
    calibration: list[CalibrationEntry] | None = None
    #: the gate register's counts (hub.visitors); None where the report reads no visitor record
    visitors: VisitorsSection | None = None
