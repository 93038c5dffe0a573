"""``/metrics`` in Prometheus text format, so an outside watchdog can see a stalled pipeline."""

from __future__ import annotations

import time
from collections import Counter

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from hub.alerts.kinds import ACTIVE_STATES
from hub.api.deps import VitalsDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.scheduler import DutyStatus

router = APIRouter(tags=["status"], dependencies=[Depends(require(Permission.VIEW))])


def _line(name: str, value: float, help_text: str, kind: str = "gauge", labels: str = "") -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"


def _family(name: str, help_text: str, kind: str, values: list[tuple[str, float]]) -> str:
    """One metric with a ``duty`` label per value (duty names are the hub's own: no escaping needed)."""
    lines = [f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"]
    lines.extend(f'{name}{{duty="{duty}"}} {value}\n' for duty, value in values)
    return "".join(lines)


def duty_metrics(duties: list[DutyStatus]) -> str:
    """The scheduler's timing per duty: a watchdog sees a duty that stopped, fails or overruns."""
    return "".join([
        _family("xiaoan_duty_last_run_timestamp_seconds", "start of the duty's last finished run (0: none yet)",
                "gauge", [(d.name, d.last_run or 0) for d in duties]),
        _family("xiaoan_duty_duration_seconds", "duration of the duty's last run", "gauge",
                [(d.name, round(d.last_duration_s or 0.0, 6)) for d in duties]),
        _family("xiaoan_duty_runs_total", "runs of the duty", "counter", [(d.name, d.runs) for d in duties]),
        _family("xiaoan_duty_failures_total", "runs of the duty that raised", "counter",
                [(d.name, d.failures) for d in duties]),
        _family("xiaoan_duty_overruns_total", "runs of the duty that took longer than its interval", "counter",
                [(d.name, d.overruns) for d in duties]),
    ])


def _label(value: str) -> str:
    """A label value in Prometheus' text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def dead_letter_metrics(kept: dict[str, int], dropped: dict[str, int]) -> str:
    """Dead letters kept now and dropped (past the per-device cap, or pruned by age), in total and per device.

    ``xiaoan_dead_letters_total`` counts what this process dead-lettered since it
    started; these come from the state store, so they survive a restart. A device
    whose dropped count grows is sending junk faster than the cap keeps it.
    """
    devices = sorted(set(kept) | set(dropped))
    parts = [
        _line("xiaoan_dead_letters_kept", sum(kept.values()), "dead letters kept in the state store now"),
        _line("xiaoan_dead_letters_dropped_total", sum(dropped.values()),
              "dead letters dropped past the per-device cap or pruned by age", "counter"),
        "# HELP xiaoan_device_dead_letters_kept dead letters kept now, per device\n"
        "# TYPE xiaoan_device_dead_letters_kept gauge\n",
        *(f'xiaoan_device_dead_letters_kept{{device="{_label(d)}"}} {kept.get(d, 0)}\n' for d in devices),
        "# HELP xiaoan_device_dead_letters_dropped_total dead letters dropped, per device\n"
        "# TYPE xiaoan_device_dead_letters_dropped_total counter\n",
        *(f'xiaoan_device_dead_letters_dropped_total{{device="{_label(d)}"}} {dropped.get(d, 0)}\n'
          for d in devices),
    ]
    return "".join(parts)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(vitals: VitalsDep) -> str:
    counters = vitals.counters.snapshot()
    outage = vitals.outage.current()
    parts = [
        _line("xiaoan_messages_received_total", counters["received"], "MQTT messages taken off the queue", "counter"),
        _line("xiaoan_messages_stored_total", counters["stored_messages"], "telemetry/event messages stored",
              "counter"),
        _line("xiaoan_readings_stored_total", counters["stored_readings"], "readings stored", "counter"),
        _line("xiaoan_duplicates_total", counters["duplicates"], "duplicate messages ignored", "counter"),
        _line("xiaoan_dead_letters_total", counters["dead_letters"], "messages dead-lettered", "counter"),
        _line("xiaoan_store_failures_total", counters["store_failures"], "batches that failed to store", "counter"),
        _line("xiaoan_store_failing_batches", counters["failing_batches"],
              "batches that failed to store since the last stored one (0: the store works)"),
        _line("xiaoan_last_commit_age_seconds",
              time.time() - counters["last_commit"] if counters["last_commit"] else -1,
              "seconds since the last committed batch (-1: none yet)"),
        _line("xiaoan_store_cannot_write", int(outage is not None),
              "1 while the disk refuses the hub's writes (full, I/O error, read-only): nothing is confirmed"),
        _line("xiaoan_store_cannot_write_seconds", round(time.time() - outage.since, 3) if outage else 0,
              "seconds since the disk first refused (0: it writes)"),
        _line("xiaoan_store_write_outages_total", vitals.outage.outages,
              "times the disk began refusing the hub's writes since it started", "counter"),
        _line("xiaoan_mqtt_connected", int(bool(vitals.mqtt_connected())),
              "1 when the hub is connected to the broker"),
    ]
    by_state = Counter(a.state for a in vitals.record.alerts(ACTIVE_STATES))
    parts.append("# HELP xiaoan_alerts_active alerts by state\n# TYPE xiaoan_alerts_active gauge\n")
    parts.extend(f'xiaoan_alerts_active{{state="{s}"}} {by_state.get(s, 0)}\n'
                 for s in ACTIVE_STATES)
    devices = vitals.record.devices()
    parts.append(_line("xiaoan_devices_online", sum(d["state"] == "online" for d in devices), "devices online"))
    parts.append(dead_letter_metrics(vitals.record.dead_letters_kept(), vitals.record.dead_letters_dropped()))
    parts.append(duty_metrics(vitals.scheduler.status()))
    return "".join(parts)
