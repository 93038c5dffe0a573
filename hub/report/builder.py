"""Build the report model for a period: the one engine behind the daily, weekly, monthly and range reports.

Each section is computed by a function of the data its queries return; ``build``
only fetches and assembles. ``now`` bounds a period still running: nothing after it
is judged (a log-sheet slot in the future is empty, not missing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from hub.alerts.kinds import HANDLED_STATES, RuleKind
from hub.gate.rules import gates_not_closed
from hub.report import coldchain
from hub.report.calibration import calibration_section, calibration_summary
from hub.report.checks import checks_section
from hub.report.config import ReportConfig
from hub.report.model import (
    AlarmEntry,
    ChartPoint,
    ColdUnit,
    DeviceEntry,
    ExcursionEntry,
    GateSection,
    InterimEntry,
    LimitEditEntry,
    LogCell,
    LogRow,
    Report,
    SampleDishEntry,
    SampleEntry,
    SensorCompleteness,
    Signature,
    SilenceEntry,
    SummaryItem,
)
from hub.report.period import Period
from hub.report.sources import ReportSource
from hub.report.visitors import visitors_section
from hub.samples import rules as sample_rules
from hub.samples.config import EVENT_MEAL
from hub.store.base import HourlyAggregate
from hub.store.state import Alert

THRESHOLD_RULE = RuleKind.TEMPERATURE_LIMITS
AFTER_HOURS_RULE = RuleKind.GATE_AFTER_HOURS
OFFLINE_RULE = RuleKind.DEVICE_OFFLINE
#: Sensors below this share of their expected readings are named in the summary.
COMPLETENESS_WARN = 0.9
#: A sensor with readings this far before a period was expected to report from the period's start.
REPORTED_BEFORE_S = 7 * 86_400.0


def first_reading(source: ReportSource, key: str, hours: Sequence[HourlyAggregate], since: float) -> float | None:
    """The time of the sensor's first reading in the period (exact: read from its first hour with data)."""
    first = next((h for h in hours if h.count), None)
    if first is None:
        return None
    found = source.readings(key, max(first.hour, since), first.hour + 3600, limit=1)
    return found[0][0] if found else max(first.hour, since)


def subject_name(subject: str, names: dict[str, str], meal_name: Callable[[str], str]) -> str:
    """What an alarm is about, in words an inspector reads: never an internal id.

    ``samples:2026-12-02:lunch`` reads "2026-12-02 午餐留样", ``patrol:night:2026-12-02T22:00``
    reads "巡更 night 2026-12-02 22:00", a sensor key its name; anything else (a device) as it is.
    """
    if subject in names:
        return names[subject]
    kind, _, rest = subject.partition(":")
    if kind == "samples" and rest:
        day, _, meal = rest.partition(":")
        meal, _, occasion = meal.partition(":")
        return f"{day} {meal_name(meal) if meal else ''}留样" + (f"（{occasion}）" if occasion else "")
    if kind == "patrol" and rest:
        route, _, at = rest.partition(":")
        return f"巡更 {route} {at.replace('T', ' ')}".rstrip()
    return subject


def without_name(message: str, name: str) -> str:
    """An alarm's message without the subject's name it starts with: the summary prints the name once."""
    trimmed = message[len(name):].lstrip(" ：:，,") if name and message.startswith(name) else message
    return trimmed or message


def alarm_entry(alert: Alert, name: str, interim: Sequence[InterimEntry] = ()) -> AlarmEntry:
    return AlarmEntry(alert.id, alert.rule, alert.kind, alert.subject, name, alert.severity, alert.state,
                      alert.message, alert.started_at, alert.resolved_at, alert.acked_at, alert.acked_by,
                      alert.action, alert.closed_by, alert.verified_at, alert.verified_by,
                      handled=alert.state in HANDLED_STATES, interim=list(interim))


