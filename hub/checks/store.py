"""The checks record in SQLite (``checks.sqlite3`` in the hub's state directory).

Completed checklists with every answer (who, when, automatic or not, the evidence),
and the work orders with every step. A file of its own: it is a register a school keeps
for years and exports on its own terms, and its schema changes without touching the
hub's state store. What people did is also written to the hub's audit chain.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hub.checks.kinds import Answer, Category, OrderState, ScanRefusal, ScanState, Urgency
from hub.store.sqlite import Migration, SqliteStore

_P = TypeVar("_P")
_C = TypeVar("_C")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS check_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    template TEXT NOT NULL,
    period TEXT NOT NULL,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    template_json TEXT NOT NULL,
    opened_at REAL NOT NULL,
    submitted_at REAL NOT NULL,
    submitted_by TEXT NOT NULL,
    too_fast INTEGER NOT NULL,
    late INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    request_id TEXT UNIQUE,
    UNIQUE (template, period)
);
CREATE INDEX IF NOT EXISTS check_runs_by_time ON check_runs (submitted_at);
CREATE TABLE IF NOT EXISTS check_answers (
    run_id INTEGER NOT NULL REFERENCES check_runs(id),
    item TEXT NOT NULL,
    answer TEXT,
    value REAL,
    text TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    auto TEXT,
    evidence TEXT NOT NULL DEFAULT '',
    overridden INTEGER NOT NULL DEFAULT 0,
    answered_by TEXT NOT NULL,
    answered_at REAL NOT NULL,
    order_id INTEGER,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, item)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS work_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    place TEXT NOT NULL,
    text TEXT NOT NULL,
    urgency TEXT NOT NULL,
    state TEXT NOT NULL,
    reported_by TEXT NOT NULL,
    reported_at REAL NOT NULL,
    due_at REAL NOT NULL,
    assignee TEXT NOT NULL DEFAULT '',
    fix_note TEXT NOT NULL DEFAULT '',
    fixed_by TEXT NOT NULL DEFAULT '',
    fixed_at REAL,
    accepted_by TEXT NOT NULL DEFAULT '',
    accepted_at REAL,
    run_id INTEGER,
    item TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS work_orders_by_state ON work_orders (state, due_at);
CREATE TABLE IF NOT EXISTS order_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES work_orders(id),
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS order_steps_by_order ON order_steps (order_id, id);
CREATE TABLE IF NOT EXISTS check_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

#: Schema 2: what a hazard is about; the places with a QR code; reports sent by scanning one without signing in.
_PLACES = """
ALTER TABLE work_orders ADD COLUMN category TEXT NOT NULL DEFAULT 'other';
CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at REAL NOT NULL,
    retired_by TEXT NOT NULL DEFAULT '',
    retired_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS places_in_use ON places (name) WHERE retired_at IS NULL;
CREATE TABLE IF NOT EXISTS scan_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id INTEGER NOT NULL REFERENCES places(id),
    category TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    state TEXT NOT NULL,
    triaged_by TEXT NOT NULL DEFAULT '',
    triaged_at REAL,
    note TEXT NOT NULL DEFAULT '',
    order_id INTEGER
);
CREATE INDEX IF NOT EXISTS scan_reports_by_state ON scan_reports (state, id);
CREATE INDEX IF NOT EXISTS scan_reports_by_source ON scan_reports (source, received_at);
CREATE INDEX IF NOT EXISTS scan_reports_by_place ON scan_reports (place_id, received_at);
"""

#: Schema 3: templates edited on the page, every saved revision kept (a checklist names the one it was filled with).
_TEMPLATES = """
CREATE TABLE IF NOT EXISTS check_templates (
    key TEXT NOT NULL,
    revision INTEGER NOT NULL,
    template_json TEXT,
    saved_by TEXT NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (key, revision)
) WITHOUT ROWID;
"""

#: Schema 4: the photos taken with an answer (their file names, as a JSON list).
_ANSWER_PHOTOS = """
ALTER TABLE check_answers ADD COLUMN photos TEXT NOT NULL DEFAULT '[]';
"""

#: Schema 5: a checklist's lines answered at a place after scanning its code (the walk in progress), the scans,
#: and on each stored answer the place scanned for it and when.
_PLACE_LINES = """
CREATE TABLE IF NOT EXISTS place_scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    place_id INTEGER NOT NULL REFERENCES places(id),
    place TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS place_scans_by_place ON place_scans (place_id, at);
