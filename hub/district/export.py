"""The feed a provincial platform (互联网+明厨亮灶 / 智慧食安) takes from the district: readings and sample records.

Three datasets per school and time span, each a stream of flat rows:

- ``readings`` — every cold-storage reading the school forwarded: sensor, time, value,
  fault;
- ``hourly`` — each sensor's hours, from a school that forwards hours rather than every
  reading (``district.readings: hourly``): count, faults, lowest, highest, mean;
- ``samples`` — every dish the school logged as a food sample (留样), from its audit
  log's ``sample.logged`` entries: meal, dish, weight, the reason given for a dish
  under the minimum weight, who logged it and when; and each discard
  (``sample.discarded``), with whether it came before the 48 hours.

How rows are written is an **adapter**: ``csv`` and ``jsonl`` are built in, and a
province's own format (field names, encodings, a signature its platform wants) is a
class in a package of its own, registered under the ``xiaoan.district_exporters`` entry
point group — ``?format=<its name>`` then picks it. An adapter only turns rows into
bytes; what is read, and for whom, stays here.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from hub.district.store import DistrictStore
from hub.district.wire import RecordKind
from hub.safetext import CsvWriter

_LOGGER = logging.getLogger(__name__)
#: The entry point group a province's own adapter registers under.
ADAPTER_GROUP = "xiaoan.district_exporters"
#: The longest span one request may ask for: a week of one school is 3 M readings at 50 sensors every 10 s.
MAX_SPAN_S = 7 * 86_400.0
#: Rows fetched from PostgreSQL per round trip while the feed streams.
_PAGE = 5000


class Dataset(StrEnum):
    READINGS = "readings"
    HOURLY = "hourly"
    SAMPLES = "samples"


@dataclass(frozen=True, slots=True)
class ReadingRow:
    site: str
    sensor: str
    #: ISO 8601 with the district's offset (``2026-12-03T08:00:00.000+08:00``).
    time: str
    value: float | None
    fault: str | None


@dataclass(frozen=True, slots=True)
class HourlyRow:
    site: str
    sensor: str
    #: The hour's start, ISO 8601 with the district's offset.
    hour: str
    count: int
    faults: int
    min: float | None
    max: float | None
    mean: float | None


@dataclass(frozen=True, slots=True)
class SampleRow:
    site: str
    #: ``logged`` (a dish put in the sample cabinet) or ``discarded`` (a meal's samples thrown away).
    event: str
    time: str
    subject: str
    meal: str
    dish: str
    weight_g: float | None
    short_reason: str
    #: For a discard: before the 48 hours were up.
    early: bool | None
    actor: str


Row = ReadingRow | HourlyRow | SampleRow
#: Each dataset's row, whose fields are the columns.
ROWS: dict[Dataset, type[Row]] = {Dataset.READINGS: ReadingRow, Dataset.HOURLY: HourlyRow, Dataset.SAMPLES: SampleRow}


class Adapter(Protocol):
    """Rows to bytes, for one provincial platform's format."""

    name: ClassVar[str]
    media_type: ClassVar[str]
    extension: ClassVar[str]

    def render(self, dataset: Dataset, rows: Iterable[Row]) -> Iterator[bytes]: ...


class CsvAdapter:
    """UTF-8 with a BOM (Excel), a header row of the field names; text cells through the formula guard."""

    name: ClassVar[str] = "csv"
    media_type: ClassVar[str] = "text/csv; charset=utf-8"
    extension: ClassVar[str] = "csv"

    def render(self, dataset: Dataset, rows: Iterable[Row]) -> Iterator[bytes]:
        fields = list(ROWS[dataset].__dataclass_fields__)
        out = io.StringIO()
        writer = CsvWriter(out)
        writer.writerow(fields)
        yield "\ufeff".encode() + _drain(out)
        for n, row in enumerate(rows, 1):
            values = asdict(row)
            writer.writerow([_cell(values[f]) for f in fields])
            if n % 1000 == 0:
                yield _drain(out)
        yield _drain(out)


class JsonLinesAdapter:
    """One JSON object a line (``application/x-ndjson``), the field names as keys."""

    name: ClassVar[str] = "jsonl"
    media_type: ClassVar[str] = "application/x-ndjson"
    extension: ClassVar[str] = "jsonl"

    def render(self, dataset: Dataset, rows: Iterable[Row]) -> Iterator[bytes]:
        batch: list[str] = []
        for row in rows:
            batch.append(json.dumps(asdict(row), ensure_ascii=False))
            if len(batch) == 1000:
                yield ("\n".join(batch) + "\n").encode()
                batch = []
        if batch:
            yield ("\n".join(batch) + "\n").encode()


def _cell(value: object) -> str | int | float | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str | int | float) or value is None else str(value)


def _drain(out: io.StringIO) -> bytes:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text.encode()


