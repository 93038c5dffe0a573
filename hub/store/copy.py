"""``xiaoan store copy``: move a school's history from the SQLite series store into InfluxDB.

Batches in primary-key order, with a checkpoint file after each batch: an
interrupted copy resumes where it stopped, and since InfluxDB points are keyed
by tags and timestamp, repeating a batch (or the whole copy) never doubles
anything. Readings and events first, then the hourly aggregates SQLite kept for
hours whose raw readings it already pruned, then the hourly aggregates in
InfluxDB are recomputed over the copied range (continuous queries only see new
data).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

_LOGGER = logging.getLogger(__name__)
_BACKFILL_CHUNK_S = 7 * 86_400.0


@dataclass
class CopyProgress:
    readings_after: tuple[str, int] | None = None
    events_after: tuple[str, str, int] | None = None
    hourly_after: tuple[str, int] | None = None
    readings: int = 0
    events: int = 0
    hourly: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    backfilled: bool = False
    done: list[str] = field(default_factory=list)

    @staticmethod
    def load(path: Path) -> CopyProgress:
        if not path.exists():
            return CopyProgress()
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("readings_after", "events_after", "hourly_after"):
            raw[key] = tuple(raw[key]) if raw.get(key) is not None else None
        return CopyProgress(**raw)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        tmp.replace(path)

    def seen(self, ts: float) -> None:
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        self.last_ts = ts if self.last_ts is None else max(self.last_ts, ts)


def copy_history(source: SqliteSeriesStore, target: InfluxSeriesStore, checkpoint: Path, batch: int = 5000,
                 report: Callable[[str], None] = print) -> CopyProgress:
    progress = CopyProgress.load(checkpoint)
    if progress.done:
        report(f"resuming: {progress.readings} readings, {progress.events} events, {progress.hourly} hourly"
               f" aggregates already copied ({', '.join(progress.done)} complete)")
    if "readings" not in progress.done:
        while rows := source.readings_after(progress.readings_after, batch):
            target.write(rows, [])
            last = rows[-1]
            progress.readings_after = (last.sensor, round(last.ts * 1000))
            progress.readings += len(rows)
            # Rows come by sensor, then time: a batch spanning two sensors has its earliest
            # and latest times anywhere in it, not at its ends.
            progress.seen(min(r.ts for r in rows))
            progress.seen(max(r.ts for r in rows))
            progress.save(checkpoint)
            report(f"readings: {progress.readings} copied (up to {last.sensor})")
        progress.done.append("readings")
        progress.save(checkpoint)
    if "events" not in progress.done:
        while events := source.events_after(progress.events_after, batch):
            target.write([], events)
            progress.events_after = (events[-1].device, events[-1].boot_id, events[-1].seq)
            progress.events += len(events)
            progress.save(checkpoint)
            report(f"events: {progress.events} copied")
        progress.done.append("events")
        progress.save(checkpoint)
    if "hourly" not in progress.done:
        while hours := source.hourly_after(progress.hourly_after, batch):
            target.write_hourly(hours)
            progress.hourly_after = (hours[-1].sensor, round(hours[-1].hour * 1000))
            progress.hourly += len(hours)
            progress.save(checkpoint)
            report(f"hourly aggregates: {progress.hourly} copied")
        progress.done.append("hourly")
        progress.save(checkpoint)
    if not progress.backfilled and progress.first_ts is not None and progress.last_ts is not None:
        start = progress.first_ts
        while start <= progress.last_ts:
            end = min(start + _BACKFILL_CHUNK_S, progress.last_ts + 1)
            target.backfill_hourly(start, end)
            start = end
        report("hourly aggregates recomputed in InfluxDB over the copied range")
    progress.backfilled = True
    progress.save(checkpoint)
    return progress
