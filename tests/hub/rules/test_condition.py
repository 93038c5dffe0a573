from __future__ import annotations

from hub.rules.condition import ConditionState, Transition, elapse, step


def test_pending_fire_clear() -> None:
    state, t = step(ConditionState(), True, 100.0, 60.0)
    assert t is Transition.PENDING and state.since == 100.0
    state, t = step(state, True, 130.0, 60.0)
    assert t is None
    state, t = elapse(state, 159.0, 60.0)
    assert t is None
    state, t = elapse(state, 160.0, 60.0)
    assert t is Transition.FIRE and state.firing
    state, t = step(state, False, 200.0, 60.0)
    assert t is Transition.CLEAR and state == ConditionState(last_ts=200.0)


def test_cancelled_before_delay() -> None:
    state, _ = step(ConditionState(), True, 0.0, 60.0)
    state, t = step(state, False, 30.0, 60.0)
    assert t is Transition.CANCELLED and state.since is None


def test_immediate_fires_without_delay() -> None:
    _, t = step(ConditionState(), True, 0.0, 600.0, immediate=True)
    assert t is Transition.FIRE


def test_zero_delay_fires_at_once() -> None:
    _, t = step(ConditionState(), True, 0.0, 0.0)
    assert t is Transition.FIRE
