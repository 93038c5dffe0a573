"""The food-sample record in SQLite (``samples.sqlite3`` in the hub's state directory).

A file of its own rather than tables in ``hub.sqlite3``: the sample record is a
regulatory register that is kept, exported and archived on its own terms (years,
not the alert store's working set), it is written from the API threads as well as
the ingest thread and so should not queue behind the ingest writer's lock, and its
schema can change without touching the hub's state store. What people did to it
(logging, review, discard) is also written to the hub's tamper-evident audit chain.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.samples import rules
from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sample_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    day TEXT NOT NULL,
    meal TEXT NOT NULL,
    occasion TEXT NOT NULL DEFAULT '',
    cabinet TEXT NOT NULL DEFAULT '',
    station TEXT NOT NULL DEFAULT '',
    placed_at REAL NOT NULL,
    placed_by TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    held_until REAL NOT NULL,
    discarded_at REAL,
    discarded_by TEXT,
    discard_note TEXT NOT NULL DEFAULT '',
    early INTEGER NOT NULL DEFAULT 0,
    notice_at REAL,
    opened_at REAL NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (day, meal, occasion)
);
CREATE INDEX IF NOT EXISTS sample_records_open ON sample_records (discarded_at, held_until);
CREATE TABLE IF NOT EXISTS sample_dishes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id INTEGER NOT NULL REFERENCES sample_records(id),
    name TEXT NOT NULL,
    weight_g REAL,
    code TEXT UNIQUE,
    logged_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT 'api',
    scanned_at REAL
);
CREATE INDEX IF NOT EXISTS sample_dishes_by_record ON sample_dishes (record_id);
CREATE TABLE IF NOT EXISTS sample_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sample_excursions (
    record_id INTEGER NOT NULL REFERENCES sample_records(id),
    cabinet TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL,
    low REAL NOT NULL,
    high REAL NOT NULL,
    alert_ids TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (record_id, cabinet, start)
) WITHOUT ROWID;
"""

#: Version 2: a dish accepted under the minimum weight says why (``short_reason``), and who logged it
#: (``logged_by``, the signed-in account: only they may correct it).
_DISH_AUTHORS = """
ALTER TABLE sample_dishes ADD COLUMN short_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE sample_dishes ADD COLUMN logged_by TEXT NOT NULL DEFAULT '';
"""

_RECORD_COLUMNS = ("id", "day", "meal", "occasion", "cabinet", "station", "placed_at", "placed_by", "reviewer",
                   "held_until", "discarded_at", "discarded_by", "discard_note", "early", "notice_at", "opened_at",
                   "created_at")

# Fixed column lists: the only text ever formatted into a query here (values are always bound).
_DISH_COLUMNS = "id, record_id, name, weight_g, code, logged_at, source, scanned_at, short_reason, logged_by"
_LINK_COLUMNS = "record_id, cabinet, start, end, low, high, alert_ids"


@dataclass
class Dish:
    id: int
    record_id: int
    name: str
    weight_g: float | None
    code: str | None
    logged_at: float
    source: str = "api"
    scanned_at: float | None = None
    #: Why a dish under the minimum weight was accepted as it is ("" when it was not short, or a station's scale).
    short_reason: str = ""
    #: The account (username) or station that logged it; only that account may correct it.
    logged_by: str = ""


@dataclass
class ExcursionLink:
    record_id: int
    cabinet: str
    start: float
    end: float | None
    low: float
    high: float
    alert_ids: list[int] = field(default_factory=list)


@dataclass
class SampleRecord:
    """One meal's samples: what, how much, when, who, where, and what became of them."""

    id: int
    day: str  # local date, ISO
    meal: str
    occasion: str
    cabinet: str
    station: str
    placed_at: float
    placed_by: str
    reviewer: str
    held_until: float
    discarded_at: float | None
    discarded_by: str | None
    discard_note: str
    early: bool
    notice_at: float | None
    opened_at: float
    created_at: float
    dishes: list[Dish] = field(default_factory=list)
    excursions: list[ExcursionLink] = field(default_factory=list)

    @property
    def compromised(self) -> bool:
        return bool(self.excursions)


