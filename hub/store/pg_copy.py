"""``xiaoan store copy`` into PostgreSQL: a school's SQLite series history, and what arrived since.

Both stores key their rows alike — a reading by (sensor, millisecond), an event by
(device, boot, seq), a kept aggregate by (sensor, hour) — and the PostgreSQL store
replaces a reading it already has and skips an event or kept hour it has. So a copy is
three passes over SQLite in key order (``readings_after``, ``events_after``,
``hourly_after``), each page written as it is read, and needs no checkpoint: a run
repeated after the hub has been switched writes everything again and changes only what
arrived in between, whenever its time (an edge's backlog arrives in the past). The
InfluxDB copy (hub.store.copy) needs fingerprints because InfluxDB cannot be asked
what it has cheaply; PostgreSQL can, which is what ``verify`` does.

Kept aggregates are the hours SQLite had already folded; PostgreSQL answers an hour
from its raw rows and its kept aggregate, as SQLite does, so ``hourly`` answers alike.

Once the hub runs on PostgreSQL, PostgreSQL prunes too: readings below its last cut
(``pruned_below``) are folded into its kept hours, so copying SQLite's raw rows of
those hours again would count them twice. They are left out and counted; an hour
PostgreSQL already keeps is never replaced. So the first copy belongs before the
switch (the history is then all there), and the runs after it add only what is new.
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
    #: Readings and events below PostgreSQL's last cut: its kept hours already hold them (see above).
    below_cut: int = 0


def copy_into_postgres(source: SqliteSeriesStore, target: PostgresSeriesStore, batch: int = 5000,
                       report: Callable[[str], None] = print) -> Copied:
    """Copy every reading, event and kept aggregate of ``source`` into ``target``; safe to run again."""
    copied = Copied()
    cut = target.pruned_below()
    cut_s = -float("inf") if cut is None else cut / 1000.0
    after_reading: tuple[str, int] | None = None
    while page := source.readings_after(after_reading, batch):
        kept = [r for r in page if r.ts >= cut_s]
        target.write(kept, [])
        copied.readings += len(kept)
        copied.below_cut += len(page) - len(kept)
        after_reading = (page[-1].sensor, round(page[-1].ts * 1000))
        report(f"readings: {copied.readings} copied (up to {page[-1].sensor})")
    after_event: tuple[str, str, int] | None = None
    while events := source.events_after(after_event, batch):
        kept_events = [e for e in events if e.ts >= cut_s]
        target.write([], kept_events)
        copied.events += len(kept_events)
        copied.below_cut += len(events) - len(kept_events)
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
    """Per sensor: at least as many readings and events in PostgreSQL as in SQLite, and every kept hour.

    PostgreSQL may hold more once the hub writes there, so fewer is the difference: a sensor
    the copy has not finished. Below PostgreSQL's last cut only its kept hours are compared,
    each holding at least what SQLite's does.
    """
    result = Verified()
    cut = target.pruned_below()
    since_ms = -(2**62) if cut is None else cut
    for table in ("readings", "events"):
        have = target.counts(table, since_ms)
        for sensor in source.sensors_in(table):
            want = source.count_between(table, sensor, since_ms, 2**62)
            result.compared += 1
            if have.get(sensor, 0) < want:
                result.differences.append(f"{table} of {sensor}: {want} in SQLite, {have.get(sensor, 0)} in PostgreSQL")
    kept = {(a.sensor, a.hour): a for a in target.kept_hours()}
    after: tuple[str, int] | None = None
    while hours := source.hourly_after(after, 5000):
        for aggregate in hours:
            found = kept.get((aggregate.sensor, aggregate.hour))
            if found is None or found.count < aggregate.count:
                result.differences.append(f"hourly aggregate of {aggregate.sensor} at {aggregate.hour:.0f}:"
                                          f" {aggregate.count} readings in SQLite,"
                                          f" {0 if found is None else found.count} in PostgreSQL")
        after = (hours[-1].sensor, round(hours[-1].hour * 1000))
    return result