def interim_entries(source: ReportSource, alerts: Sequence[Alert]) -> dict[int, list[InterimEntry]]:
    """Each alarm's interim actions, the playbook steps named in Chinese (the report's language of record)."""
    found = source.state.alert_actions(a.id for a in alerts if a.id is not None)
    entries: dict[int, list[InterimEntry]] = {}
    for alert in alerts:
        actions = found.get(alert.id or 0)
        if not actions:
            continue
        words = {step.key: step.zh for step in source.playbook(alert)}
        entries[alert.id or 0] = [InterimEntry(a.at, a.who, a.text, [words.get(k, k) for k in a.steps])
                                  for a in actions]
    return entries


def _overlaps(a_start: float, a_end: float, b_start: float, b_end: float) -> bool:
    return a_start <= b_end and b_start <= a_end


def cold_unit(source: ReportSource, sensor: dict[str, Any], limits: tuple[float | None, float | None],
              hours: Sequence[HourlyAggregate], since: float, until: float, alarms: Sequence[AlarmEntry],
              expected_s: float | None = None, completeness: float | None = None) -> ColdUnit:
    """Statistics, exact excursions with their alarms, time within limits and the chart of one cold unit.

    The share within limits is of the time the sensor was expected to report (``expected_s``),
    not of the hours that happen to hold a reading: five minutes of readings are not a week in range.
    """
    key = sensor["key"]
    low, high = limits
    found: list[coldchain.Excursion] = []
    for span_start, span_end in coldchain.raw_spans(hours, low, high, since, until):
        readings = source.readings(key, span_start, span_end)
        previous_outside = False
        if span_start <= since:
            before = source.previous_value(key, since)
            previous_outside = before is not None and ((low is not None and before < low)
                                                       or (high is not None and before > high))
        found.extend(coldchain.find_excursions(readings, low, high, previous_outside))
    stats = coldchain.stats(hours)
    monitored, outside = coldchain.time_accounting(hours, found, since, until)
    own = [a for a in alarms if a.subject == key and a.rule == THRESHOLD_RULE]
    excursions = []
    for e in found:
        end = e.until(until)
        matched = [a for a in own if _overlaps(a.started_at, a.resolved_at or until, e.start, end)]
        excursions.append(ExcursionEntry(e.start, e.end, e.peak, e.side, end - e.start, e.started_before, matched))
    door = source.door_of(key)
    expected = until - since if expected_s is None else expected_s
    coverage = coldchain.share(monitored, expected)
    return ColdUnit(
        key=key, name=source.name(sensor), low=low, high=high, count=stats.count, min=stats.min, max=stats.max,
        mean=stats.mean, monitored_s=monitored, outside_s=outside, within_s=monitored - outside,
        within_share=coldchain.share(monitored - outside, expected), excursions=excursions,
        chart=[ChartPoint(h.hour, h.min, h.max, h.mean) for h in hours], door=door,
        door_opens=source.door_opens(door, since, until) if door else [], expected_s=expected, coverage=coverage,
        insufficient=coldchain.insufficient(completeness, coverage))


def band_text(low: float | None, high: float | None) -> str:
    """Limits as a report prints them: "0 ~ 8 °C", "≤ -12 °C"."""
    if low is None and high is None:
        return "无限值"
    if low is None:
        return f"≤ {high:g} °C"
    if high is None:
        return f"≥ {low:g} °C"
    return f"{low:g} ~ {high:g} °C"


def limit_edits(source: ReportSource, sensors: Sequence[dict[str, Any]], since: float,
                until: float) -> dict[str, list[LimitEditEntry]]:
    """Per cold unit, every change of its limits in the period, and changes still awaiting approval."""
    configured = {s["key"]: source.configured_limits(s) for s in sensors}
    found: dict[str, list[LimitEditEntry]] = {}
    for at, who, detail in source.limit_edits(since, until):
        key = str(detail["sensor"])
        before = detail.get("before")
        was = (before.get("low"), before.get("high")) if before else configured.get(key) or (None, None)
        after = detail.get("limits") or {}
        found.setdefault(key, []).append(LimitEditEntry(
            at=at, by=str(detail.get("proposed_by") or who), before=band_text(*was),
            after=band_text(after.get("low"), after.get("high")), reason=str(detail.get("reason") or ""),
            approved_by=str(detail["approved_by"]) if detail.get("approved_by") else None))
    for proposal in source.limit_proposals(until):
        found.setdefault(proposal.key, []).append(LimitEditEntry(
            at=proposal.proposed_at, by=proposal.proposed_by, before="",
            after=band_text(proposal.limits.get("low"), proposal.limits.get("high")), reason=proposal.reason,
            pending=True))
    return found