CREATE TABLE IF NOT EXISTS check_lines (
    template TEXT NOT NULL,
    period TEXT NOT NULL,
    item TEXT NOT NULL,
    answer TEXT,
    value REAL,
    text TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    photos TEXT NOT NULL DEFAULT '[]',
    answered_by TEXT NOT NULL,
    answered_at REAL NOT NULL,
    scan_id INTEGER NOT NULL REFERENCES place_scans(id),
    scan_place TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (template, period, item)
) WITHOUT ROWID;
ALTER TABLE check_answers ADD COLUMN scan_place TEXT NOT NULL DEFAULT '';
ALTER TABLE check_answers ADD COLUMN scanned_at REAL;
"""

#: Schema 6: lines a reviewer sent back to the person who answered them, with the reason, and their refill.
_REJECTIONS = """
CREATE TABLE IF NOT EXISTS answer_rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES check_runs(id),
    item TEXT NOT NULL,
    person TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_by TEXT NOT NULL,
    rejected_at REAL NOT NULL,
    previous_json TEXT NOT NULL,
    refilled_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS answer_rejections_open ON answer_rejections (run_id, item)
    WHERE refilled_at IS NULL;
CREATE INDEX IF NOT EXISTS answer_rejections_by_person ON answer_rejections (person, refilled_at);
"""

#: Schema 7: a place's history read by place (its answered lines and its work orders), not by scanning the record.
_PLACE_HISTORY = """
CREATE INDEX IF NOT EXISTS check_answers_by_place ON check_answers (scan_place, scanned_at) WHERE scan_place != '';
CREATE INDEX IF NOT EXISTS work_orders_by_place ON work_orders (place, reported_at);
"""

_RUN_COLUMNS = ("id", "template", "period", "name", "version", "template_json", "opened_at", "submitted_at",
                "submitted_by", "too_fast", "late", "failed", "request_id")
_ANSWER_COLUMNS = ("run_id", "item", "answer", "value", "text", "note", "auto", "evidence", "overridden",
                   "answered_by", "answered_at", "order_id", "photos", "scan_place", "scanned_at")
_LINE_COLUMNS = ("template", "period", "item", "answer", "value", "text", "note", "photos", "answered_by",
                 "answered_at", "scan_id", "scan_place", "scanned_at")
_ORDER_COLUMNS = ("id", "title", "place", "text", "urgency", "state", "reported_by", "reported_at", "due_at",
                  "assignee", "fix_note", "fixed_by", "fixed_at", "accepted_by", "accepted_at", "run_id", "item",
                  "category")
_PLACE_COLUMNS = ("id", "name", "token", "created_by", "created_at", "retired_by", "retired_at")
_SCAN_COLUMNS = ("id", "place_id", "category", "text", "received_at", "state", "triaged_by", "triaged_at", "note",
                 "order_id")
_STEP_COLUMNS = ("id", "order_id", "ts", "actor", "action", "state", "note")


@dataclass
class ItemAnswer:
    run_id: int
    item: str
    answer: Answer | None
    value: float | None
    text: str
    note: str
    #: The data source that answered it (``fridges``, ``samples`` …); None: a person did.
    auto: str | None
    evidence: str
    #: A person changed the automatic answer (with the reason in ``note``).
    overridden: bool
    answered_by: str
    answered_at: float
    order_id: int | None = None
    #: Photos taken with the answer (file names under the run's photo folder).
    photos: list[str] = field(default_factory=list)
    #: The place whose code was scanned to answer the line, and when ('' / None: answered on the checklist).
    scan_place: str = ""
    scanned_at: float | None = None


@dataclass
class CheckRun:
    """One completed checklist, with the template version it was filled with."""

    id: int
    template: str
    period: str
    name: str
    version: str
    template_json: str
    opened_at: float
    submitted_at: float
    submitted_by: str
    too_fast: bool
    late: bool
    failed: int
    request_id: str | None
    answers: list[ItemAnswer] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.submitted_at - self.opened_at


@dataclass
class OrderStep:
    id: int
    order_id: int
    ts: float
    actor: str
    action: str
    state: OrderState
    note: str


@dataclass
class WorkOrder:
    id: int
    title: str
    place: str
    text: str
    urgency: Urgency
    state: OrderState
    reported_by: str
    reported_at: float
    due_at: float
    assignee: str
    fix_note: str
    fixed_by: str
    fixed_at: float | None
    accepted_by: str
    accepted_at: float | None
    run_id: int | None
    item: str
    category: Category = Category.OTHER
    steps: list[OrderStep] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """A place with a printed QR code; a retired one's code is refused (a new place gets a new code)."""

    id: int
    name: str
    token: str
    created_by: str
    created_at: float
    retired_by: str
    retired_at: float | None


