from __future__ import annotations

import json

from edge.clock import reanchor_delta, reanchor_payload


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
