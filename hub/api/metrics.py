"""``/metrics`` in Prometheus text format, so an outside watchdog can see a stalled pipeline."""

from __future__ import annotations

import time
from collections import Counter

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from hub.alerts.kinds import ACTIVE_STATES
from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(tags=["status"], dependencies=[Depends(require(Permission.VIEW))])


def _line(name: str, value: float, help_text: str, kind: str = "gauge", labels: str = "") -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n{name}{labels} {value}\n"


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(hub: HubDep) -> str:
    counters = hub.pipeline.counters.snapshot()
    parts = [
        _line("xiaoan_messages_received_total", counters["received"], "MQTT messages taken off the queue", "counter"),
        _line("xiaoan_messages_stored_total", counters["stored_messages"], "telemetry/event messages stored",
              "counter"),
        _line("xiaoan_readings_stored_total", counters["stored_readings"], "readings stored", "counter"),
        _line("xiaoan_duplicates_total", counters["duplicates"], "duplicate messages ignored", "counter"),
        _line("xiaoan_dead_letters_total", counters["dead_letters"], "messages dead-lettered", "counter"),
        _line("xiaoan_store_failures_total", counters["store_failures"], "batches that failed to store", "counter"),
        _line("xiaoan_last_commit_age_seconds",
              time.time() - counters["last_commit"] if counters["last_commit"] else -1,
              "seconds since the last committed batch (-1: none yet)"),
        _line("xiaoan_mqtt_connected", int(hub.mqtt.connected.is_set()) if hub.mqtt else 0,
              "1 when the hub is connected to the broker"),
    ]
    by_state = Counter(a.state for a in hub.state.alerts(ACTIVE_STATES))
    parts.append("# HELP xiaoan_alerts_active alerts by state\n# TYPE xiaoan_alerts_active gauge\n")
    parts.extend(f'xiaoan_alerts_active{{state="{s}"}} {by_state.get(s, 0)}\n'
                 for s in ACTIVE_STATES)
    devices = hub.state.devices()
    parts.append(_line("xiaoan_devices_online", sum(d["state"] == "online" for d in devices), "devices online"))
    return "".join(parts)
