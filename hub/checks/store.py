"""The checks record in SQLite (``checks.sqlite3`` in the hub's state directory).

Completed checklists with every answer (who, when, automatic or not, the evidence),
and the work orders with every step. A file of its own: it is a register a school keeps
for years and exports on its own terms, and its schema changes without touching the
hub's state store. What people did is also written to the hub's audit chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.checks.kinds import Answer, OrderState, Urgency
from hub.store.sqlite import Migration, SqliteStore

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

_RUN_COLUMNS = ("id", "template", "period", "name", "version", "template_json", "opened_at", "submitted_at",
                "submitted_by", "too_fast", "late", "failed", "request_id")
_ANSWER_COLUMNS = ("run_id", "item", "answer", "value", "text", "note", "auto", "evidence", "overridden",
                   "answered_by", "answered_at", "order_id")
_ORDER_COLUMNS = ("id", "title", "place", "text", "urgency", "state", "reported_by", "reported_at", "due_at",
                  "assignee", "fix_note", "fixed_by", "fixed_at", "accepted_by", "accepted_at", "run_id", "item")
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
    steps: list[OrderStep] = field(default_factory=list)


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


@dataclass(frozen=True)
class NewOrder:
    title: str
    place: str
    text: str
    urgency: Urgency
    due_at: float
    item: str = ""


def _run(row: Sequence[Any]) -> CheckRun:
    values = dict(zip(_RUN_COLUMNS, row, strict=True))
    for flag in ("too_fast", "late"):
        values[flag] = bool(values[flag])
    return CheckRun(**values)


def _answer(row: Sequence[Any]) -> ItemAnswer:
    values = dict(zip(_ANSWER_COLUMNS, row, strict=True))
    values["answer"] = Answer(values["answer"]) if values["answer"] is not None else None
    values["overridden"] = bool(values["overridden"])
    return ItemAnswer(**values)


def _order(row: Sequence[Any]) -> WorkOrder:
    values = dict(zip(_ORDER_COLUMNS, row, strict=True))
    values["urgency"] = Urgency(values["urgency"])
    values["state"] = OrderState(values["state"])
    return WorkOrder(**values)


def _step(row: Sequence[Any]) -> OrderStep:
    values = dict(zip(_STEP_COLUMNS, row, strict=True))
    values["state"] = OrderState(values["state"])
    return OrderStep(**values)


class CheckStore(SqliteStore):
    STORE = "checks"
    MIGRATIONS = (Migration(1, "checklists, answers, work orders and their steps", _SCHEMA),)

    def watch_since(self, now: float) -> float:
        """When the checks were first watched (set on the first call, kept after)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO check_meta (key, value) VALUES ('watch_since', ?)", [repr(now)])
            row = db.execute("SELECT value FROM check_meta WHERE key = 'watch_since'").fetchone()
        return float(row[0])

    # -- checklists ----------------------------------------------------------------------------

    def _runs(self, where: str, args: Sequence[Any]) -> list[CheckRun]:
        query = f"SELECT {', '.join(_RUN_COLUMNS)} FROM check_runs WHERE {where} ORDER BY submitted_at, id"  # noqa: S608 - fixed text
        with self._lock:
            runs = [_run(row) for row in self._db.execute(query, list(args))]
            by_id = {run.id: run for run in runs}
            if by_id:
                marks = ",".join("?" for _ in by_id)
                answers = (f"SELECT {', '.join(_ANSWER_COLUMNS)} FROM check_answers"  # noqa: S608 - fixed text
                           f" WHERE run_id IN ({marks}) ORDER BY run_id, position")
                for row in self._db.execute(answers, list(by_id)):
                    found = _answer(row)
                    by_id[found.run_id].answers.append(found)
        return runs

    def run(self, run_id: int) -> CheckRun | None:
        found = self._runs("id = ?", [run_id])
        return found[0] if found else None

    def find(self, template: str, period: str) -> CheckRun | None:
        found = self._runs("template = ? AND period = ?", [template, period])
        return found[0] if found else None

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
        with self.transaction(immediate=True) as db:
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
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           [run_id, a.item, a.answer, a.value, a.text, a.note, a.auto, a.evidence, int(a.overridden),
                            submitted_by, submitted_at, opened.get(a.item), position])
        return run_id, opened

    # -- work orders ---------------------------------------------------------------------------

    def _insert_order(self, db: sqlite3.Connection, order: NewOrder, actor: str, at: float,
                      run_id: int | None) -> int:
        cursor = db.execute(
            "INSERT INTO work_orders (title, place, text, urgency, state, reported_by, reported_at, due_at, run_id,"
            " item) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [order.title, order.place, order.text, order.urgency, OrderState.REPORTED, actor, at, order.due_at,
             run_id, order.item])
        order_id = int(cursor.lastrowid or 0)
        db.execute("INSERT INTO order_steps (order_id, ts, actor, action, state, note) VALUES (?,?,?,?,?,?)",
                   [order_id, at, actor, "report", OrderState.REPORTED, order.text])
        return order_id

    def add_order(self, order: NewOrder, actor: str, at: float) -> int:
        with self.transaction() as db:
            return self._insert_order(db, order, actor, at, None)

    def _orders(self, where: str, args: Sequence[Any], limit: int = 500) -> list[WorkOrder]:
        query = (f"SELECT {', '.join(_ORDER_COLUMNS)} FROM work_orders WHERE {where}"  # noqa: S608 - fixed text
                 " ORDER BY reported_at DESC, id DESC LIMIT ?")
        with self._lock:
            orders = [_order(row) for row in self._db.execute(query, [*args, limit])]
            by_id = {o.id: o for o in orders}
            if by_id:
                marks = ",".join("?" for _ in by_id)
                steps = (f"SELECT {', '.join(_STEP_COLUMNS)} FROM order_steps"  # noqa: S608 - fixed text
                         f" WHERE order_id IN ({marks}) ORDER BY id")
                for row in self._db.execute(steps, list(by_id)):
                    found = _step(row)
                    by_id[found.order_id].steps.append(found)
        return orders

    def order(self, order_id: int) -> WorkOrder | None:
        found = self._orders("id = ?", [order_id])
        return found[0] if found else None

    def orders(self, states: Sequence[OrderState] | None = None, limit: int = 500) -> list[WorkOrder]:
        if not states:
            return self._orders("1 = 1", [], limit)
        marks = ",".join("?" for _ in states)
        return self._orders(f"state IN ({marks})", list(states), limit)

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
        with self.transaction(immediate=True) as db:
            cursor = db.execute(f"UPDATE work_orders SET state = ?{sets} WHERE id = ? AND state = ?",  # noqa: S608
                                [state, *changes.values(), order_id, expected])
            if cursor.rowcount != 1:
                return False
            db.execute("INSERT INTO order_steps (order_id, ts, actor, action, state, note) VALUES (?,?,?,?,?,?)",
                       [order_id, at, actor, action, state, note])
        return True
