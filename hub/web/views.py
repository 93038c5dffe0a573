"""What each page shows, gathered from the hub: plain data for the templates, no HTML and no HTTP here.

Every page reads the hub's in-memory engine and its stores once per request; the
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
from typing import Any

from hub.alerts.kinds import AlertKind, AlertState
from hub.auth.roles import Role
from hub.runtime import Hub
from hub.samples import rules as sample_rules
from hub.store.state import Alert
from hub.web import photos
from hub.web.render import LISTED_STATES
from hub.web.sparks import HourlyCache
from hub.web.states import band_y, reading_state, sparkline_points

#: The sparkline's box (SVG user units).
SPARK_W, SPARK_H = 120, 32
#: Kinds the gate house sees; every other kind belongs to the canteen or the devices.
GATE_KINDS: tuple[AlertKind, ...] = (AlertKind.GATE,)
#: Alert states someone still has to act on, in the order they are listed.
OPEN_STATES = LISTED_STATES
_STATE_VALUES = frozenset(s.value for s in AlertState)
#: Alert kinds the safety page filters by (with the kinds of the registered sensors).
FILTER_KINDS: tuple[AlertKind, ...] = (AlertKind.TEMPERATURE, AlertKind.DOOR, AlertKind.SENSOR, AlertKind.DEVICE,
                                       AlertKind.GATE, AlertKind.SAMPLE)
#: Corrective actions offered with one tap (their words are in the i18n catalog).
COMMON_ACTIONS = ("moved_food", "closed_door", "called_repair", "discarded_food", "adjusted_thermostat", "defrost")
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


def tiles(hub: Hub, now: float, sparks: HourlyCache | None = None) -> list[dict[str, Any]]:
    """A tile per temperature sensor: live value, limits, state and its last 24 h."""
    since = now - 86_400
    cache = sparks if sparks is not None else HourlyCache(ttl_s=0)
    online = {d["device"]: d["state"] == "online" for d in hub.state.devices()}
    result = []
    for sensor in hub.state.sensors():
        if sensor["kind"] != "temperature":
            continue
        key = sensor["key"]
        limits = hub.engine.limits(key)
        low, high = (limits.low, limits.high) if limits is not None else (None, None)
        hourly = [(min(a.hour + 1800, now), a.mean) for a in cache.hourly(hub.series, key, since, now)]
        if sensor["last_value"] is not None and sensor["last_ts"] is not None and sensor["last_ts"] > since:
            hourly.append((min(sensor["last_ts"], now), sensor["last_value"]))
        result.append({
            "key": key, "name": hub.engine.name(key), "device": sensor["device"],
            "value": sensor["last_value"], "unit": sensor["unit"] or "°C", "fault": sensor["last_fault"],
            "ts": sensor["last_ts"], "state": reading_state(sensor["last_value"], sensor["last_fault"], limits),
            "limits": dataclasses.asdict(limits) if limits is not None else None, "band": _band(low, high),
            "online": online.get(sensor["device"], False),
            "spark": sparkline_points(hourly, since, now, SPARK_W, SPARK_H, (low, high)),
            "spark_low": band_y(low, hourly, (low, high), SPARK_H),
            "spark_high": band_y(high, hourly, (low, high), SPARK_H),
        })
    return result


def _order(alerts: Sequence[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (OPEN_STATES.index(a.state) if a.state in OPEN_STATES else 9,
                                         -(a.started_at or 0)))


def alert_item(hub: Hub, alert: Alert) -> dict[str, Any]:
    """An alert as a card shows it, with its photos."""
    body = dataclasses.asdict(alert)
    body["name"] = hub.engine.name(alert.subject)
    body["photos"] = photos.listing(photos.directory(hub.settings.db_dir), alert.id or 0)
    return body


def open_alerts(hub: Hub, gate: bool) -> list[dict[str, Any]]:
    """Alerts someone still has to act on: the gate house's, or everything else (the canteen's)."""
    found = hub.state.alerts(list(OPEN_STATES), limit=200)
    mine = [a for a in found if (a.kind in GATE_KINDS) == gate]
    return [alert_item(hub, a) for a in _order(mine)]


def held_samples(hub: Hub, now: float) -> list[dict[str, Any]]:
    """Sample records still held (or due to be discarded), with their timers."""
    config = hub.samples.config
    result = []
    for record in hub.samples.records("held", None, now) + hub.samples.records("due", None, now):
        result.append({
            "id": record.id, "day": record.day, "meal": config.meal_name(record.meal), "occasion": record.occasion,
            "placed_at": record.placed_at, "placed_by": record.placed_by, "reviewer": record.reviewer,
            "held_until": record.held_until, "remaining_s": max(0.0, record.held_until - now),
            "state": sample_rules.hold_state(now, record.held_until, record.discarded_at),
            "dishes": [{"name": d.name, "weight_g": d.weight_g,
                        "underweight": sample_rules.underweight(d.weight_g, config.min_weight_g)}
                       for d in record.dishes],
            "compromised": record.compromised,
        })
    return sorted(result, key=lambda r: r["held_until"])


def meals(hub: Hub) -> list[tuple[str, str]]:
    config = hub.samples.config
    return [(key, config.meal_name(key)) for key in config.meals]


def canteen(hub: Hub, now: float, sparks: HourlyCache | None = None) -> dict[str, Any]:
    return {"tiles": tiles(hub, now, sparks), "alerts": open_alerts(hub, gate=False), "samples": held_samples(hub, now),
            "meals": meals(hub), "actions": COMMON_ACTIONS, "min_weight_g": hub.samples.config.min_weight_g}


def gate(hub: Hub, now: float) -> dict[str, Any]:
    gates = hub.gate.gates(now)
    names = {item["key"]: item["name"] for item in gates}
    sweeps: dict[str, dict[str, Any]] = {}
    for item in gates:
        if item["last_sweep"] is not None:
            sweep = item["last_sweep"]
            open_names = [v.get("name") or k for k, v in sweep["states"].items() if v.get("state") != "closed"]
            sweeps[item["group"]] = {**sweep, "names": open_names}
    recent = hub.state.alerts(kind=AlertKind.GATE, since=now - 86_400, limit=200)
    today = dt.datetime.fromtimestamp(now, hub.gate.calendar.tz).date()
    return {"gates": gates, "names": names, "sweeps": sorted(sweeps.values(), key=lambda s: -s["closing_at"]),
            "alerts": open_alerts(hub, gate=True), "recent": [alert_item(hub, a) for a in recent],
            "patrols": hub.gate.patrol_day(today), "reasons": ACK_REASONS}


def history(hub: Hub, *, since: float | None, until: float | None, kind: str | None, state: str | None,
            subject: str | None, limit: int = 200) -> list[dict[str, Any]]:
    if state and state not in _STATE_VALUES:
        return []  # no alert is in a state that does not exist
    found = hub.state.alerts([AlertState(state)] if state else None, limit, kind=kind or None, subject=subject or None,
                             since=since, until=until)
    return [alert_item(hub, a) for a in found]


def safety(hub: Hub, now: float, filters: dict[str, Any]) -> dict[str, Any]:
    mqtt = hub.mqtt.connected.is_set() if hub.mqtt is not None else None
    return {
        "history": history(hub, **filters),
        "to_verify": [alert_item(hub, a) for a in hub.state.alerts([AlertState.CLOSED], limit=200)],
        "devices": hub.state.devices(),
        "health": {"mqtt_connected": mqtt, "uptime_s": now - hub.started_at,
                   "dead_letters": hub.state.dead_letter_count(), "pipeline": hub.pipeline.counters.snapshot()},
        "kinds": sorted({s["kind"] for s in hub.state.sensors()} | {str(k) for k in FILTER_KINDS}),
        "units": [(s["key"], hub.engine.name(s["key"])) for s in hub.state.sensors()],
    }


def admin(hub: Hub, now: float, sparks: HourlyCache | None = None) -> dict[str, Any]:
    notify = hub.settings.notify
    channels = [{"name": name, "type": spec.type} for name, spec in (notify.channels.items() if notify else [])]
    policies = [{"name": name, "tiers": [{"after_min": round(t.after_s / 60), "route": t.route} for t in p.tiers],
                 "repeat_min": round(p.repeat_every_s / 60) if p.repeat_every_s else None}
                for name, p in hub.settings.rules.alerts.policies.items()]
    return {
        "devices": hub.state.devices(), "channels": channels, "policies": policies,
        "users": hub.accounts.users(), "roles": [role.value for role in Role],
        **silences(hub), **calendar(hub, now),
        "tiles": tiles(hub, now, sparks),
    }


def silences(hub: Hub) -> dict[str, Any]:
    """Silences in force or to come (the config file's maintenance windows have no id: they cannot be ended here)."""
    return {"silences": hub.engine.silences(),
            "silence_units": [(s["key"], hub.engine.name(s["key"])) for s in hub.state.sensors()]}


def _summary(spec: dict[str, Any]) -> str:
    return " · ".join(f"{k}: {v}" for k, v in spec.items() if v not in ([], "", None))


def calendar(hub: Hub, now: float) -> dict[str, Any]:
    """Calendar overrides made on the page, the gate house's suggested ones, and the door groups to pick from."""
    return {
        "overrides": [{"id": o.id, "created_by": o.created_by, "kind": o.spec.kind,
                       "summary": _summary(o.spec.model_dump(mode="json", exclude_none=True, exclude={"kind"}))}
                      for o in hub.gate.overrides()],
        "suggestions": [{"gate": hub.engine.name(s.subject), "group": s.group, "reason": s.reason,
                         "count": len(s.alert_ids), "window": f"{s.start:%H:%M}–{s.end:%H:%M}", "days": s.days,
                         "override": json.dumps(s.body(), ensure_ascii=False)}
                        for s in hub.gate.suggestions(now)],
        "door_groups": sorted(hub.gate.calendar.config.groups),
    }


def signoffs(hub: Hub, kind: str, period: str) -> list[dict[str, Any]]:
    """Who signed a report off (the weekly report's 审核 line)."""
    return [dataclasses.asdict(s) for s in hub.reports.store.signoffs(kind, period)]
