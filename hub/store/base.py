"""What the hub stores, and the Protocols the storage backends implement.

Two kinds of data with different homes: time series (readings, events) go to a
``SeriesStore`` — SQLite by default, InfluxDB at scale — and everything with a
lifecycle (devices, sensors, alerts, dead letters, which messages were already seen)
goes to the ``StateStore`` in SQLite. Series writes are idempotent (a reading is
keyed by sensor and timestamp), so a crash between the two commits only causes a
harmless rewrite when the broker redelivers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

#: Hourly aggregates are aligned to UTC hours (China has no half-hour offset, so they are local hours too).
HOUR_S = 3600


def sensor_key(device: str, sensor: str) -> str:
    """The hub-wide name of a sensor: device ids are unique per hub (they are MQTT usernames)."""
    return f"{device}/{sensor}"


class SeriesUnreachable(Exception):
    """The series store's server (PostgreSQL, InfluxDB) cannot be reached: the write was not made.

    Raised by the stores that live on another server, so the hub can tell "the database is
    away" (the ``store_cannot_write`` alarm, hub.store_outage) from a batch that failed for
    a reason of its own.
    """


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


@dataclass(frozen=True, slots=True)
class HourlyAggregate:
    """min/max/mean/count of one sensor's values in the hour starting at ``hour``; faults are not values."""

    sensor: str
    hour: float
    min: float
    max: float
    mean: float
    count: int


@dataclass(frozen=True, slots=True)
class Sample:
    """A point for dashboards only (device health, limit bands, alert marks): not part of the record.

    The record of devices and alerts lives in the state store; these copies let
    Grafana draw them next to the readings.
    """

    measurement: str
    ts: float
    tags: Mapping[str, str]
    fields: Mapping[str, float | int | str | bool] = field(default_factory=dict)


class SeriesStore(Protocol):
    """Time series of readings and events."""

    def write(self, readings: Sequence[StoredReading], events: Sequence[StoredEvent]) -> None:
        """Store a batch durably; raises if it could not (the caller then does not acknowledge)."""
        ...

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]: ...

    def events(self, since: float, until: float, sensor: str | None = None,
               limit: int = 10_000, newest_first: bool = False) -> list[StoredEvent]:
        """Events in time order; ``newest_first`` with a small ``limit`` asks "what happened last"."""
        ...

    def hourly(self, sensor: str, since: float, until: float) -> list[HourlyAggregate]:
        """Hourly aggregates of valued readings in [since, until): exact from raw readings while they are
        kept, from the downsampled aggregates after the raw retention has removed them."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Maintained(Protocol):
    """A store whose retention the hub runs itself (SQLite; InfluxDB does it in the server)."""

    def downsample_and_prune(self, now: float) -> None: ...


@runtime_checkable
class ManySensors(Protocol):
    """A store that answers many sensors at once better than through ``hourly`` one by one.

    InfluxDB: one HTTP query for all of them; SQLite: closed hours from its rollups.
    """

    def hourly_many(self, sensors: Sequence[str], since: float, until: float) -> dict[str, list[HourlyAggregate]]:
        """``hourly`` of every sensor in ``sensors`` (each present, possibly empty)."""
        ...

    def first_values(self, sensors: Sequence[str], since: float, until: float) -> dict[str, tuple[float, float]]:
        """Each sensor's first valued reading in [since, until) as (time, value); sensors without one are left out."""
        ...


@runtime_checkable
class TimedValues(Protocol):
    """A store that reads a sensor's (time, value) pairs without building a reading object per row.

    The weekly report reads the raw rows of every excursion's hours (about a million for a
    school's week): as plain tuples straight from the database that is a fraction of the time.
    """

    def values(self, sensor: str, since: float, until: float, limit: int) -> list[tuple[float, float | None]]:
        """``(ts, value)`` of the readings in ``[since, until)``, oldest first, at most ``limit``."""
        ...


@runtime_checkable
class SampleSink(Protocol):
    """A store that can also hold dashboard samples (InfluxDB for Grafana)."""

    def write_samples(self, samples: Sequence[Sample]) -> None: ...


@runtime_checkable
class Rollups(Protocol):
    """A store that keeps hourly rollups apart from raw readings (InfluxDB), recomputed when past hours change.

    The SQLite store computes an hour from its raw readings when asked, so it has nothing to recompute.
    """

    def backfill_hourly(self, since: float, until: float) -> None: ...