@dataclass(frozen=True)
class ScanReport:
    """A report sent by scanning a place's code without signing in: plain text, waiting to be triaged."""

    id: int
    place_id: int
    category: Category
    text: str
    received_at: float
    state: ScanState
    triaged_by: str
    triaged_at: float | None
    note: str
    order_id: int | None


@dataclass(frozen=True)
class ScanCounts:
    """What bounds a new report from a scan: the address's and the place's last hour, the queue."""

    by_source: int
    by_place: int
    pending: int


@dataclass(frozen=True)
class TemplateRevision:
    key: str
    revision: int
    #: None: the template was removed in this revision.
    template_json: str | None
    saved_by: str
    saved_at: float


@dataclass(frozen=True)
class PlaceScan:
    """A signed-in person scanned a place's code: the proof of having been there, and the key to its lines."""

    id: int
    place_id: int
    place: str
    actor: str
    at: float


@dataclass(frozen=True)
class PlaceLine:
    """A line of a checklist in progress, answered at its place after scanning the place's code."""

    template: str
    period: str
    item: str
    answer: Answer | None
    value: float | None
    text: str
    note: str
    photos: tuple[str, ...]
    answered_by: str
    answered_at: float
    scan_id: int
    scan_place: str
    scanned_at: float


@dataclass(frozen=True)
class PlaceLineDone:
    """A line of a completed checklist answered at a place (a place's history)."""

    run_id: int
    checklist: str
    period: str
    template_json: str
    item: str
    answer: Answer | None
    answered_by: str
    scanned_at: float


@dataclass(frozen=True)
class Rejection:
    """A line a reviewer sent back to the person who answered it; open until that person fills it again."""

    id: int
    run_id: int
    item: str
    person: str
    reason: str
    rejected_by: str
    rejected_at: float
    #: The line as it stood when sent back (JSON), kept for the record.
    previous_json: str
    refilled_at: float | None


@dataclass(frozen=True)
class NewAnswer:
    item: str
    answer: Answer | None
    value: float | None
    text: str
    note: str
    auto: str | None
    evidence: str
    overridden: bool
    photos: tuple[str, ...] = ()
    #: A line answered at its place: who and when (default: the one who submits, then), and the scan.
    answered_by: str | None = None
    answered_at: float | None = None
    scan_place: str = ""
    scanned_at: float | None = None


@dataclass(frozen=True)
class NewOrder:
    title: str
    place: str
    text: str
    urgency: Urgency
    due_at: float
    item: str = ""
    category: Category = Category.OTHER


def _run(row: Sequence[Any]) -> CheckRun:
    values = dict(zip(_RUN_COLUMNS, row, strict=True))
    for flag in ("too_fast", "late"):
        values[flag] = bool(values[flag])
    return CheckRun(**values)


def _answer(row: Sequence[Any]) -> ItemAnswer:
    values = dict(zip(_ANSWER_COLUMNS, row, strict=True))
    values["answer"] = Answer(values["answer"]) if values["answer"] is not None else None
    values["overridden"] = bool(values["overridden"])
    values["photos"] = json.loads(values["photos"])
    return ItemAnswer(**values)


def _line(row: Sequence[Any]) -> PlaceLine:
    values = dict(zip(_LINE_COLUMNS, row, strict=True))
    values["answer"] = Answer(values["answer"]) if values["answer"] is not None else None
    values["photos"] = tuple(json.loads(values["photos"]))
    return PlaceLine(**values)


def _order(row: Sequence[Any]) -> WorkOrder:
    values = dict(zip(_ORDER_COLUMNS, row, strict=True))
    values["urgency"] = Urgency(values["urgency"])
    values["state"] = OrderState(values["state"])
    values["category"] = Category(values["category"])
    return WorkOrder(**values)


def _scan(row: Sequence[Any]) -> ScanReport:
    values = dict(zip(_SCAN_COLUMNS, row, strict=True))
    values["category"] = Category(values["category"])
    values["state"] = ScanState(values["state"])
    return ScanReport(**values)


def _step(row: Sequence[Any]) -> OrderStep:
    values = dict(zip(_STEP_COLUMNS, row, strict=True))
    values["state"] = OrderState(values["state"])
    return OrderStep(**values)


