from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox
from edge.wire import Channel


def put(outbox: Outbox, channel: Channel, seq: int, readings: int = 1) -> None:
    outbox.put(channel, f'{{"seq":{seq}}}'.encode(), "boot", seq, mono=float(seq), wall=1000.0 + seq,
               synced=True, readings=readings if channel is Channel.TELEMETRY else 0)


def test_messages_come_back_in_order_until_deleted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    for seq in range(1, 6):
        put(outbox, Channel.TELEMETRY, seq)
    rows = outbox.peek(0, 3)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert [r.seq for r in outbox.peek(rows[-1].id, 10)] == [4, 5]
    outbox.delete([rows[0].id, rows[1].id])
    assert outbox.depth() == 3
    assert [r.seq for r in outbox.peek(0, 10)] == [3, 4, 5]


def test_contents_survive_reopening(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    put(outbox, Channel.EVENT, 1)
    put(outbox, Channel.TELEMETRY, 2)
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite3")
    assert reopened.depth() == 2
    assert [(r.channel, r.seq, r.wall) for r in reopened.peek(0, 10)] == [
        (Channel.EVENT, 1, 1001.0), (Channel.TELEMETRY, 2, 1002.0)]


def test_full_outbox_drops_oldest_readings_never_events_and_counts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_messages=10)
    put(outbox, Channel.EVENT, 1)
    for seq in range(2, 16):
        put(outbox, Channel.TELEMETRY, seq, readings=3)
    put(outbox, Channel.EVENT, 16)
    seqs = [r.seq for r in outbox.peek(0, 100)]
    assert outbox.depth() == 10 == len(seqs)
    assert seqs[0] == 1 and seqs[-1] == 16  # both events kept
    assert seqs[1:-1] == list(range(8, 16))  # the newest readings kept
    assert outbox.dropped() == 6 * 3


def test_an_outbox_of_only_events_keeps_them_past_the_bound(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", max_messages=10)
    for seq in range(1, 16):
        put(outbox, Channel.EVENT, seq)
    assert outbox.depth() == 15
    assert outbox.dropped() == 0