def silences_section(source: ReportSource, since: float, until: float,
                     names: dict[str, str] | None = None) -> list[SilenceEntry]:
    """Silences in force during the period: the config file's maintenance windows, then those set by staff.

    A silence of one sensor is named by the sensor's name (a pattern such as ``kitchen/*`` as written).
    """
    names = names or {}
    found = [SilenceEntry(subject=names.get(w.subject, w.subject), rules=sorted(w.rules), starts_at=None, ends_at=None,
                          window=f"{w.start:%H:%M}–{w.end:%H:%M}", reason=w.reason, created_by="配置文件",
                          created_at=None) for w in source.config.alerts.maintenance]
    for silence, by, at, removed in source.silences(since, until):
        window = silence.window
        found.append(SilenceEntry(
            subject=names.get(silence.subject, silence.subject), rules=sorted(silence.rules),
            starts_at=silence.starts_at, ends_at=silence.ends_at,
            window=f"{window.start:%H:%M}–{window.end:%H:%M}" if window else None,
            reason=silence.reason, created_by=by, created_at=at, removed_at=removed))
    return found


def log_sheet(source: ReportSource, units: Sequence[ColdUnit], period: Period, config: ReportConfig,
              until: float) -> list[LogRow]:
    """The paper log sheet: per day and unit, the first reading at or after each slot's time."""
    window = config.log_sheet_window_min * 60
    keys = [unit.key for unit in units]
    rows = []
    for day in period.days():
        # One lookup per slot for all units: one query on a store that answers many sensors at once.
        slots = []
        for slot in config.log_sheet:
            at = dt.datetime.combine(day, slot.at, period.tz).timestamp()
            slots.append((slot, at, source.first_valued_many(keys, at, min(at + window, until)) if at < until else {}))
        for unit in units:
            cells = []
            for slot, at, found_many in slots:
                if at >= until:  # not yet: the slot's time has not come
                    cells.append(LogCell(slot.name, at, None, None, None, future=True))
                    continue
                found = found_many.get(unit.key)
                value = found[1] if found else None
                within = None if value is None else ((unit.low is None or value >= unit.low)
                                                     and (unit.high is None or value <= unit.high))
                cells.append(LogCell(slot.name, at, value, found[0] if found else None, within))
            rows.append(LogRow(day.isoformat(), unit.key, unit.name, cells))
    return rows


def samples_section(source: ReportSource, period: Period, now: float) -> list[SampleEntry]:
    """Each meal's samples: on time, weights, held long enough, cabinet in range, who discarded them.

    A meal the canteen served whose deadline passed with nothing on record is listed as missing.
    """
    config = source.config.samples
    records = source.sample_records(period.start, period.end)
    entries = []
    for record in records:
        meal_config = config.meals.get(record.meal)
        on_time = None
        if meal_config is not None and record.meal != EVENT_MEAL:
            deadline = sample_rules.meal_deadline(dt.date.fromisoformat(record.day), meal_config.serve_at,
                                                  config.log_within_s(record.meal), period.tz)
            on_time = record.placed_at <= deadline
        held_full = None if record.discarded_at is None else not sample_rules.discarded_early(
            record.discarded_at, record.held_until)
        entries.append(SampleEntry(
            record.day, record.meal, config.meal_name(record.meal), record.id, record.placed_at, on_time,
            record.placed_by, [SampleDishEntry(d.name, d.weight_g, sample_rules.underweight(d.weight_g,
                                                                                           config.min_weight_g))
                               for d in record.dishes],
            record.held_until, held_full, not record.compromised, record.discarded_at, record.discarded_by,
            record.early))
    logged = {(r.day, r.meal) for r in records}
    for day in period.days():
        if not source.canteen_open(day):
            continue
        for meal, meal_config in config.meals.items():
            deadline = sample_rules.meal_deadline(day, meal_config.serve_at, config.log_within_s(meal), period.tz)
            if meal_config.check_missing and deadline <= now and (day.isoformat(), meal) not in logged:
                entries.append(SampleEntry(day.isoformat(), meal, config.meal_name(meal), None, None, None, "", [],
                                           None, None, None, None, None, False))
    return sorted(entries, key=lambda e: (e.day, config.meals[e.meal].serve_at if e.meal in config.meals
                                          else dt.time(23, 59), e.placed_at or 0.0))