class CheckStore(SqliteStore):
    STORE = "checks"
    MIGRATIONS = (Migration(1, "checklists, answers, work orders and their steps", _SCHEMA),
                  Migration(2, "work orders' category; places with a QR code; reports sent by scanning one", _PLACES),
                  Migration(3, "checklist templates edited on the page, every revision kept", _TEMPLATES),
                  Migration(4, "photos taken with a checklist's answers", _ANSWER_PHOTOS),
                  Migration(5, "places' scans; lines answered at a place; the scanned place on each answer",
                            _PLACE_LINES),
                  Migration(6, "lines sent back by a reviewer to be filled again", _REJECTIONS),
                  Migration(7, "a place's answered lines and work orders indexed by place", _PLACE_HISTORY))

    def _load(self, parents: str, args: Sequence[Any], parse: Callable[[Sequence[Any]], _P], children: str,
              child: Callable[[Sequence[Any]], _C], attach: Callable[[dict[int, _P], _C], None]) -> list[_P]:
        """Parent rows, then their child rows in one query (``children`` has ``{ids}`` for the ids' marks)."""
        with self._lock:
            found = [parse(row) for row in self._db.execute(parents, list(args))]
            by_id = {getattr(item, "id"): item for item in found}  # noqa: B009 - the parents' one shared field
            if by_id:
                query = children.format(ids=",".join("?" for _ in by_id))
                for row in self._db.execute(query, list(by_id)):
                    attach(by_id, child(row))
        return found

    def watch_since(self, now: float) -> float:
        """When the checks were first watched (set on the first call, kept after)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO check_meta (key, value) VALUES ('watch_since', ?)", [repr(now)])
            row = db.execute("SELECT value FROM check_meta WHERE key = 'watch_since'").fetchone()
        return float(row[0])

    # -- checklists ----------------------------------------------------------------------------

    def _runs(self, where: str, args: Sequence[Any]) -> list[CheckRun]:
        return self._load(
            f"SELECT {', '.join(_RUN_COLUMNS)} FROM check_runs WHERE {where} ORDER BY submitted_at, id",  # noqa: S608 - fixed text
            args, _run,
            f"SELECT {', '.join(_ANSWER_COLUMNS)} FROM check_answers"  # noqa: S608 - fixed text
            " WHERE run_id IN ({ids}) ORDER BY run_id, position",
            _answer, lambda runs, answer: runs[answer.run_id].answers.append(answer))

    def run(self, run_id: int) -> CheckRun | None:
        found = self._runs("id = ?", [run_id])
        return found[0] if found else None

    def find(self, template: str, period: str, answers: bool = True) -> CheckRun | None:
        """The period's checklist (``answers``: with its lines; a board listing hundreds needs only the run)."""
        if not answers:
            with self._lock:
                row = self._db.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM check_runs"  # noqa: S608 - fixed text
                                       " WHERE template = ? AND period = ?", [template, period]).fetchone()
            return _run(row) if row else None
        found = self._runs("template = ? AND period = ?", [template, period])
        return found[0] if found else None

    def brief(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CheckRun]:
        """The checklists on record of ``(template, period)`` pairs, without their lines nor their template (a board
        of hundreds of checklists needs who and when), each found through the (template, period) index."""
        columns = ", ".join("'' AS template_json" if c == "template_json" else c for c in _RUN_COLUMNS)
        query = f"SELECT {columns} FROM check_runs WHERE template = ? AND period = ?"  # noqa: S608 - fixed text
        found: dict[tuple[str, str], CheckRun] = {}
        with self._lock:
            for pair in dict.fromkeys(pairs):
                row = self._db.execute(query, list(pair)).fetchone()
                if row is not None:
                    found[pair] = _run(row)
        return found

    def by_request(self, request_id: str) -> CheckRun | None:
        found = self._runs("request_id = ?", [request_id])
        return found[0] if found else None

    def done(self, pairs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of ``(template, period)`` have a completed checklist."""
        with self._lock:
            return {(t, p) for t, p in pairs
                    if self._db.execute("SELECT 1 FROM check_runs WHERE template = ? AND period = ?",
                                        [t, p]).fetchone()}

    def submitted_between(self, since: float, until: float) -> list[CheckRun]:
        return self._runs("submitted_at >= ? AND submitted_at < ?", [since, until])

    def add_run(self, template: str, period: str, name: str, version: str, template_json: str, opened_at: float,
                submitted_at: float, submitted_by: str, too_fast: bool, late: bool, request_id: str | None,
                answers: Sequence[NewAnswer], orders: dict[str, NewOrder]) -> tuple[int, dict[str, int]]:
        """Store a checklist, its answers and the work orders its failed items open, in one transaction.

        Raises ``sqlite3.IntegrityError`` when the period's checklist is already on record.
        """
        failed = sum(1 for a in answers if a.item in orders)
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO check_runs (template, period, name, version, template_json, opened_at, submitted_at,"
                " submitted_by, too_fast, late, failed, request_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [template, period, name, version, template_json, opened_at, submitted_at, submitted_by,
                 int(too_fast), int(late), failed, request_id])
            run_id = int(cursor.lastrowid or 0)
            opened: dict[str, int] = {}
            for key, order in orders.items():
                opened[key] = self._insert_order(db, order, submitted_by, submitted_at, run_id)
            for position, a in enumerate(answers):
                db.execute(f"INSERT INTO check_answers ({', '.join(_ANSWER_COLUMNS)}, position)"  # noqa: S608
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           [run_id, a.item, a.answer, a.value, a.text, a.note, a.auto, a.evidence, int(a.overridden),
                            a.answered_by or submitted_by, submitted_at if a.answered_at is None else a.answered_at,
                            opened.get(a.item), json.dumps(list(a.photos)), a.scan_place, a.scanned_at, position])
            # The walk is over: its lines are now the checklist's answers.
            db.execute("DELETE FROM check_lines WHERE template = ? AND period = ?", [template, period])
        return run_id, opened

    # -- a place's history ---------------------------------------------------------------------

    def lines_at(self, place: str, limit: int = 50) -> list[PlaceLineDone]:
        """Lines of completed checklists answered at ``place``, newest first."""
        with self._lock:
            return [PlaceLineDone(row[0], row[1], row[2], row[3], row[4], Answer(row[5]) if row[5] else None,
                                  row[6], row[7]) for row in self._db.execute(
                "SELECT a.run_id, r.name, r.period, r.template_json, a.item, a.answer, a.answered_by, a.scanned_at"
                " FROM check_answers a JOIN check_runs r ON r.id = a.run_id WHERE a.scan_place = ?"
                " AND a.scan_place != '' ORDER BY a.scanned_at DESC LIMIT ?", [place, limit])]

    def orders_at(self, place: str, limit: int = 50) -> list[WorkOrder]:
        """Work orders at ``place``, newest first."""
        return self._orders("place = ?", [place], limit)

    # -- lines sent back by a reviewer ---------------------------------------------------------

    def reject(self, run_id: int, item: str, person: str, reason: str, actor: str, at: float,
               previous_json: str) -> int | None:
        """Send a line back; None when it is already waiting to be filled again."""
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT INTO answer_rejections (run_id, item, person, reason, rejected_by, rejected_at,"
                    " previous_json) VALUES (?,?,?,?,?,?,?)", [run_id, item, person, reason, actor, at, previous_json])
        except sqlite3.IntegrityError:
            return None
        return int(cursor.lastrowid or 0)

    def _rejections(self, where: str, args: Sequence[Any]) -> list[Rejection]:
        columns = "id, run_id, item, person, reason, rejected_by, rejected_at, previous_json, refilled_at"
        query = f"SELECT {columns} FROM answer_rejections WHERE {where} ORDER BY id"  # noqa: S608 - fixed text
        with self._lock:
            return [Rejection(*row) for row in self._db.execute(query, list(args))]

    def rejection(self, rejection_id: int) -> Rejection | None:
        found = self._rejections("id = ?", [rejection_id])
        return found[0] if found else None

    def open_rejections(self, person: str | None = None) -> list[Rejection]:
        """Lines waiting to be filled again (one person's, or everyone's), oldest first."""
        if person is None:
            return self._rejections("refilled_at IS NULL", [])
        return self._rejections("refilled_at IS NULL AND person = ?", [person])

    def rejections_of(self, run_id: int) -> list[Rejection]:
        return self._rejections("run_id = ?", [run_id])

    def refill(self, rejection: Rejection, answer: NewAnswer, at: float, order: NewOrder | None) -> int | None:
        """The line filled again by its person, in one transaction with closing the rejection (and the work order
        a new failure opens: its id). Raises ``LookupError`` when the rejection was no longer open."""
        with self.transaction() as db:
            cursor = db.execute("UPDATE answer_rejections SET refilled_at = ? WHERE id = ? AND refilled_at IS NULL",
                                [at, rejection.id])
            if cursor.rowcount != 1:
                raise LookupError(rejection.id)
            order_id = self._insert_order(db, order, rejection.person, at, rejection.run_id) if order else None
            db.execute("UPDATE check_answers SET answer = ?, value = ?, text = ?, note = ?, photos = ?,"
                       " answered_at = ?, order_id = COALESCE(?, order_id) WHERE run_id = ? AND item = ?",
                       [answer.answer, answer.value, answer.text, answer.note, json.dumps(list(answer.photos)), at,
                        order_id, rejection.run_id, rejection.item])
            # The checklist's count of failed lines follows the line: a refill may turn an ok into a fail or back.
            db.execute("UPDATE check_runs SET failed = (SELECT count(*) FROM check_answers WHERE run_id = ?"
                       " AND answer = ?) WHERE id = ?", [rejection.run_id, Answer.FAIL, rejection.run_id])
        return order_id

    # -- a walk in progress: scans of places and the lines answered there ------------------------

    def add_scan(self, place: Place, actor: str, at: float) -> PlaceScan:
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO place_scans (place_id, place, actor, at) VALUES (?,?,?,?)",
                                [place.id, place.name, actor, at])
        return PlaceScan(int(cursor.lastrowid or 0), place.id, place.name, actor, at)

    def scan(self, scan_id: int) -> PlaceScan | None:
        with self._lock:
            row = self._db.execute("SELECT id, place_id, place, actor, at FROM place_scans WHERE id = ?",
                                   [scan_id]).fetchone()
        return PlaceScan(*row) if row else None

    def scans_at(self, place_id: int, limit: int = 200) -> list[PlaceScan]:
        """A place's scans, newest first."""
        with self._lock:
            return [PlaceScan(*row) for row in self._db.execute(
                "SELECT id, place_id, place, actor, at FROM place_scans WHERE place_id = ? ORDER BY at DESC, id DESC"
                " LIMIT ?", [place_id, limit])]

    def put_lines(self, lines: Sequence[PlaceLine]) -> None:
        """Keep lines answered at a place (answered again at a later scan: the later answer stands)."""
        with self.transaction() as db:
            for line in lines:
                db.execute(f"INSERT OR REPLACE INTO check_lines ({', '.join(_LINE_COLUMNS)})"  # noqa: S608
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           [line.template, line.period, line.item, line.answer, line.value, line.text, line.note,
                            json.dumps(list(line.photos)), line.answered_by, line.answered_at, line.scan_id,
                            line.scan_place, line.scanned_at])

    def lines(self, template: str, period: str) -> dict[str, PlaceLine]:
        """The lines of a checklist in progress answered at their places, by item."""
        with self._lock:
            return {line.item: line for line in map(_line, self._db.execute(
                f"SELECT {', '.join(_LINE_COLUMNS)} FROM check_lines"  # noqa: S608 - fixed text
                " WHERE template = ? AND period = ?", [template, period]))}

    # -- work orders ---------------------------------------------------------------------------

    def _insert_order(self, db: sqlite3.Connection, order: NewOrder, actor: str, at: float,
                      run_id: int | None) -> int:
        cursor = db.execute(
            "INSERT INTO work_orders (title, place, text, urgency, state, reported_by, reported_at, due_at, run_id,"
            " item, category) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [order.title, order.place, order.text, order.urgency, OrderState.REPORTED, actor, at, order.due_at,
             run_id, order.item, order.category])
        order_id = int(cursor.lastrowid or 0)
        db.execute("INSERT INTO order_steps (order_id, ts, actor, action, state, note) VALUES (?,?,?,?,?,?)",
                   [order_id, at, actor, "report", OrderState.REPORTED, order.text])
        return order_id

    def add_order(self, order: NewOrder, actor: str, at: float) -> int:
        with self.transaction() as db:
            return self._insert_order(db, order, actor, at, None)

    def _orders(self, where: str, args: Sequence[Any], limit: int = 500,
                order: str = "reported_at DESC, id DESC") -> list[WorkOrder]:
        return self._load(
            f"SELECT {', '.join(_ORDER_COLUMNS)} FROM work_orders WHERE {where}"  # noqa: S608 - fixed text
            f" ORDER BY {order} LIMIT ?",
            [*args, limit], _order,
            f"SELECT {', '.join(_STEP_COLUMNS)} FROM order_steps WHERE order_id IN ({{ids}}) ORDER BY id",  # noqa: S608 - fixed text
            _step, lambda orders, step: orders[step.order_id].steps.append(step))

    def order(self, order_id: int) -> WorkOrder | None:
        found = self._orders("id = ?", [order_id])
        return found[0] if found else None

    def orders(self, states: Sequence[OrderState] | None = None, limit: int = 500) -> list[WorkOrder]:
        if not states:
            return self._orders("1 = 1", [], limit)
        marks = ",".join("?" for _ in states)
        return self._orders(f"state IN ({marks})", list(states), limit)

    def pressing(self, states: Sequence[OrderState], open_states: Sequence[OrderState], now: float,
                 limit: int) -> tuple[list[WorkOrder], int]:
        """Orders in ``states``, overdue first (an ``open_states`` one past its due time), then by due time;
        the first ``limit`` of them, and how many there are in all."""
        marks = ",".join("?" for _ in states)
        late = ",".join("?" for _ in open_states)
        found = self._orders(f"state IN ({marks})", [*states, *open_states, now], limit,
                             f"(state IN ({late}) AND due_at <= ?) DESC, due_at, reported_at DESC, id DESC")
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM work_orders WHERE state IN ({marks})",  # noqa: S608
                                     list(states)).fetchone()[0]
        return found, int(total)

    def orders_touched(self, since: float, until: float) -> list[WorkOrder]:
        """Orders reported, or with any step, in ``[since, until)`` (a week's report)."""
        return self._orders("id IN (SELECT order_id FROM order_steps WHERE ts >= ? AND ts < ?)", [since, until],
                            limit=100_000)

    def step(self, order_id: int, expected: OrderState, state: OrderState, actor: str, action: str, at: float,
             note: str, changes: dict[str, Any]) -> bool:
        """Move an order from ``expected`` to ``state`` with a step; False when it was no longer ``expected``."""
        allowed = {"assignee", "fix_note", "fixed_by", "fixed_at", "accepted_by", "accepted_at", "due_at"}
        assert set(changes) <= allowed, changes
        sets = "".join(f", {column} = ?" for column in changes)
        with self.transaction() as db:
            cursor = db.execute(f"UPDATE work_orders SET state = ?{sets} WHERE id = ? AND state = ?",  # noqa: S608
                                [state, *changes.values(), order_id, expected])
            if cursor.rowcount != 1:
                return False
            db.execute("INSERT INTO order_steps (order_id, ts, actor, action, state, note) VALUES (?,?,?,?,?,?)",
                       [order_id, at, actor, action, state, note])
        return True

    # -- places and their QR codes -------------------------------------------------------------

    def seed_places(self, names: Sequence[str], token: Callable[[], str], at: float) -> None:
        """Give the configured places a code, once (later changes are made on the page)."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM check_meta WHERE key = 'places_seeded'").fetchone():
                return
            for name in names:
                db.execute("INSERT OR IGNORE INTO places (name, token, created_by, created_at) VALUES (?,?,?,?)",
                           [name, token(), "", at])
            db.execute("INSERT INTO check_meta (key, value) VALUES ('places_seeded', ?)", [repr(at)])

    def add_place(self, name: str, token: str, actor: str, at: float) -> Place:
        """Raises ``sqlite3.IntegrityError`` when a place in use has that name."""
        with self.transaction() as db:
            cursor = db.execute("INSERT INTO places (name, token, created_by, created_at) VALUES (?,?,?,?)",
                                [name, token, actor, at])
        found = self.place(int(cursor.lastrowid or 0))
        assert found is not None
        return found

    def _places(self, where: str, args: Sequence[Any]) -> list[Place]:
        query = f"SELECT {', '.join(_PLACE_COLUMNS)} FROM places WHERE {where} ORDER BY id"  # noqa: S608 - fixed text
        with self._lock:
            return [Place(*row) for row in self._db.execute(query, list(args))]

    def place(self, place_id: int) -> Place | None:
        found = self._places("id = ?", [place_id])
        return found[0] if found else None

    def place_by_token(self, token: str) -> Place | None:
        found = self._places("token = ?", [token])
        return found[0] if found else None

    def places(self, retired: bool = False) -> list[Place]:
        return self._places("1 = 1" if retired else "retired_at IS NULL", [])

    def retire_place(self, place_id: int, actor: str, at: float) -> bool:
        with self.transaction() as db:
            cursor = db.execute("UPDATE places SET retired_by = ?, retired_at = ? WHERE id = ? AND retired_at IS NULL",
                                [actor, at, place_id])
        return cursor.rowcount == 1

    # -- reports sent by scanning a place's code without signing in ----------------------------

    def source_salt(self, make: Callable[[], str]) -> str:
        """The secret mixed into a reporter's address before it is kept (set once)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO check_meta (key, value) VALUES ('source_salt', ?)", [make()])
            row = db.execute("SELECT value FROM check_meta WHERE key = 'source_salt'").fetchone()
        return str(row[0])

    def add_scan_report(self, place_id: int, category: Category, text: str, source: str, at: float,
                        refuse: Callable[[ScanCounts], ScanRefusal | None]) -> tuple[int | None, ScanRefusal | None]:
        """Count what bounds the report and keep it unless ``refuse`` says why not, in one transaction.

        Returns ``(id, None)`` when kept, ``(None, refusal)`` when not.
        """
        hour_ago = at - 3600.0
        with self.transaction() as db:
            counts = ScanCounts(
                db.execute("SELECT COUNT(*) FROM scan_reports WHERE source = ? AND received_at > ?",
                           [source, hour_ago]).fetchone()[0],
                db.execute("SELECT COUNT(*) FROM scan_reports WHERE place_id = ? AND received_at > ?",
                           [place_id, hour_ago]).fetchone()[0],
                db.execute("SELECT COUNT(*) FROM scan_reports WHERE state = ?", [ScanState.PENDING]).fetchone()[0])
            refusal = refuse(counts)
            if refusal is not None:
                return None, refusal
            cursor = db.execute("INSERT INTO scan_reports (place_id, category, text, source, received_at, state)"
                                " VALUES (?,?,?,?,?,?)", [place_id, category, text, source, at, ScanState.PENDING])
        return int(cursor.lastrowid or 0), None

    def scan_reports(self, state: ScanState | None = ScanState.PENDING, limit: int = 200) -> list[ScanReport]:
        where, args = ("state = ?", [state]) if state is not None else ("1 = 1", [])
        query = (f"SELECT {', '.join(_SCAN_COLUMNS)} FROM scan_reports WHERE {where}"  # noqa: S608 - fixed text
                 " ORDER BY id LIMIT ?")
        with self._lock:
            return [_scan(row) for row in self._db.execute(query, [*args, limit])]

    def scan_report(self, report_id: int) -> ScanReport | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_SCAN_COLUMNS)} FROM scan_reports WHERE id = ?",  # noqa: S608
                                   [report_id]).fetchone()
        return _scan(row) if row else None

    def triage_scan(self, report_id: int, state: ScanState, actor: str, at: float, note: str,
                    order: NewOrder | None) -> int | None:
        """File a pending report as a work order (reported by ``actor``) or dismiss it, in one transaction.

        Returns the new order's id (0 when dismissed), or None when the report was no longer pending.
        """
        with self.transaction() as db:
            cursor = db.execute("UPDATE scan_reports SET state = ?, triaged_by = ?, triaged_at = ?, note = ?"
                                " WHERE id = ? AND state = ?",
                                [state, actor, at, note, report_id, ScanState.PENDING])
            if cursor.rowcount != 1:
                return None
            if order is None:
                return 0
            order_id = self._insert_order(db, order, actor, at, None)
            db.execute("UPDATE scan_reports SET order_id = ? WHERE id = ?", [order_id, report_id])
        return order_id

    # -- templates edited on the page ----------------------------------------------------------

    def save_template(self, key: str, template_json: str | None, actor: str, at: float) -> int:
        """Keep a new revision of template ``key`` (None: removed); returns its number."""
        with self.transaction() as db:
            row = db.execute("SELECT MAX(revision) FROM check_templates WHERE key = ?", [key]).fetchone()
            revision = int(row[0] or 0) + 1
            db.execute("INSERT INTO check_templates (key, revision, template_json, saved_by, saved_at)"
                       " VALUES (?,?,?,?,?)", [key, revision, template_json, actor, at])
        return revision

    def template_revisions(self, key: str | None = None) -> list[TemplateRevision]:
        """Every revision (of one template, or of all), oldest first."""
        where, args = ("key = ?", [key]) if key is not None else ("1 = 1", [])
        with self._lock:
            return [TemplateRevision(*row) for row in self._db.execute(
                f"SELECT key, revision, template_json, saved_by, saved_at FROM check_templates WHERE {where}"  # noqa: S608
                " ORDER BY key, revision", args)]

    def latest_templates(self) -> list[TemplateRevision]:
        """The newest revision of each template edited on the page."""
        with self._lock:
            return [TemplateRevision(*row) for row in self._db.execute(
                "SELECT key, revision, template_json, saved_by, saved_at FROM check_templates t"
                " WHERE revision = (SELECT MAX(revision) FROM check_templates WHERE key = t.key) ORDER BY key")]
