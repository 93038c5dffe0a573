"""``xiaoan store copy``: move a school's history from the SQLite series store into InfluxDB, and catch up.

The copy is meant to be run more than once: while the hub still writes to SQLite,
after the hub has been switched to InfluxDB (to pick up what arrived in between),
and after an interruption. Each run must find *every* row SQLite holds that
InfluxDB has not been given, whenever it arrived and whatever its timestamp: an
edge replays a backlog hours late, with the times it measured, so rows keep
arriving in the past. A resume point in key order (sensor, time) cannot see such
rows, nor new rows of sensors sorting before it; SQLite keeps no insertion order
(readings are ``WITHOUT ROWID``) and the series schema is not ours to change here.

So each run compares what exists with what was copied. Every table is cut into
buckets per sensor and span of time (a UTC day of readings, a week of events, 28
days of the hourly aggregates SQLite kept for pruned hours), and each bucket is
summed up by SQLite in a *fingerprint*: row count, sum of the timestamps' offsets
in the bucket, and a sum of the content (values; sequence numbers; counts and
means) (``SqliteSeriesStore.fingerprints``). The checkpoint next to the SQLite file records, for each bucket
copied, the fingerprint taken *before* its rows were read. A run re-scans every
bucket and copies in full each one whose fingerprint differs from the recorded one
(new, grown, merged, re-stamped). A row stored after its bucket was copied changes
that bucket's count, so the next run copies the bucket again; rows stored while a
bucket is being copied may or may not be in that copy, but they are not in the
recorded fingerprint, so they are found next time. Nothing relies on the order in
which rows arrived.

Re-copying is harmless: an InfluxDB point is identified by measurement, tags and
timestamp, so a bucket copied twice, or a reading the hub already wrote there
after the switch, is one point. A run on a checkpoint where nothing changed copies
nothing; after the switch SQLite no longer changes, so the final pass can be run
any number of times. ``--restart`` forgets the checkpoint and copies everything.

The scan reads every row once per run, one range query per bucket (about a
million readings a second on a two-core machine busy with other work; a GROUP BY
on the bucket was five times slower); the checkpoint holds one small entry per bucket and is saved every few
seconds and at the end of each phase, so an interruption costs at most those
seconds of re-copying.

Hourly aggregates in InfluxDB: the continuous query only sees recent writes, so
the days whose readings were copied are recomputed from InfluxDB's raw readings
(``backfill_hourly``) once their buckets are copied (the days are kept in the
checkpoint until then, so a crash in between does not lose them). Then the
aggregates SQLite kept for pruned hours are written, each hour as SQLite answers
it (kept aggregate combined with any raw reading that arrived after the pruning),
so a recompute from the few raw points InfluxDB may hold for such an hour never
has the last word: every hourly bucket overlapping a recomputed day is written
again after it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.store.base import HourlyAggregate, StoredEvent, StoredReading
from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import Fingerprint, SeriesTable, SqliteSeriesStore

_LOGGER = logging.getLogger(__name__)

_DAY_MS = 86_400_000
#: Bucket widths: a day of readings (also the unit recomputed in InfluxDB's hourly aggregates), a week of
#: events (a gate's door sends far fewer than a probe), four weeks of kept aggregates (up to ten years of them).
BUCKET_MS: dict[SeriesTable, int] = {"readings": _DAY_MS, "events": 7 * _DAY_MS, "readings_hourly": 28 * _DAY_MS}
#: Hourly aggregates are recomputed in InfluxDB at most this many days per statement.
_BACKFILL_DAYS = 7
#: The checkpoint's format; an older one (a resume key in sensor order) is not trusted.
CHECKPOINT_VERSION = 2
_LABELS: dict[SeriesTable, str] = {"readings": "readings", "events": "events",
                                   "readings_hourly": "hourly aggregates"}
_NO_LIMIT = 2**62

Row = StoredReading | StoredEvent | HourlyAggregate


@dataclass
class CopyProgress:
    """The checkpoint: per table, sensor and bucket the fingerprint copied; days awaiting their hourly recompute.

    ``copied`` (rows written by this run) is not saved: a run reports it.
    """

    buckets: dict[str, dict[str, dict[str, list[int | float]]]] = field(
        default_factory=lambda: {table: {} for table in BUCKET_MS})
    backfill_days: list[int] = field(default_factory=list)
    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_MS, 0))

    @staticmethod
    def load(path: Path) -> tuple[CopyProgress, bool]:
        """The saved progress, and whether a checkpoint was found that had to be ignored (an older format)."""
        if not path.exists():
            return CopyProgress(), False
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != CHECKPOINT_VERSION:
            return CopyProgress(), True
        progress = CopyProgress(backfill_days=[int(day) for day in raw.get("backfill_days", [])])
        for table in BUCKET_MS:
            progress.buckets[table] = raw.get("buckets", {}).get(table, {})
        return progress, False

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": CHECKPOINT_VERSION, "buckets": self.buckets,
                                   "backfill_days": sorted(set(self.backfill_days))}), encoding="utf-8")
        tmp.replace(path)

    def held(self, table: SeriesTable) -> int:
        """Rows of ``table`` in InfluxDB by the checkpoint: the row counts of the buckets copied."""
        return sum(int(fingerprint[0]) for sensor in self.buckets[table].values() for fingerprint in sensor.values())

    @property
    def readings(self) -> int:
        return self.held("readings")

    @property
    def events(self) -> int:
        return self.held("events")

    @property
    def hourly(self) -> int:
        return self.held("readings_hourly")


class _Copier:
    """One run: bucket by bucket, rows batched across buckets, a bucket recorded once all its rows are written."""

    def __init__(self, source: SqliteSeriesStore, target: InfluxSeriesStore, checkpoint: Path, progress: CopyProgress,
                 batch: int, report: Callable[[str], None], save_every_s: float) -> None:
        self.source, self.target, self.checkpoint, self.progress = source, target, checkpoint, progress
        self.batch, self.report, self.save_every_s = max(1, batch), report, save_every_s
        self._rows: list[Row] = []
        self._complete: list[tuple[SeriesTable, str, int, Fingerprint]] = []
        self._saved = time.monotonic()

    def save(self, force: bool = False) -> None:
        if force or time.monotonic() - self._saved >= self.save_every_s:
            self.progress.save(self.checkpoint)
            self._saved = time.monotonic()

    def table(self, table: SeriesTable) -> None:
        """Copy every bucket of ``table`` that is new or changed since it was recorded; forget vanished ones."""
        recorded_all = self.progress.buckets[table]
        sensors = self.source.sensors_in(table)
        for gone in set(recorded_all) - set(sensors):
            del recorded_all[gone]
        width = BUCKET_MS[table]
        for sensor in sensors:
            current = self.source.fingerprints(table, sensor, width)
            recorded = recorded_all.setdefault(sensor, {})
            for gone in set(recorded) - {str(bucket) for bucket in current}:
                del recorded[gone]  # pruned from SQLite: nothing to copy
            for bucket, fingerprint in sorted(current.items()):
                if recorded.get(str(bucket)) == list(fingerprint):
                    continue
                self._read(table, sensor, bucket * width, (bucket + 1) * width)
                self._complete.append((table, sensor, bucket, fingerprint))
        self._flush(table)
        self.save(force=True)

    def _read(self, table: SeriesTable, sensor: str, since_ms: int, until_ms: int) -> None:
        if table == "readings":
            while True:
                page = self.source.readings(sensor, since_ms / 1000.0, until_ms / 1000.0, limit=self.batch)
                self._queue(table, page)
                if len(page) < self.batch:
                    return
                since_ms = round(page[-1].ts * 1000) + 1
        elif table == "events":
            self._queue(table, self.source.events(since_ms / 1000.0, until_ms / 1000.0, sensor=sensor,
                                                  limit=_NO_LIMIT))
        else:
            kept = self._kept_hours(sensor, since_ms, until_ms)
            self._queue(table, [a for a in self.source.hourly(sensor, since_ms / 1000.0, until_ms / 1000.0)
                                if round(a.hour * 1000) in kept])

    def _kept_hours(self, sensor: str, since_ms: int, until_ms: int) -> set[int]:
        """The hours (ms) of ``sensor`` in [since, until) for which SQLite keeps an aggregate (pruned hours)."""
        hours: set[int] = set()
        after = (sensor, since_ms - 1)
        while page := self.source.hourly_after(after, 1000):
            for aggregate in page:
                hour_ms = round(aggregate.hour * 1000)
                if aggregate.sensor != sensor or hour_ms >= until_ms:
                    return hours
                hours.add(hour_ms)
            after = (sensor, round(page[-1].hour * 1000))
        return hours

    def _queue(self, table: SeriesTable, rows: Sequence[Row]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.batch:
            self._flush(table)

    def _flush(self, table: SeriesTable) -> None:
        """Write what is queued, then record the buckets all of whose rows are now written."""
        rows, self._rows = self._rows, []
        for start in range(0, len(rows), self.batch):
            part = rows[start:start + self.batch]
            if table == "readings":
                self.target.write([r for r in part if isinstance(r, StoredReading)], [])
            elif table == "events":
                self.target.write([], [e for e in part if isinstance(e, StoredEvent)])
            else:
                self.target.write_hourly([a for a in part if isinstance(a, HourlyAggregate)])
        self.progress.copied[table] += len(rows)
        complete, self._complete = self._complete, []
        for done_table, sensor, bucket, fingerprint in complete:
            self.progress.buckets[done_table].setdefault(sensor, {})[str(bucket)] = list(fingerprint)
            if done_table == "readings":
                self.progress.backfill_days.append(bucket)
        if rows:
            where = f" (up to {complete[-1][1]}, {_day_text(complete[-1][2] * BUCKET_MS[table])})" if complete else ""
            self.report(f"{_LABELS[table]}: {self.progress.copied[table]} copied{where}")
        self.save()

    def backfill(self) -> None:
        """Recompute InfluxDB's hourly aggregates of the days whose readings were copied; then the kept
        aggregates overlapping those days are due again (they have the last word on their hours)."""
        days = sorted(set(self.progress.backfill_days))
        if not days:
            return
        spans: list[list[int]] = []
        for day in days:
            if spans and spans[-1][1] == day and spans[-1][1] - spans[-1][0] < _BACKFILL_DAYS:
                spans[-1][1] = day + 1
            else:
                spans.append([day, day + 1])
        for first, end in spans:
            self.target.backfill_hourly(first * 86_400.0, end * 86_400.0)
        hourly_width_days = BUCKET_MS["readings_hourly"] // _DAY_MS
        due = {str(day // hourly_width_days) for day in days}
        for recorded in self.progress.buckets["readings_hourly"].values():
            for bucket in due & set(recorded):
                del recorded[bucket]
        self.progress.backfill_days = []
        self.save(force=True)
        self.report(f"hourly aggregates recomputed in InfluxDB for {len(days)} days of copied readings")


def _day_text(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000.0, dt.UTC).date().isoformat()


def copy_history(source: SqliteSeriesStore, target: InfluxSeriesStore, checkpoint: Path, batch: int = 5000,
                 report: Callable[[str], None] = print, save_every_s: float = 5.0) -> CopyProgress:
    """Copy whatever SQLite holds that the checkpoint does not record as copied (see the module docstring).

    Returns the progress: ``copied`` is what this run wrote, ``readings``/``events``/``hourly`` what
    InfluxDB now holds of SQLite's rows by the checkpoint.
    """
    progress, ignored = CopyProgress.load(checkpoint)
    if ignored:
        report(f"{checkpoint}: a checkpoint of an older version, not trusted: copying everything again"
               " (nothing doubles)")
    elif any(progress.buckets.values()):
        report(f"checkpoint: {progress.readings} readings, {progress.events} events, {progress.hourly} hourly"
               " aggregates copied before; copying what SQLite stored or changed since")
    copier = _Copier(source, target, checkpoint, progress, batch, report, save_every_s)
    copier.table("readings")
    copier.table("events")
    copier.backfill()
    copier.table("readings_hourly")
    copier.save(force=True)
    _LOGGER.info("store copy: %s rows written this run", progress.copied)
    return progress
