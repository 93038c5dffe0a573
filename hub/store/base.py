"""What the hub stores, and the Protocols the storage backends implement.

Two kinds of data with different homes: time series (readings, events) go to a
``SeriesStore`` — SQLite by default, InfluxDB at scale — and everything with a
lifecycle (devices, sensors, alerts, dead letters, which messages were already seen)
goes to the ``StateStore`` in SQLite. Series writes are idempotent (a reading is
keyed by sensor and timestamp), so a crash between the two commits only causes a
harmless rewrite when the broker redelivers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


def sensor_key(device: str, sensor: str) -> str:
    """The hub-wide name of a sensor: device ids are unique per hub (they are MQTT usernames)."""
    return f"{device}/{sensor}"


@dataclass(frozen=True, slots=True)
class StoredReading:
    sensor: str  # sensor_key
    ts: float
    value: float | None
    fault: str | None = None
    clock_synced: bool = True


@dataclass(frozen=True, slots=True)
class StoredEvent:
    device: str
    boot_id: str
    seq: int
    ts: float
    sensor: str  # sensor_key
    kind: str
    state: str
    detail: str = "{}"  # JSON
    clock_synced: bool = True


class SeriesStore(Protocol):
    """Time series of readings and events."""

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        """Store a batch durably; raises if it could not (the caller then does not acknowledge)."""
        ...

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]: ...

    def events(self, since: float, until: float, sensor: str | None = None,
               limit: int = 10_000) -> list[StoredEvent]: ...

    def close(self) -> None: ...
