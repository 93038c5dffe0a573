"""What the hub's records become at the district: a kind, the identity the hub already dedups by, a JSON body.

Pure functions. The identities (docs/district.md, "Identities"):

- a reading: its sensor and time in whole milliseconds (``device/sensor@ts_ms``), the
  key of the hub's series (two readings of a sensor in one millisecond are one there);
- an event: the edge's message identity ``device/boot_id/seq``;
- an alarm's lifecycle record: ``id/state/updated_at`` — one per state change, so the
  district can rebuild the alarm's history and its current state in any arrival order;
- an audit entry: its id in the school's chain, in 19 digits (ids are never reused: the log is append-only);
- an hour of a sensor: ``device/sensor@hour_ms/count`` — the count makes an hour summed up
  again with late readings a record of its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from hub.audit import AuditEntry
from hub.district.wire import ForwardedRecord, RecordKind, hourly_key
from hub.district.wire import audit_key as wire_audit_key
from hub.store.base import StoredEvent, StoredReading

#: Alarm fields the district uses (``data`` stays at the school: rule internals).
_ALARM_FIELDS = ("id", "rule", "subject", "kind", "severity", "state", "message", "started_at", "updated_at",
                 "value", "peak", "threshold", "fired_at", "resolved_at", "acked_at", "acked_by", "ack_note",
                 "closed_at", "closed_by", "action", "verified_at", "verified_by", "verify_note", "incident",
                 "silenced")


def reading_key(sensor: str, ts: float) -> str:
    return f"{sensor}@{round(ts * 1000)}"


def reading_record(reading: StoredReading) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.READING, key=reading_key(reading.sensor, reading.ts), ts=reading.ts,
                           body={"sensor": reading.sensor, "value": reading.value, "fault": reading.fault,
                                 "clock_synced": reading.clock_synced})


def event_key(event: StoredEvent) -> str:
    return f"{event.device}/{event.boot_id}/{event.seq}"


def event_record(event: StoredEvent) -> ForwardedRecord:
    body: dict[str, Any] = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    body["detail"] = json.loads(event.detail)
    return ForwardedRecord(kind=RecordKind.EVENT, key=event_key(event), ts=event.ts,
                           body=body)


def alarm_snapshot_key(snapshot: dict[str, Any]) -> str:
    return f"{snapshot.get('id')}/{snapshot.get('state')}/{snapshot.get('updated_at')!r}"


def alarm_snapshot_record(snapshot: dict[str, Any]) -> ForwardedRecord:
    """An alarm as the hub saved it (``StateStore.alert_changes``: its fields, enums as their values)."""
    body = {name: snapshot.get(name) for name in _ALARM_FIELDS}
    return ForwardedRecord(kind=RecordKind.ALARM, key=alarm_snapshot_key(snapshot), ts=snapshot["updated_at"],
                           body=body)


def audit_key(entry: AuditEntry) -> str:
    assert entry.id is not None  # read from the log: every entry has its id
    return wire_audit_key(entry.id)


def audit_record(entry: AuditEntry) -> ForwardedRecord:
    """An audit entry with everything its hash covers, so the district can check the chain it receives."""
    return ForwardedRecord(kind=RecordKind.AUDIT, key=audit_key(entry), ts=entry.ts,
                           body={"id": entry.id, "ts": float(entry.ts), "actor": entry.actor, "action": entry.action,
                                 "subject": entry.subject, "detail": entry.detail, "prev_hash": entry.prev_hash,
                                 "hash": entry.hash})


HOUR_S = 3600.0


def hour_of(ts: float) -> float:
    """The start of the (UTC) hour a time falls in; China has no daylight saving, so it is a local hour too."""
    return math.floor(ts / HOUR_S) * HOUR_S


def hourly_record(sensor: str, hour: float, readings: list[StoredReading]) -> ForwardedRecord | None:
    """The hour's readings of one sensor summed up (None: none stored, nothing to say)."""
    if not readings:
        return None
    values = [r.value for r in readings if r.value is not None and r.fault is None]
    body: dict[str, Any] = {
        "sensor": sensor, "hour": float(hour), "count": len(readings),
        "faults": sum(1 for r in readings if r.fault is not None),
        "min": float(min(values)) if values else None, "max": float(max(values)) if values else None,
        "mean": round(math.fsum(values) / len(values), 4) if values else None,
    }
    return ForwardedRecord(kind=RecordKind.HOURLY, key=hourly_key(sensor, hour, len(readings)), ts=float(hour),
                           body=body)
