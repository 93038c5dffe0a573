"""The primitive every rule shares: a condition that must hold for a delay before it alarms.

A rule only decides whether its condition is true for a reading or at a moment
(outside the limits, door open, no data, device offline); this module decides when
that becomes an alarm and when the alarm is over. One implementation, so every kind
of alarm pends, fires, cancels and clears the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class Transition(enum.Enum):
    PENDING = "pending"  # the condition became true; the delay is running
    CANCELLED = "cancelled"  # it ended before the delay ran out: not an alarm
    FIRE = "fire"
    CLEAR = "clear"


@dataclass(frozen=True)
class ConditionState:
    #: When the condition became true (the observation's own time); None while false.
    since: float | None = None
    firing: bool = False
    #: Time of the latest observation applied; older ones arriving late are ignored.
    last_ts: float | None = None


def step(state: ConditionState, active: bool, ts: float, delay_s: float,
         immediate: bool = False) -> tuple[ConditionState, Transition | None]:
    """Apply one observation of the condition at time ``ts``."""
    if state.last_ts is not None and ts < state.last_ts:
        return state, None
    if not active:
        if state.firing:
            return ConditionState(last_ts=ts), Transition.CLEAR
        if state.since is not None:
            return ConditionState(last_ts=ts), Transition.CANCELLED
        return replace(state, last_ts=ts), None
    if state.firing:
        return replace(state, last_ts=ts), None
    since = state.since if state.since is not None else ts
    if immediate or ts - since >= delay_s:
        return ConditionState(since=since, firing=True, last_ts=ts), Transition.FIRE
    return ConditionState(since=since, last_ts=ts), (Transition.PENDING if state.since is None else None)


def elapse(state: ConditionState, now: float, delay_s: float) -> tuple[ConditionState, Transition | None]:
    """Let time pass without a new observation: a pending delay may run out."""
    if state.firing or state.since is None or now - state.since < delay_s:
        return state, None
    return replace(state, firing=True), Transition.FIRE
