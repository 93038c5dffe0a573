"""``xiaoan store copy`` into PostgreSQL: a school's SQLite series history, and what arrived since.

Both stores key their rows alike — a reading by (sensor, millisecond), an event by
(device, boot, seq), a kept aggregate by (sensor, hour) — and the PostgreSQL store
replaces a reading or aggregate it already has and skips an event it has. So a copy is
three passes over SQLite in key order (``readings_after``, ``events_after``,
``hourly_after``), each page written as it is read, and needs no checkpoint: a run
repeated after the hub has been switched writes everything again and changes only what
arrived in between, whenever its time (an edge's backlog arrives in the past). The
InfluxDB copy (hub.store.copy) needs fingerprints because InfluxDB cannot be asked
what it has cheaply; PostgreSQL can, which is what ``verify`` does.

Kept aggregates are the hours SQLite had already folded; PostgreSQL answers an hour
from its raw rows and its kept aggregate, as SQLite does, so ``hourly`` answers alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.store.pg_series import PostgresSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore


@dataclass
class Copied:
    readings: int = 0
    events: int = 0
    hourly: int = 0


def copy_into_postgres(source: SqliteSeriesStore, target: PostgresSeriesStore, batch: int = 5000,
                       report: Callable[[str], None] = print) -> Copied:
    """Copy every reading, event and kept aggregate of ``source`` into ``target``; safe to run again."""
    copied = Copied()
    after_reading: tuple[str, int] | None = None
    while page := source.readings_after(after_reading, batch):
        target.write(page, [])
        copied.readings += len(page)
        after_reading = (page[-1].sensor, round(page[-1].ts * 1000))
        report(f"readings: {copied.readings} copied (up to {page[-1].sensor})")
    after_event: tuple[str, str, int] | None = None
    while events := source.events_after(after_event, batch):
        target.write([], events)
        copied.events += len(events)
        after_event = (events[-1].device, events[-1].boot_id, events[-1].seq)
    after_hour: tuple[str, int] | None = None
    while hours := source.hourly_after(after_hour, batch):
        target.write_hourly(hours)
        copied.hourly += len(hours)
        after_hour = (hours[-1].sensor, round(hours[-1].hour * 1000))
    return copied


@dataclass
class Verified:
    #: One line per difference: what, which sensor, how many on each side.
    differences: list[str] = field(default_factory=list)
    #: (table, sensor) pairs compared.
    compared: int = 0


def verify_postgres_copy(source: SqliteSeriesStore, target: PostgresSeriesStore) -> Verified:
    """Per sensor: as many readings and events in PostgreSQL as in SQLite, and the same kept aggregates.

    PostgreSQL may hold more than SQLite once the hub writes there (counted, not a difference
    of the copy): a sensor with fewer rows in PostgreSQL is one the copy has not finished.
    """
    result = Verified()
    for table in ("readings", "events"):
        have = target.counts(table)
        for sensor in source.sensors_in(table):
            want = source.count_between(table, sensor, -(2**62), 2**62)
            result.compared += 1
            if have.get(sensor, 0) < want:
                result.differences.append(f"{table} of {sensor}: {want} in SQLite, {have.get(sensor, 0)} in PostgreSQL")
    kept = {(a.sensor, a.hour): a for a in target.kept_hours()}
    after: tuple[str, int] | None = None
    while hours := source.hourly_after(after, 5000):
        for aggregate in hours:
            if kept.get((aggregate.sensor, aggregate.hour)) != aggregate:
                result.differences.append(f"hourly aggregate of {aggregate.sensor} at {aggregate.hour:.0f}:"
                                          f" {aggregate} in SQLite, {kept.get((aggregate.sensor, aggregate.hour))}"
                                          " in PostgreSQL")
        after = (hours[-1].sensor, round(hours[-1].hour * 1000))
    return result
