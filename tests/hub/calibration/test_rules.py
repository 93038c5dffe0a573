"""The calibration maths: the offset a check proposes, pass or fail, where a probe stands, replacements."""

from __future__ import annotations

import pytest

from hub.calibration import rules
from hub.calibration.kinds import Standing
from hub.calibration.rules import Point

DAY = 86_400.0


def test_one_point_proposes_the_difference_and_passes_within_the_tolerance() -> None:
    found = rules.assess([Point(reference=0.0, probe=0.3)], old_offset=0.0, tolerance=0.5)
    assert found.correction == pytest.approx(-0.3)
    assert found.offset == pytest.approx(-0.3)
    assert found.passed and found.reason == ""


def test_the_new_offset_builds_on_the_one_in_force_when_the_probe_was_read() -> None:
    # The probe showed 4.4 with +0.2 in force; the reference says 4.0: the raw probe needs -0.2 in all.
    found = rules.assess([Point(4.0, 4.4)], old_offset=0.2, tolerance=0.5)
    assert found.offset == pytest.approx(-0.2)


def test_a_probe_off_by_more_than_the_tolerance_as_found_fails_but_can_be_corrected() -> None:
    found = rules.assess([Point(0.0, 1.2)], old_offset=0.0, tolerance=0.5)
    assert not found.passed and "as found" in found.reason
    assert rules.sendable(found.offset, found.residual)


def test_points_that_disagree_after_correction_fail_the_check() -> None:
    found = rules.assess([Point(0.0, 0.0), Point(40.0, 41.5)], old_offset=0.0, tolerance=0.5)
    assert found.correction == pytest.approx(-0.75)
    assert found.residual == pytest.approx(0.75)
    assert not found.passed and "points differ" in found.reason


def test_an_offset_beyond_what_a_node_applies_is_a_failed_probe_and_is_not_sent() -> None:
    found = rules.assess([Point(0.0, 6.0)], old_offset=0.0, tolerance=0.5)
    assert not found.passed and "replace the probe" in found.reason
    assert not rules.sendable(found.offset, found.residual)


def test_a_check_needs_a_point() -> None:
    with pytest.raises(ValueError):
        rules.assess([], 0.0, 0.5)


@pytest.mark.parametrize(("passed", "due_in_days", "expected"), [
    (None, None, Standing.NEVER),
    (False, 100, Standing.FAILED),
    (True, 100, Standing.OK),
    (True, 14, Standing.DUE_SOON),
    (True, 0, Standing.OVERDUE),
    (True, -3, Standing.OVERDUE),
])
def test_standing(passed: bool | None, due_in_days: float | None, expected: Standing) -> None:
    now = 1_800_000_000.0
    due = None if due_in_days is None else now + due_in_days * DAY
    assert rules.standing(passed, due, now, remind_s=14 * DAY) is expected


def test_a_replacement_is_when_the_current_probe_first_appeared_after_another() -> None:
    assert rules.replaced([]) is None
    assert rules.replaced([(1.0, "28-a"), (2.0, "28-a")]) is None
    assert rules.replaced([(1.0, "28-a"), (5.0, "28-b"), (9.0, "28-b")]) == (5.0, "28-a")
