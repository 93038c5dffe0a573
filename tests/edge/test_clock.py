from __future__ import annotations

import json

import pytest

from edge.clock import STAMP_BACKSTEP_MS, distinct_stamp, reanchor_delta, reanchor_payload


def test_reanchor_uses_the_monotonic_clock() -> None:
    # Written at boot: wall said 1970 + 100 s, monotonic 50 s. Now NTP set the wall
    # clock: wall 1_800_000_000 at monotonic 250 s. The reading was taken 200 s ago.
    delta = reanchor_delta(written_wall=100.0, written_mono=50.0, now_wall=1_800_000_000.0, now_mono=250.0)
    assert 100.0 + delta == 1_800_000_000.0 - 200.0


def test_only_unsynced_items_are_shifted_and_marked() -> None:
    payload = json.dumps({"device": "d", "boot_id": "b", "seq": 1, "readings": [
        {"sensor": "a", "ts": 100.0, "clock_synced": False},
        {"sensor": "b", "ts": 500.0, "clock_synced": True}]}).encode()
    result = json.loads(reanchor_payload(payload, 1000.0))
    assert result["readings"][0] == {"sensor": "a", "ts": 1100.0, "clock_synced": True, "reanchored": True}
    assert result["readings"][1] == {"sensor": "b", "ts": 500.0, "clock_synced": True}


def test_a_synced_stamp_in_the_last_ones_millisecond_moves_one_past_it_with_its_monotonic_time() -> None:
    first = distinct_stamp(1_795_257_000.1002, 40.0, True, None)
    assert first == (1_795_257_000_100, 40_000)
    assert distinct_stamp(1_795_257_000.1004, 40.2, True, first) == (1_795_257_000_101, 40_201)


@pytest.mark.parametrize("back_ms", [1, 250, STAMP_BACKSTEP_MS - 1])
def test_a_synced_stamp_slightly_behind_the_last_moves_past_it(back_ms: int) -> None:
    last = (1_795_257_000_500, 10_000)
    assert distinct_stamp((last[0] - back_ms) / 1000, 10.1, True, last) == (last[0] + 1, 10_100 + back_ms + 1)


def test_a_later_synced_stamp_and_a_clock_stepped_far_back_are_kept() -> None:
    last = (1_795_257_000_500, 10_000)
    assert distinct_stamp((last[0] + 100) / 1000, 10.1, True, last) == (last[0] + 100, 10_100)
    stepped = last[0] - STAMP_BACKSTEP_MS
    assert distinct_stamp(stepped / 1000, 10.1, True, last) == (stepped, 10_100)


def test_an_unsynced_stamp_moves_by_its_monotonic_time_not_its_wall_time() -> None:
    # Before NTP the hub re-stamps from the monotonic time: two ticks 0.2 ms apart whose wall times
    # fall in two milliseconds still share a monotonic millisecond, and are moved apart by that.
    first = distinct_stamp(86_400.1004, 40.2002, False, None)
    assert first == (86_400_100, 40_200)
    assert distinct_stamp(86_400.1006, 40.2004, False, first) == (86_400_102, 40_201)
    # A wall clock stepped back does not push an unsynced reading's time (its monotonic time) on.
    assert distinct_stamp(86_399.9, 40.3, False, first) == (86_399_900, 40_300)
