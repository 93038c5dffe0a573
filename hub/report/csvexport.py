"""The raw readings of a period as CSV, streamed: a week of 200 sensors is 12 million lines.

Lines are produced sensor by sensor in chunks read from the series store, so memory
stays flat whatever the period; a byte-order mark first lets spreadsheet programs on
Chinese Windows open the file as UTF-8. Names and fault texts come from devices and
staff, so cells go through ``hub.safetext.CsvWriter`` (no formula survives); the value
is written as a number, which stays one.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Sequence
from zoneinfo import ZoneInfo

from hub.safetext import CsvWriter
from hub.store.base import SeriesStore

COLUMNS = ("sensor", "name", "local_time", "ts", "value", "fault")
#: Readings fetched per query.
CHUNK = 50_000


def rows(series: SeriesStore, sensors: Sequence[tuple[str, str]], since: float, until: float,
         tz: ZoneInfo) -> Iterator[tuple[str, str, str, str, float | str, str]]:
    """``(key, name)`` sensors' readings in ``[since, until)``, sensor by sensor in time order."""
    for key, name in sensors:
        start = since
        while start < until:
            chunk = series.readings(key, start, until, CHUNK)
            for r in chunk:
                local = dt.datetime.fromtimestamp(r.ts, tz).isoformat(timespec="milliseconds")
                yield (key, name, local, f"{r.ts:.3f}", "" if r.value is None else r.value, r.fault or "")
            if len(chunk) < CHUNK:
                break
            start = chunk[-1].ts + 0.001  # timestamps are whole milliseconds in both stores


def stream(series: SeriesStore, sensors: Sequence[tuple[str, str]], since: float, until: float, tz: ZoneInfo,
           lines_per_block: int = 5000) -> Iterator[bytes]:
    """UTF-8 CSV (BOM, header, CRLF lines) in blocks of ``lines_per_block`` lines."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    buffer.write("\ufeff")
    writer.writerow(COLUMNS)
    pending = 0
    for row in rows(series, sensors, since, until, tz):
        writer.writerow(row)
        pending += 1
        if pending >= lines_per_block:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")
