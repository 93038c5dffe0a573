from __future__ import annotations

import pytest

from hub.rules.escalation import Policy, Tier, due_tiers

POLICY = Policy((Tier(0, "canteen"), Tier(600, "manager"), Tier(1800, "safety")), repeat_every_s=300)


@pytest.mark.parametrize(("acked", "notified", "last", "now", "expected"), [
    (False, -1, None, 0, [0]),  # fires: tier 0 at once
    (False, 0, 0, 299, []),  # nothing new, no repeat yet
    (False, 0, 0, 300, [0]),  # repeat to the staff
    (False, 0, 300, 600, [1]),  # 10 min unacknowledged: the manager
    (False, 1, 600, 899, []),
    (False, 1, 600, 900, [1]),  # repeat at the highest tier reached
    (False, 1, 1500, 1800, [2]),  # 30 min: the safety officer
    (True, 0, 0, 5000, []),  # acknowledged: silence
    (False, -1, None, 2000, [0, 1, 2]),  # a late start (e.g. after a silence) reaches every tier due
])
def test_due_tiers(acked: bool, notified: int, last: float | None, now: float, expected: list[int]) -> None:
    assert due_tiers(POLICY, 0.0, acked, notified, last, now) == expected


def test_no_repeat_policy() -> None:
    once = Policy((Tier(0, "admin"),), repeat_every_s=None)
    assert due_tiers(once, 0.0, False, 0, 0.0, 10_000) == []
