"""A write that fails half-way leaves nothing behind, and the store's connection keeps working.

The stores share one connection per file between threads: a transaction left open by
an error would make every later ``BEGIN`` fail ("cannot start a transaction within a
transaction"), i.e. the hub would stop storing anything until restarted.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.wire import SensorInfo
from hub.store.state import StateStore, UntimedReading


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "hub.sqlite3")
    yield store
    store.close()


def _unstorable_sensor() -> SensorInfo:
    """An announced sensor whose limit SQLite cannot bind: the write fails after the device row went in."""
    return SensorInfo.model_construct(sensor="fridge-1", kind="temperature", unit="°C", name="", profile="",
                                      low=object(), high=None)  # type: ignore[arg-type]


def test_a_failed_status_leaves_no_row_and_the_store_keeps_working(state: StateStore) -> None:
    with pytest.raises(Exception, match="binding"):
        state.record_status("s1", "dev-a", "online", "b1", "1.0", 1.0, 2.0, [_unstorable_sensor()])
    assert state.devices() == []  # the device row written before the failure was rolled back
    state.append_audit(3.0, "admin", "test.after", "x", {})  # a later transaction begins and commits
    state.record_status("s1", "dev-a", "online", "b1", "1.0", 1.0, 2.0, [])
    assert [d["device"] for d in state.devices()] == ["dev-a"]
    assert [e.action for e in state.audit_entries()] == ["test.after"]


def test_a_failed_batch_of_rows_keeps_the_store_working(state: StateStore) -> None:
    """An ``executemany`` that fails on its second row: the first is rolled back with it."""
    good = UntimedReading("dev-a", "b1", 1, 0, "dev-a/t0", 5.0, 0.0, 4.0, None, 10.0)
    bad = dataclasses.replace(good, seq=2, value=object())  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"binding|supported"):
        state.hold_untimed([good, bad])
    assert state.untimed() == []
    state.append_audit(3.0, "admin", "test.after", "x", {})
    assert len(state.audit_entries()) == 1


def test_an_error_inside_a_transaction_rolls_it_back(state: StateStore) -> None:
    with pytest.raises(KeyboardInterrupt), state.transaction() as db:  # any BaseException, not only errors
        db.execute("INSERT INTO devices (device, site) VALUES ('dev-x', 's1')")
        raise KeyboardInterrupt
    with state.transaction() as db:
        assert db.execute("SELECT count(*) FROM devices").fetchone() == (0,)
        db.execute("INSERT INTO devices (device, site) VALUES ('dev-y', 's1')")
    assert [d["device"] for d in state.devices()] == ["dev-y"]


def test_a_read_then_write_survives_another_connection_committing_between(state: StateStore,
                                                                          tmp_path: Path) -> None:
    """``hub.sqlite3`` is shared by the state and the accounts stores, each with its own connection.

    A transaction that read first and wrote second (pruning dead letters: count them, then
    delete them) began as a reader; when the other connection committed in between, SQLite
    refused the upgrade at once with "database is locked" — the busy timeout cannot help a
    reader whose snapshot is stale. Seen as the prune duty failing at a hub's start under load.
    Every store transaction now takes the write lock at BEGIN, so the other writer waits instead.
    """
    other = sqlite3.connect(tmp_path / "hub.sqlite3", timeout=0.2, isolation_level=None)
    try:
        with state.transaction() as db:
            db.execute("SELECT count(*) FROM dead_letters").fetchone()
            with pytest.raises(sqlite3.OperationalError, match="locked"):  # the other writer waits its turn
                other.execute("INSERT INTO devices (device, site) VALUES ('dev-other', 's1')")
            db.execute("DELETE FROM dead_letters")
        other.execute("INSERT INTO devices (device, site) VALUES ('dev-other', 's1')")  # and then goes ahead
    finally:
        other.close()
    assert [d["device"] for d in state.devices()] == ["dev-other"]