def gates_section(source: ReportSource, alarms: Sequence[AlarmEntry], period: Period) -> GateSection:
    sweeps = []
    for sweep in sorted(source.sweeps(period.start, period.end), key=lambda s: s.closing_at):
        still_open = gates_not_closed({key: value.get("state") for key, value in sweep.states.items()})
        if still_open:
            sweeps.append({"group": sweep.group, "closing_at": sweep.closing_at,
                           "gates": [sweep.states[key].get("name") or key for key in still_open]})
    rounds = source.rounds(period.start, period.end)
    return GateSection(
        after_hours=[a for a in alarms if a.rule == AFTER_HOURS_RULE and period.start <= a.started_at < period.end],
        sweeps_open=sweeps, rounds_required=len(rounds), rounds_complete=sum(1 for r in rounds if r["complete"]),
        rounds_missed=[{"route": r["route"], "start": r["start"], "end": r["end"], "missing": r["missing"]}
                       for r in rounds if not r["complete"]])


def devices_section(source: ReportSource, alarms: Sequence[AlarmEntry], completeness: dict[str, SensorCompleteness],
                    since: float, until: float) -> list[DeviceEntry]:
    entries = []
    for device in source.devices():
        name = device["device"]
        health = device["health"] or {}
        offline = [a for a in alarms if a.rule == OFFLINE_RULE and a.subject == name]
        offline_s = sum(max(0.0, min(a.resolved_at or until, until) - max(a.started_at, since)) for a in offline)
        entries.append(DeviceEntry(
            name, device["site"], device["state"], device["version"], health.get("uptime_s"), health.get("dropped"),
            [{"start": a.started_at, "end": a.resolved_at} for a in offline], offline_s,
            [c for key, c in sorted(completeness.items()) if key.split("/", 1)[0] == name]))
    return entries


def summary(alarms: Sequence[AlarmEntry], units: Sequence[ColdUnit], samples: Sequence[SampleEntry],
            completeness: dict[str, SensorCompleteness]) -> list[SummaryItem]:
    """What went wrong, first: every alarm with whether it was handled, then what raised no alarm.

    A sensor with too little data is flagged "数据不足" (never "no action required"): a gap
    in the record is itself something to look into.
    """
    items = [SummaryItem(a.kind, a.started_at, f"{a.name}：{without_name(a.message, a.name)}", a.handled)
             for a in alarms]
    for unit in units:
        for e in unit.excursions:
            if not e.alarms:
                limit = f"高于上限 {unit.high:g} °C" if e.side == "high" else f"低于下限 {unit.low:g} °C"
                items.append(SummaryItem("cold_chain", e.start, f"{unit.name}：{limit}，峰值 {e.peak:g} °C，"
                                         f"持续 {e.duration_s / 60:.0f} 分钟，短于报警延时未报警", None))
    missing: dict[str, list[str]] = {}
    for sample in samples:
        if sample.record_id is None and not any(a.subject == f"samples:{sample.day}:{sample.meal}" for a in alarms):
            missing.setdefault(sample.day, []).append(sample.meal_name)
    for day, meals in missing.items():
        items.append(SummaryItem("samples", None, f"{day}：无留样记录（{'、'.join(meals)}）", False))
    insufficient_units = {unit.key for unit in units if unit.insufficient}
    for key, found in sorted(completeness.items()):
        name = found.name or key
        if found.insufficient or key in insufficient_units:
            share = "无读数" if found.completeness is None else f"数据完整率 {found.completeness:.1%}"
            items.append(SummaryItem("devices", None, f"{name}：{share}，数据不足，无法判断是否合规", False,
                                     status="数据不足，需核查"))
        elif found.completeness is not None and found.completeness < COMPLETENESS_WARN:
            items.append(SummaryItem("devices", None, f"{name}：数据完整率 {found.completeness:.1%}", False,
                                     status="需核查"))
    return sorted(items, key=lambda i: (i.at is None, i.at or 0.0))


