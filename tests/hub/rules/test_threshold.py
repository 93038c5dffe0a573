"""Table-driven: a sequence of (time, value) through the rule, with the transitions expected."""

from __future__ import annotations

import pytest

from hub.rules.threshold import Limits, ThresholdState, Transition, on_time, on_value

FRIDGE = Limits(low=0.0, high=8.0, delay_s=900, hysteresis=0.5, hard_high=15.0)

P, C, F, X = Transition.PENDING, Transition.CANCELLED, Transition.FIRE, Transition.CLEAR


def run(limits: Limits, steps: list[tuple[float, float]]) -> tuple[ThresholdState, list[Transition | None]]:
    state = ThresholdState()
    seen = []
    for ts, value in steps:
        state, transition = on_value(limits, state, value, ts)
        seen.append(transition)
    return state, seen


@pytest.mark.parametrize(("steps", "expected"), [
    # a door opening: out for five minutes, back inside: pending then cancelled, never fired
    ([(0, 4), (60, 9), (360, 9.5), (420, 6)], [None, P, None, C]),
    # a real excursion: fires once the delay has passed, clears only with margin
    ([(0, 9), (600, 9.5), (900, 10), (960, 7.8), (1020, 7.4)], [P, None, F, None, X]),
    # the hard limit alarms at once
    ([(0, 4), (60, 16)], [None, F]),
    # below the low limit works the same way
    ([(0, -1), (900, -1)], [P, F]),
    # exactly on the limit is inside
    ([(0, 8.0), (1000, 8.0)], [None, None]),
])
def test_transitions(steps: list[tuple[float, float]], expected: list[Transition | None]) -> None:
    assert run(FRIDGE, steps)[1] == expected


def test_flapping_around_the_limit_fires_at_most_once() -> None:
    steps = [(0.0, 9.0), (900.0, 9.0)] + [(900.0 + 30 * i, 8.1 if i % 2 else 7.9) for i in range(1, 100)]
    _, transitions = run(FRIDGE, steps)
    assert transitions.count(F) == 1
    assert X not in transitions  # 7.9 is inside, but not by the 0.5 margin


def test_delay_runs_out_without_new_readings() -> None:
    state, _ = run(FRIDGE, [(0, 9)])
    assert on_time(FRIDGE, state, 899)[1] is None
    fired, transition = on_time(FRIDGE, state, 900)
    assert transition is F and fired.firing
    assert on_time(FRIDGE, fired, 2000)[1] is None  # fires once


def test_peak_tracks_the_worst_value() -> None:
    state, _ = run(FRIDGE, [(0, 9), (900, 12), (1000, 10)])
    assert state.peak == 12


def test_late_old_reading_is_ignored() -> None:
    state, _ = run(FRIDGE, [(100, 9)])
    later, transition = on_value(FRIDGE, state, 4.0, 50)
    assert transition is None and later == state
