"""What each page shows, gathered from the hub: plain data for the templates, no HTML and no HTTP here.

Every page reads the alert engine and the stores it is handed once per request (each
function takes only the components it reads, never the hub process itself); the
live updates after that come over ``/api/stream`` (``hub.web.live``). A page of 200
cold units asks the store for each unit's 24 h sparkline (hourly means); with the
app's ``HourlyCache`` only the hour in progress is read again on later loads
(``bench/web_pages.py``: ≈ 500 ms → ≈ 60 ms at 200 units).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import ACTIVE_STATES, AlertKind, AlertState, RuleKind
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.calibration import kinds as calibration_kinds
from hub.enrolment import DeviceEnrolment, DeviceRole
from hub.gate.monitor import GateMonitor
from hub.notify.rota import DutyGap
from hub.report.service import ReportService
from hub.samples import rules as sample_rules
from hub.samples.monitor import SampleMonitor
from hub.settings import HubSettings
from hub.store.base import SeriesStore
from hub.store.state import Alert, LimitProposal, StateStore
from hub.web import photos
from hub.web.render import LISTED_STATES
from hub.web.sparks import HourlyCache
from hub.web.states import band_y, reading_state, sparkline_points

#: The sparkline's box (SVG user units).
SPARK_W, SPARK_H = 120, 32
#: Kinds the gate house sees; every other kind belongs to the canteen or the devices.
GATE_KINDS: tuple[AlertKind, ...] = (AlertKind.GATE, AlertKind.VISITOR)
#: Alert states someone still has to act on, in the order they are listed.
OPEN_STATES = LISTED_STATES
_STATE_VALUES = frozenset(s.value for s in AlertState)
#: Alert kinds the safety page filters by (with the kinds of the registered sensors).
FILTER_KINDS: tuple[AlertKind, ...] = (AlertKind.TEMPERATURE, AlertKind.DOOR, AlertKind.SENSOR, AlertKind.DEVICE,
                                       AlertKind.GATE, AlertKind.SAMPLE)
#: Corrective actions offered with one tap (their words are in the i18n catalog).
COMMON_ACTIONS = ("moved_food", "closed_door", "called_repair", "discarded_food", "adjusted_thermostat", "defrost")
#: Escalation policies and notification routes the catalog has words for (others are shown by their config name).
POLICY_WORDS = frozenset({"cold_chain", "gate", "device"})
ROUTE_WORDS = frozenset({"canteen", "canteen_manager", "gatekeeper", "safety_officer", "admin"})
#: Reasons a gatekeeper picks when acknowledging an after-hours opening.
ACK_REASONS = ("delivery", "event", "maintenance", "staff", "emergency", "other")


def _band(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    if low is None:
        return f"≤ {high:g} °C"
    if high is None:
        return f"≥ {low:g} °C"
    return f"{low:g} … {high:g} °C"


def tiles(store: StateStore, engine: AlertEngine, series: SeriesStore, now: float,
          sparks: HourlyCache | None = None) -> list[dict[str, Any]]:
    """A tile per temperature sensor: live value, limits, state and its last 24 h."""
    since = now - 86_400
    cache = sparks if sparks is not None else HourlyCache(ttl_s=0)
    online = {d["device"]: d["state"] == "online" for d in store.devices()}
    proposals = {p.key: p for p in reversed(store.limit_proposals())}  # the newest open one per sensor
    calibration = calibration_flags(store)
    result = []
    for sensor in store.sensors():
        if sensor["kind"] != "temperature":
            continue
        key = sensor["key"]
        limits = engine.limits(key)
        low, high = (limits.low, limits.high) if limits is not None else (None, None)
        hourly = [(min(a.hour + 1800, now), a.mean) for a in cache.hourly(series, key, since, now)]
        if sensor["last_value"] is not None and sensor["last_ts"] is not None and sensor["last_ts"] > since:
            hourly.append((min(sensor["last_ts"], now), sensor["last_value"]))
        result.append({
            "key": key, "name": engine.name(key), "device": sensor["device"],
            "value": sensor["last_value"], "unit": sensor["unit"] or "°C", "fault": sensor["last_fault"],
            "ts": sensor["last_ts"], "state": reading_state(sensor["last_value"], sensor["last_fault"], limits),
            "limits": dataclasses.asdict(limits) if limits is not None else None, "band": _band(low, high),
            "online": online.get(sensor["device"], False),
            "proposal": _proposal(proposals.get(key)),
            "calibration": calibration.get(key),
            "spark": sparkline_points(hourly, since, now, SPARK_W, SPARK_H, (low, high)),
            "spark_low": band_y(low, hourly, (low, high), SPARK_H),
            "spark_high": band_y(high, hourly, (low, high), SPARK_H),
        })
    return result


def calibration_flags(store: StateStore) -> dict[str, str]:
    """Sensor → ``failed`` or ``overdue`` while its calibration alarm is active (the tile's warning)."""
    flags: dict[str, str] = {}
    for alert in store.alerts(list(ACTIVE_STATES), kind=AlertKind.SENSOR):
        key = calibration_kinds.sensor_of(alert.subject)
        if key is None:
            continue
        if alert.rule == RuleKind.CALIBRATION_FAILED:
            flags[key] = "failed"
        elif alert.rule == RuleKind.CALIBRATION_OVERDUE:
            flags.setdefault(key, "overdue")
    return flags


def _proposal(proposal: LimitProposal | None) -> dict[str, Any] | None:
    """Limits beyond the band waiting for a second person: shown on the tile until decided."""
    if proposal is None:
        return None
    limits = proposal.limits
    return {"id": proposal.id, "band": _band(limits.get("low"), limits.get("high")),
            "who": proposal.proposed_by, "reason": proposal.reason, "at": proposal.proposed_at}


def _order(alerts: Sequence[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (OPEN_STATES.index(a.state) if a.state in OPEN_STATES else 9,
                                         -(a.started_at or 0)))


def alert_items(store: StateStore, engine: AlertEngine, photo_root: Path, alerts: Sequence[Alert]
                ) -> list[dict[str, Any]]:
    """Alerts as cards show them: with their photos, what to do (the playbook, each step ticked by whom
    and when) and the interim actions people recorded."""
    actions = store.alert_actions(a.id for a in alerts if a.id is not None)
    items = []
    for alert in alerts:
        body = dataclasses.asdict(alert)
        body["name"] = engine.name(alert.subject)
        body["photos"] = photos.listing(photo_root, alert.id or 0)
        interim = actions.get(alert.id or 0, [])
        body["interim"] = [dataclasses.asdict(a) for a in interim]
        ticked: dict[str, Any] = {}
        for action in interim:
            for key in action.steps:
                ticked.setdefault(key, action)
        body["steps"] = [{"key": step.key, "zh": step.zh, "en": step.en,
                          "done_by": ticked[step.key].who if step.key in ticked else None,
                          "done_at": ticked[step.key].at if step.key in ticked else None}
                         for step in engine.playbook(alert)]
        items.append(body)
    return items


def alert_item(store: StateStore, engine: AlertEngine, photo_root: Path, alert: Alert) -> dict[str, Any]:
    """One alert as a card shows it (``alert_items``)."""
    return alert_items(store, engine, photo_root, [alert])[0]


def open_alerts(store: StateStore, engine: AlertEngine, photo_root: Path, gate: bool) -> list[dict[str, Any]]:
    """Alerts someone still has to act on: the gate house's, or everything else (the canteen's)."""
    # A delay still running is no record (hub.alerts.engine): the engine holds it, the page shows it.
    found = store.alerts(list(OPEN_STATES), limit=200) + engine.pending()
    mine = [a for a in found if (a.kind in GATE_KINDS) == gate]
    return alert_items(store, engine, photo_root, _order(mine))


def held_samples(samples: SampleMonitor, now: float) -> list[dict[str, Any]]:
    """Sample records still held (or due to be discarded), with their timers."""
    config = samples.config
    result = []
    for record in samples.records("held", None, now) + samples.records("due", None, now):
        result.append({
            "id": record.id, "day": record.day, "meal": config.meal_name(record.meal), "occasion": record.occasion,
            "placed_at": record.placed_at, "placed_by": record.placed_by, "reviewer": record.reviewer,
            "held_until": record.held_until, "remaining_s": max(0.0, record.held_until - now),
            "state": sample_rules.hold_state(now, record.held_until, record.discarded_at),
            "dishes": [{"id": d.id, "name": d.name, "weight_g": d.weight_g, "short_reason": d.short_reason,
                        "logged_by": d.logged_by,
                        "underweight": sample_rules.underweight(d.weight_g, config.min_weight_g)}
                       for d in record.dishes],
            "compromised": record.compromised,
        })
    return sorted(result, key=lambda r: r["held_until"])


def meals(samples: SampleMonitor) -> list[tuple[str, str]]:
    config = samples.config
    return [(key, config.meal_name(key)) for key in config.meals]


def canteen(store: StateStore, engine: AlertEngine, series: SeriesStore, samples: SampleMonitor, photo_root: Path,
            now: float, sparks: HourlyCache | None = None) -> dict[str, Any]:
    return {"tiles": tiles(store, engine, series, now, sparks),
            "alerts": open_alerts(store, engine, photo_root, gate=False), "samples": held_samples(samples, now),
            "meals": meals(samples), "actions": COMMON_ACTIONS, "min_weight_g": samples.config.min_weight_g}


def defaults(engine: AlertEngine, monitor: GateMonitor) -> dict[str, Any]:
    """The default door group as the pages show it: its windows, whether confirmed, the gates by name."""
    found = monitor.defaults()
    return {**found, "members": [engine.name(k) for k in found["members"]],
            "unwatched": [engine.name(k) for k in found["unwatched"]]}


def gate(store: StateStore, engine: AlertEngine, monitor: GateMonitor, photo_root: Path, now: float
         ) -> dict[str, Any]:
    gates = monitor.gates(now)
    names = {item["key"]: item["name"] for item in gates}
    sweeps: dict[str, dict[str, Any]] = {}
    for item in gates:
        if item["last_sweep"] is not None:
            sweep = item["last_sweep"]
            open_names = [v.get("name") or k for k, v in sweep["states"].items() if v.get("state") != "closed"]
            sweeps[item["group"]] = {**sweep, "names": open_names}
    recent = store.alerts(kind=AlertKind.GATE, since=now - 86_400, limit=200)
    today = dt.datetime.fromtimestamp(now, monitor.calendar.tz).date()
    return {"gates": gates, "names": names, "sweeps": sorted(sweeps.values(), key=lambda s: -s["closing_at"]),
            "alerts": open_alerts(store, engine, photo_root, gate=True),
            "recent": alert_items(store, engine, photo_root, recent),
            "patrols": monitor.patrol_day(today), "reasons": ACK_REASONS, "defaults": defaults(engine, monitor)}


def history(store: StateStore, engine: AlertEngine, photo_root: Path, *, since: float | None, until: float | None,
            kind: str | None, state: str | None, subject: str | None, limit: int = 200) -> list[dict[str, Any]]:
    if state and state not in _STATE_VALUES:
        return []  # no alert is in a state that does not exist
    found = store.alerts([AlertState(state)] if state else None, limit, kind=kind or None, subject=subject or None,
                         since=since, until=until)
    return alert_items(store, engine, photo_root, found)


def safety(store: StateStore, engine: AlertEngine, photo_root: Path, health: dict[str, Any],
           filters: dict[str, Any]) -> dict[str, Any]:
    """The safety officer's view; ``health`` is the pipeline's state as the page shows it (broker, uptime …)."""
    return {
        "history": history(store, engine, photo_root, **filters),
        "to_verify": alert_items(store, engine, photo_root, store.alerts([AlertState.CLOSED], limit=200)),
        "devices": store.devices(),
        "health": health,
        "kinds": sorted({s["kind"] for s in store.sensors()} | {str(k) for k in FILTER_KINDS}),
        "units": [(s["key"], engine.name(s["key"])) for s in store.sensors()],
    }


def admin(settings: HubSettings, store: StateStore, engine: AlertEngine, series: SeriesStore,
          accounts: AccountStore, monitor: GateMonitor, enrolment: DeviceEnrolment, now: float,
          sparks: HourlyCache | None = None) -> dict[str, Any]:
    notify = settings.notify
    channels = [{"name": name, "type": spec.type} for name, spec in (notify.channels.items() if notify else [])]
    policies = [{"name": name, "tiers": [{"after_min": round(t.after_s / 60), "route": t.route} for t in p.tiers],
                 "repeat_min": round(p.repeat_every_s / 60) if p.repeat_every_s else None}
                for name, p in settings.rules.alerts.policies.items()]
    return {
        "devices": store.devices(), "channels": channels, "policies": policies,
        "policy_words": POLICY_WORDS, "route_words": ROUTE_WORDS,
        "enrolled": enrolment.store.all(), "device_roles": [role.value for role in DeviceRole],
        # One school per hub (hub.sites): the site its devices have, once it has one.
        "default_site": (enrolment.sites.site if enrolment.sites is not None else None) or "",
        "users": accounts.users(), "roles": [role.value for role in Role],
        # Live tokens only: a revoked one is kept in the database (and the API's list) for the record.
        "tokens": [token for token in accounts.tokens() if token.revoked_at is None],
        **silences(store, engine), **calendar(engine, monitor, now),
        "tiles": tiles(store, engine, series, now, sparks),
    }


#: The rota gaps listed on the admin page (the API lists them all).
ROTA_GAPS_SHOWN = 12
#: The day choices of a shift's form: weekdays and calendar days as "days/when" (hub.web.static app.js "rota").
ROTA_CHOICES = (("mon,tue,wed,thu,fri,sat,sun/", "every"), ("mon,tue,wed,thu,fri/", "weekdays"),
                ("sat,sun/", "weekend"), ("/school_days", "school_days"), ("/non_school_days", "non_school_days"),
                ("/holidays", "holidays"))


def _when(at: dt.datetime, day_of: dt.date | None = None) -> dict[str, str]:
    """A local time as the page words it: the time alone on ``day_of``, else the date and weekday too."""
    if day_of is not None and at.date() == day_of:
        return {"time": f"{at:%H:%M}"}
    return {"date": f"{at:%m-%d}", "weekday": str(at.weekday()), "time": f"{at:%H:%M}"}


def rota_gaps(gaps: Sequence[DutyGap]) -> dict[str, Any]:
    """The coming week's rota gaps for the page: each stretch's ends (the end's date only when another day)."""
    shown = [{"route": gap.route, "why": gap.kind.value, "n": (gap.shift or 0) + 1, "from": _when(gap.start),
              "to": _when(gap.end, gap.start.date())} for gap in gaps[:ROTA_GAPS_SHOWN]]
    return {"rota_gaps": shown, "rota_gaps_more": max(0, len(gaps) - ROTA_GAPS_SHOWN)}


def rota_choice(days: Sequence[str], when: str | None) -> str:
    """A shift's days as its form's choice ("days/when")."""
    return f"{','.join(days)}/{when or ''}"


def silences(store: StateStore, engine: AlertEngine) -> dict[str, Any]:
    """Silences in force or to come (the config file's maintenance windows have no id: they cannot be ended here)."""
    return {"silences": engine.silences(),
            "silence_units": [(s["key"], engine.name(s["key"])) for s in store.sensors()],
            # The form's hint says the configured longest silence (alerts.silence_max_s), as the API enforces it.
            "silence_max_days": f"{engine.silence_max_s / 86_400:g}"}


def _summary(spec: dict[str, Any]) -> str:
    return " · ".join(f"{k}: {v}" for k, v in spec.items() if v not in ([], "", None))


def calendar(engine: AlertEngine, monitor: GateMonitor, now: float) -> dict[str, Any]:
    """Calendar overrides made on the page, the gate house's suggested ones, and the door groups to pick from."""
    return {
        "overrides": [{"id": o.id, "created_by": o.created_by, "kind": o.spec.kind,
                       "summary": _summary(o.spec.model_dump(mode="json", exclude_none=True, exclude={"kind"}))}
                      for o in monitor.overrides()],
        "suggestions": [{"gate": engine.name(s.subject), "group": s.group, "reason": s.reason,
                         "count": len(s.alert_ids), "window": f"{s.start:%H:%M}–{s.end:%H:%M}", "days": s.days,
                         "override": json.dumps(s.body(), ensure_ascii=False)}
                        for s in monitor.suggestions(now)],
        "door_groups": monitor.calendar.group_names(),
        "defaults": defaults(engine, monitor),
    }


def signoffs(reports: ReportService, kind: str, period: str) -> list[dict[str, Any]]:
    """Who signed a report off (the weekly report's 审核 line)."""
    return [dataclasses.asdict(s) for s in reports.store.signoffs(kind, period)]