def build(source: ReportSource, period: Period, config: ReportConfig, now: float,
          signatures: Sequence[Signature] = ()) -> Report:
    """The report of ``period`` as known at ``now``."""
    since, until = period.start, min(period.end, now)
    names = {s["key"]: source.name(s) for s in source.sensors()}
    found = source.alerts(since, until)
    interim = interim_entries(source, found)
    alarms = [alarm_entry(a, subject_name(a.subject, names, source.config.samples.meal_name),
                          interim.get(a.id or 0, ()))
              for a in found]
    units: list[ColdUnit] = []
    completeness: dict[str, SensorCompleteness] = {}
    gate = source.config.gate
    event_kinds = {*gate.door_kinds, gate.tamper_kind, gate.patrol_kind}
    # Doors, gates, tamper switches and patrol readers send events, no readings.
    sensors = [s for s in source.sensors()
               if s["kind"] not in event_kinds and not (s["last_state"] is not None and s["last_value"] is None)]
    keys = [s["key"] for s in sensors]
    hourly = source.hourly_many(keys, since, until)
    # Did the sensor report before the period? Then it owes readings from the period's start.
    before = source.hourly_many(keys, since - REPORTED_BEFORE_S, since) if until > since else {}
    edits = limit_edits(source, sensors, since, until)
    as_at = source.edits_as_at(until)  # the limits at the period's end: a later edit does not reach back
    for sensor in sensors:
        key = sensor["key"]
        hours = hourly[key]
        received = sum(h.count for h in hours)
        interval = config.intervals_s.get(key) or coldchain.inferred_interval(hours)
        start = coldchain.expected_start(since, until, first_reading(source, key, hours, since),
                                         any(h.count for h in before.get(key, [])))
        expected = coldchain.expected_seconds(since, until, now, start)
        wanted = coldchain.expected_readings(expected, interval)
        share = coldchain.share(received, wanted) if wanted else None
        completeness[key] = SensorCompleteness(key, received, interval, share, name=names.get(key, key),
                                               expected_s=expected, insufficient=coldchain.insufficient(share, None))
        limits = source.limits(sensor, as_at)
        if limits is not None:
            units.append(cold_unit(source, sensor, limits, hours, since, until, alarms, expected, share))
            units[-1].limit_edits = edits.get(key, [])
    samples = samples_section(source, period, now)
    calibration = calibration_section(source, period, now)
    return Report(
        kind=period.kind, label=period.label, title=period.title_zh, school=config.school,
        site=config.site or "、".join(sorted({str(d["site"]) for d in source.devices() if d.get("site")})),
        locale=source.config.alerts.locale,
        timezone=str(period.tz), start=period.start, end=period.end, generated_at=now,
        summary=sorted(summary(alarms, units, samples, completeness) + calibration_summary(calibration),
                       key=lambda i: (i.at is None, i.at or 0.0)),
        alarms=alarms, cold_units=units,
        log_slots=[slot.name for slot in config.log_sheet], log_sheet=log_sheet(source, units, period, config, until),
        samples=samples, gates=gates_section(source, alarms, period),
        devices=devices_section(source, alarms, completeness, since, until), audit_head=source.audit_head(),
        signatures=list(signatures), silences=silences_section(source, since, until, names),
        checks=checks_section(source, period, now), calibration=calibration,
        visitors=visitors_section(source, period, now, alarms))
