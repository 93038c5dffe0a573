"""The checks record on its own: its schema version, one checklist per period, answers in template order,
work-order steps that only move from the state they were read in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.checks.kinds import Answer, Category, OrderState, Urgency
from hub.checks.store import CheckStore, NewAnswer, NewOrder


def _answer(item: str, answer: Answer = Answer.OK) -> NewAnswer:
    return NewAnswer(item, answer, None, "", "", None, "", False)


def _run(store: CheckStore, period: str, request_id: str | None = None,
         orders: dict[str, NewOrder] | None = None) -> tuple[int, dict[str, int]]:
    return store.add_run("night_round", period, "门卫夜间巡查", "v1", "{}", 100.0, 400.0, "zhao", False, False,
                         request_id, [_answer("windows"), _answer("gate"), _answer("alarm", Answer.FAIL)],
                         orders or {})


def test_schema_version_and_one_checklist_per_period(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "checks.sqlite3")
    try:
        run_id, _ = _run(store, "2026-10-12", "r-1")
        with pytest.raises(sqlite3.IntegrityError):
            _run(store, "2026-10-12", "r-2")
        run = store.run(run_id)
        assert run is not None and [a.item for a in run.answers] == ["windows", "gate", "alarm"]
        assert store.by_request("r-1") is not None and store.by_request("r-2") is None
        assert store.done([("night_round", "2026-10-12"), ("night_round", "2026-10-13")]) == {
            ("night_round", "2026-10-12")}
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "checks.sqlite3") as db:
        assert db.execute("SELECT version FROM schema_version WHERE store = 'checks'").fetchone() == (7,)


def test_a_schema_1_record_is_upgraded_in_place_and_its_orders_keep_their_steps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checks record from before places, template revisions and item photos: steps 2–4 run, nothing lost."""
    path = tmp_path / "checks.sqlite3"
    with monkeypatch.context() as schema_1:
        schema_1.setattr(CheckStore, "MIGRATIONS", CheckStore.MIGRATIONS[:1])
        first = CheckStore(path)
        with first.transaction() as db:
            db.execute("INSERT INTO work_orders (title, place, text, urgency, state, reported_by, reported_at,"
                       " due_at) VALUES ('门锁坏', '实验楼', '', 'normal', 'reported', 'li', 1.0, 2.0)")
        first.close()
    store = CheckStore(path)
    try:
        (order,) = store.orders()
        assert order.title == "门锁坏" and order.category is Category.OTHER
        assert store.places() == [] and store.latest_templates() == []
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version WHERE store = 'checks'").fetchone() == (7,)


def test_a_failed_answer_and_its_order_are_stored_together(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "checks.sqlite3")
    try:
        order = NewOrder("门卫夜间巡查：报警器", "门卫室", "报警器无电", Urgency.HIGH, 5000.0, "alarm")
        run_id, opened = _run(store, "2026-10-12", orders={"alarm": order})
        run = store.run(run_id)
        assert run is not None and run.failed == 1
        assert next(a for a in run.answers if a.item == "alarm").order_id == opened["alarm"]
        stored = store.order(opened["alarm"])
        assert stored is not None and stored.run_id == run_id and stored.state is OrderState.REPORTED
        assert [s.action for s in stored.steps] == ["report"]
    finally:
        store.close()


def test_a_step_moves_only_from_the_state_it_was_read_in(tmp_path: Path) -> None:
    store = CheckStore(tmp_path / "checks.sqlite3")
    try:
        order_id = store.add_order(NewOrder("门锁坏", "实验楼", "", Urgency.NORMAL, 9e9), "teacher", 10.0)
        assert store.step(order_id, OrderState.REPORTED, OrderState.ASSIGNED, "li", "assign", 20.0, "",
                          {"assignee": "zhang"})
        # A second person acting on the page they loaded before the change: refused, nothing written.
        assert not store.step(order_id, OrderState.REPORTED, OrderState.ASSIGNED, "wang", "assign", 21.0, "",
                              {"assignee": "wang"})
        found = store.order(order_id)
        assert found is not None and found.assignee == "zhang" and len(found.steps) == 2
        assert [o.id for o in store.orders_touched(15.0, 25.0)] == [order_id]
        assert store.orders_touched(30.0, 40.0) == []
    finally:
        store.close()
