"""Workers sharing one state database: claims, the rule feed and the progress watermark.

Two ``StateStore`` objects on one file are two connections, as two worker processes have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import wire
from edge.wire import MessageId
from hub.scaleout import FeedBatch, RulesLock
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import StateStore


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[StateStore, StateStore]]:
    a, b = StateStore(tmp_path / "hub.sqlite3"), StateStore(tmp_path / "hub.sqlite3")
    yield a, b
    a.close()
    b.close()


def ids(*seqs: int) -> list[MessageId]:
    return [MessageId("dev-a", "boot-1", seq) for seq in seqs]


def test_an_id_is_claimed_by_one_worker_and_queued_once(pair: tuple[StateStore, StateStore]) -> None:
    a, b = pair
    bodies: list[set[MessageId]] = []

    def feed(claimed: set[MessageId]) -> str | None:
        bodies.append(claimed)
        return f"{len(claimed)} claimed" if claimed else None

    assert a.claim_ingest(ids(1, 2, 3), 10.0, [], [], feed, "w-a", 9.0) == set(ids(1, 2, 3))
    # The other worker got copies of 2 and 3 (an edge replay) and a new 4.
    assert b.claim_ingest(ids(2, 3, 4), 10.5, [], [], feed, "w-b", 9.5) == set(ids(4))
    assert b.claim_ingest(ids(2, 3), 11.0, [], [], feed, "w-b", 10.0) == set()
    assert bodies == [set(ids(1, 2, 3)), set(ids(4)), set()]
    assert [body for _, body in a.feed(received_before=100.0)] == ["3 claimed", "1 claimed"]
    assert a.unseen(ids(1, 2, 3, 4, 5)) == set(ids(5))


def test_a_failed_claim_leaves_nothing_behind(pair: tuple[StateStore, StateStore]) -> None:
    a, _ = pair

    def broken(_claimed: set[MessageId]) -> str | None:
        raise ValueError("cannot encode")

    with pytest.raises(ValueError, match="cannot encode"):
        a.claim_ingest(ids(1), 10.0, [], [], broken, "w-a", 9.0)
    assert a.unseen(ids(1)) == set(ids(1)) and a.feed_backlog() == 0
    assert a.watermark(10.0, 5.0) is None


def test_the_watermark_waits_for_the_slowest_live_worker(pair: tuple[StateStore, StateStore]) -> None:
    a, b = pair
    a.mark_progress("w-a", 100.0, 100.0)
    b.mark_progress("w-b", 98.0, 100.0)
    assert a.watermark(101.0, 5.0) == 98.0
    a.mark_progress("w-a", 99.0, 101.0)  # progress never goes back
    b.mark_progress("w-b", 102.0, 102.0)
    assert a.watermark(102.0, 5.0) == 100.0
    # w-a stops reporting: after the stale time the rules stop waiting for it.
    assert a.watermark(106.5, 5.0) == 102.0
    b.forget_worker("w-b")
    assert a.watermark(106.5, 5.0) is None


def _fixed(body: str) -> Callable[[set[MessageId]], str | None]:
    return lambda _claimed: body


def test_feed_entries_are_taken_by_receive_time_and_deleted_when_done(pair: tuple[StateStore, StateStore]) -> None:
    a, b = pair
    for n, (store, worker, received) in enumerate([(a, "w-a", 5.0), (b, "w-b", 3.0), (a, "w-a", 8.0)]):
        store.claim_ingest(ids(n), 10.0, [], [], _fixed(f"batch {n}"), worker, received)
    due = a.feed(received_before=6.0)
    assert [body for _, body in due] == ["batch 0", "batch 1"]
    a.feed_done([entry for entry, _ in due])
    assert [body for _, body in b.feed(received_before=100.0)] == ["batch 2"]


def test_feed_batches_round_trip() -> None:
    health = wire.Health(device="dev-a", boot_id="boot-1", ts=1.0, uptime_s=5.0, outbox_depth=2, dropped=0,
                         clock_synced=True, inputs={"door": "open"})
    batch = FeedBatch(
        readings=[StoredReading("dev-a/t0", 1.5, 4.25), StoredReading("dev-a/t1", 1.5, None, "crc", False)],
        events=[StoredEvent("dev-a", "boot 1", 7, 2.0, "dev-a/door", "door", "open", '{"who": "门卫"}')],
        health=[("dev-a", health, 3.0)], sensors_announced=True)
    body = batch.encode()
    assert body is not None
    merged = FeedBatch()
    merged.extend(body)
    merged.extend(body)
    assert merged.readings == batch.readings * 2 and merged.events == batch.events * 2
    assert merged.health == batch.health * 2 and merged.sensors_announced
    assert FeedBatch().encode() is None


def test_one_holder_of_the_rules_lock(tmp_path: Path) -> None:
    first, second = RulesLock(tmp_path / "rules.lock"), RulesLock(tmp_path / "rules.lock")
    assert first.held and not second.held
    first.release()
    third = RulesLock(tmp_path / "rules.lock")
    assert third.held
    third.release()
    second.release()