class SampleStore(SqliteStore):
    STORE = "samples"
    MIGRATIONS = (Migration(1, "sample records, dishes, excursions (0.1.0)", _SCHEMA),
                  Migration(2, "a dish's short reason and who logged it", _DISH_AUTHORS))

    def watch_since(self, now: float) -> float:
        """When this record was first opened (set to ``now`` on the first call, kept after)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sample_meta (key, value) VALUES ('watch_since', ?)", [repr(now)])
            row = self._db.execute("SELECT value FROM sample_meta WHERE key = 'watch_since'").fetchone()
        return float(row[0])

    # -- reading -------------------------------------------------------------------------------

    def _load(self, where: str, args: Sequence[Any], order: str = "placed_at, id") -> list[SampleRecord]:
        query = f"SELECT {', '.join(_RECORD_COLUMNS)} FROM sample_records WHERE {where} ORDER BY {order}"  # noqa: S608 - fixed text, bound values
        rows = self._db.execute(query, list(args)).fetchall()
        records = []
        for row in rows:
            values = dict(zip(_RECORD_COLUMNS, row, strict=True))
            values["early"] = bool(values["early"])
            records.append(SampleRecord(**values))
        if not records:
            return records
        by_id = {r.id: r for r in records}
        marks = ",".join("?" for _ in by_id)
        dishes = f"SELECT {_DISH_COLUMNS} FROM sample_dishes WHERE record_id IN ({marks}) ORDER BY id"  # noqa: S608
        for dish_row in self._db.execute(dishes, list(by_id)):
            by_id[dish_row[1]].dishes.append(Dish(*dish_row))
        links = f"SELECT {_LINK_COLUMNS} FROM sample_excursions WHERE record_id IN ({marks}) ORDER BY start"  # noqa: S608
        for link in self._db.execute(links, list(by_id)):
            record_id, cabinet, start, end, low, high, alert_ids = link
            by_id[record_id].excursions.append(ExcursionLink(record_id, cabinet, start, end, low, high,
                                                             json.loads(alert_ids)))
        return records

    def record(self, record_id: int) -> SampleRecord | None:
        with self._lock:
            found = self._load("id = ?", [record_id])
        return found[0] if found else None

    def find(self, day: str, meal: str, occasion: str = "") -> SampleRecord | None:
        with self._lock:
            found = self._load("day = ? AND meal = ? AND occasion = ?", [day, meal, occasion])
        return found[0] if found else None

    def on_day(self, day: str) -> list[SampleRecord]:
        with self._lock:
            return self._load("day = ?", [day])

    def not_discarded(self) -> list[SampleRecord]:
        with self._lock:
            return self._load("discarded_at IS NULL", [])

    def in_cabinet_since(self, since: float) -> list[SampleRecord]:
        """Records still held, or discarded after ``since`` (their hold may overlap recent readings)."""
        with self._lock:
            return self._load("discarded_at IS NULL OR discarded_at >= ?", [since])

    def between(self, since: float, until: float) -> list[SampleRecord]:
        with self._lock:
            return self._load("placed_at >= ? AND placed_at < ?", [since, until])

    def dish_by_code(self, code: str) -> Dish | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_DISH_COLUMNS} FROM sample_dishes WHERE code = ?",  # noqa: S608
                                   [code]).fetchone()
        return Dish(*row) if row else None

    def logged_meals(self, day: str) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT DISTINCT meal FROM sample_records WHERE day = ?",
                                                       [day])}

    def latest_opened(self, station_device: str, since: float) -> SampleRecord | None:
        """The record a station's meal button opened most recently, if after ``since``."""
        with self._lock:
            found = self._load("station = ? AND opened_at >= ? AND discarded_at IS NULL", [station_device, since],
                               order="opened_at DESC, id DESC LIMIT 1")
        return found[0] if found else None

    # -- writing -------------------------------------------------------------------------------

    def open_record(self, day: str, meal: str, occasion: str, *, cabinet: str, station: str, at: float,
                    placed_by: str, reviewer: str, retention_s: float, now: float) -> tuple[SampleRecord, bool]:
        """The meal's record, created if new; ``opened_at`` moves to ``at`` (scans join it). True: created."""
        with self._lock:
            existing = self._load("day = ? AND meal = ? AND occasion = ?", [day, meal, occasion])
            if existing:
                record = existing[0]
                self._db.execute(
                    "UPDATE sample_records SET opened_at = ?, station = CASE WHEN ? = '' THEN station ELSE ? END,"
                    " placed_by = CASE WHEN placed_by = '' THEN ? ELSE placed_by END,"
                    " reviewer = CASE WHEN ? = '' THEN reviewer ELSE ? END,"
                    " cabinet = CASE WHEN cabinet = '' THEN ? ELSE cabinet END WHERE id = ?",
                    [at, station, station, placed_by, reviewer, reviewer, cabinet, record.id])
                updated = self._load("id = ?", [record.id])[0]
                return updated, False
            cursor = self._db.execute(
                "INSERT INTO sample_records (day, meal, occasion, cabinet, station, placed_at, placed_by, reviewer,"
                " held_until, opened_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [day, meal, occasion, cabinet, station, at, placed_by, reviewer, rules.held_until(at, retention_s), at,
                 now])
            assert cursor.lastrowid is not None
            return self._load("id = ?", [cursor.lastrowid])[0], True

    def add_dish(self, record_id: int, name: str, weight_g: float | None, code: str | None, at: float,
                 source: str, retention_s: float, scanned: bool = False, short_reason: str = "",
                 logged_by: str = "") -> Dish:
        """Add a dish, or update the one with the same code (else the same name); extends the hold."""
        with self._lock, self.transaction() as db:
            row = None
            if code:
                row = db.execute("SELECT id FROM sample_dishes WHERE code = ?", [code]).fetchone()
            if row is None:
                row = db.execute("SELECT id FROM sample_dishes WHERE record_id = ? AND name = ?",
                                 [record_id, name]).fetchone()
            if row is None:
                cursor = db.execute(
                    "INSERT INTO sample_dishes (record_id, name, weight_g, code, logged_at, source, scanned_at,"
                    " short_reason, logged_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [record_id, name, weight_g, code, at, source, at if scanned else None, short_reason,
                     logged_by])
                dish_id = cursor.lastrowid
                if not code:
                    db.execute("UPDATE sample_dishes SET code = ? WHERE id = ?",
                               [self._next_code(record_id), dish_id])
                db.execute("UPDATE sample_records SET held_until = MAX(held_until, ?) WHERE id = ?",
                           [rules.held_until(at, retention_s), record_id])
            else:
                dish_id = row[0]
                db.execute(
                    "UPDATE sample_dishes SET weight_g = COALESCE(?, weight_g),"
                    " short_reason = CASE WHEN ? IS NULL THEN short_reason ELSE ? END,"
                    " scanned_at = CASE WHEN ? THEN ? ELSE scanned_at END WHERE id = ?",
                    [weight_g, weight_g, short_reason, scanned, at, dish_id])
        found = self.dish(int(dish_id or 0))
        assert found is not None
        return found

    def dish(self, dish_id: int) -> Dish | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_DISH_COLUMNS} FROM sample_dishes WHERE id = ?",  # noqa: S608
                                   [dish_id]).fetchone()
        return Dish(*row) if row else None

    def update_dish(self, dish_id: int, name: str, weight_g: float | None, short_reason: str) -> None:
        """A dish's name, weight and short reason as corrected or topped up (the caller has checked who may)."""
        with self._lock:
            self._db.execute("UPDATE sample_dishes SET name = ?, weight_g = ?, short_reason = ? WHERE id = ?",
                             [name, weight_g, short_reason, dish_id])

    def _next_code(self, record_id: int) -> str:
        """The hub's own label code, ``{meal}-{yyyymmdd}-{nn}`` (printed in the QR code as ``LY-`` + code).

        It matches the sample station's scanner pattern (firmware-config/devices/sample-station.yaml),
        which hands the hub the code and the meal; scanned back, it finds this dish.
        """
        day, meal = self._db.execute("SELECT day, meal FROM sample_records WHERE id = ?", [record_id]).fetchone()
        prefix = f"{meal}-{day.replace('-', '')}-"
        (count,) = self._db.execute("SELECT COUNT(*) FROM sample_dishes WHERE code LIKE ? || '%'",
                                    [prefix]).fetchone()
        return f"{prefix}{count + 1:02d}"

    def set_people(self, record_id: int, placed_by: str, reviewer: str) -> None:
        with self._lock:
            self._db.execute("UPDATE sample_records SET placed_by = CASE WHEN ? = '' THEN placed_by ELSE ? END,"
                             " reviewer = CASE WHEN ? = '' THEN reviewer ELSE ? END WHERE id = ?",
                             [placed_by, placed_by, reviewer, reviewer, record_id])

    def mark_discarded(self, record_id: int, at: float, by: str, note: str, early: bool) -> bool:
        """Record the discard; False when it was already discarded."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE sample_records SET discarded_at = ?, discarded_by = ?, discard_note = ?, early = ?"
                " WHERE id = ? AND discarded_at IS NULL", [at, by, note, int(early), record_id])
            return cursor.rowcount == 1

    def mark_notice(self, record_id: int, at: float) -> None:
        with self._lock:
            self._db.execute("UPDATE sample_records SET notice_at = ? WHERE id = ? AND notice_at IS NULL",
                             [at, record_id])

    def link_excursion(self, link: ExcursionLink) -> bool:
        """Link (or extend) an excursion to a record; True when the link is new."""
        with self._lock:
            key = [link.record_id, link.cabinet, link.start]
            known = self._db.execute("SELECT 1 FROM sample_excursions WHERE record_id = ? AND cabinet = ?"
                                     " AND start = ?", key).fetchone() is not None
            self._db.execute(
                "INSERT INTO sample_excursions (record_id, cabinet, start, end, low, high, alert_ids)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id, cabinet, start) DO UPDATE SET"
                " end = excluded.end, low = excluded.low, high = excluded.high, alert_ids = excluded.alert_ids",
                [*key, link.end, link.low, link.high, json.dumps(sorted(link.alert_ids))])
            return not known