def adapters() -> dict[str, Adapter]:
    """The built-in adapters and every one installed under ``xiaoan.district_exporters``, by name."""
    found: dict[str, Adapter] = {CsvAdapter.name: CsvAdapter(), JsonLinesAdapter.name: JsonLinesAdapter()}
    for point in entry_points(group=ADAPTER_GROUP):
        try:
            adapter = point.load()()
        except Exception:
            _LOGGER.exception("district exporter %s could not be loaded: left out", point.name)
            continue
        found.setdefault(adapter.name, adapter)
    return found


def _iso(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).isoformat(timespec="milliseconds")


def _pages(store: DistrictStore, site: str, kind: RecordKind, start: float, end: float,
           actions: tuple[str, ...] = ()) -> Iterator[tuple[float, dict[str, Any]]]:
    for ts, _key, body in _keyed_pages(store, site, kind, start, end, actions):
        yield ts, body


def _keyed_pages(store: DistrictStore, site: str, kind: RecordKind, start: float, end: float,
                 actions: tuple[str, ...] = ()) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """A school's records of ``kind`` in ``[start, end)`` in time order, a page at a time (keyset on (ts, key))."""
    after_ts, after_key = start, ""
    while True:
        # A connection a page, not for the whole stream: a slow reader holds none while it reads.
        with store.pool.connection() as db:
            rows = db.execute(
                "SELECT ts, key, body FROM records WHERE site = %(site)s AND kind = %(kind)s AND ts < %(end)s"
                " AND (ts > %(ts)s OR (ts = %(ts)s AND key > %(key)s))"
                " AND (cardinality(%(actions)s::text[]) = 0 OR body->>'action' = ANY(%(actions)s))"
                " ORDER BY ts, key LIMIT %(page)s",
                {"site": site, "kind": kind.value, "end": end, "ts": after_ts, "key": after_key,
                 "actions": list(actions), "page": _PAGE}).fetchall()
        for ts, key, body in rows:
            yield float(str(ts)), str(key), body  # type: ignore[misc]
        if len(rows) < _PAGE:
            return
        after_ts, after_key = float(str(rows[-1][0])), str(rows[-1][1])


def reading_rows(store: DistrictStore, site: str, start: float, end: float, tz: ZoneInfo) -> Iterator[ReadingRow]:
    for ts, body in _pages(store, site, RecordKind.READING, start, end):
        value = body.get("value")
        fault = body.get("fault")
        yield ReadingRow(site, str(body.get("sensor", "")), _iso(ts, tz),
                         float(value) if isinstance(value, int | float) else None,
                         str(fault) if fault is not None else None)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def hourly_rows(store: DistrictStore, site: str, start: float, end: float, tz: ZoneInfo) -> Iterator[HourlyRow]:
    """Each sensor's hours the school summed up; of an hour summed up again with late readings, the fullest.

    An hour's versions have one key but for the count (``sensor@hour_ms/count``, 7
    digits), so in key order they come together and the fullest comes last.
    """
    pending: tuple[str, HourlyRow] | None = None
    for ts, key, body in _keyed_pages(store, site, RecordKind.HOURLY, start, end):
        hour_key = key.rsplit("/", 1)[0]
        if pending is not None and pending[0] != hour_key:
            yield pending[1]
        count, faults = body.get("count"), body.get("faults")
        pending = (hour_key, HourlyRow(site, str(body.get("sensor", "")), _iso(ts, tz),
                                       count if isinstance(count, int) else 0, faults if isinstance(faults, int) else 0,
                                       _number(body.get("min")), _number(body.get("max")), _number(body.get("mean"))))
    if pending is not None:
        yield pending[1]


def sample_rows(store: DistrictStore, site: str, start: float, end: float, tz: ZoneInfo) -> Iterator[SampleRow]:
    """Each logged dish and each discard, from the school's audit entries (the district's copy of them)."""
    for ts, body in _pages(store, site, RecordKind.AUDIT, start, end, ("sample.logged", "sample.discarded")):
        try:
            detail = json.loads(str(body.get("detail", "{}")))
        except ValueError:
            continue
        when, subject, actor = _iso(ts, tz), str(body.get("subject", "")), str(body.get("actor", ""))
        meal = str(detail.get("meal", ""))
        if body.get("action") == "sample.discarded":
            yield SampleRow(site, "discarded", when, subject, meal, "", None, "", bool(detail.get("early")), actor)
            continue
        for dish in detail.get("dishes", []):
            weight = dish.get("weight_g")
            yield SampleRow(site, "logged", when, subject, meal, str(dish.get("name", "")),
                            float(weight) if isinstance(weight, int | float) else None,
                            str(dish.get("short_reason") or ""), None, actor)


def rows_of(store: DistrictStore, dataset: Dataset, site: str, start: float, end: float,
            tz: ZoneInfo) -> Iterator[Row]:
    if dataset is Dataset.READINGS:
        return reading_rows(store, site, start, end, tz)
    if dataset is Dataset.HOURLY:
        return hourly_rows(store, site, start, end, tz)
    return sample_rows(store, site, start, end, tz)

