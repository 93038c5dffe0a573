"""A value outside its limits for longer than a delay: the cold-chain alarm.

Why a delay: opening a fridge door for a delivery warms the air probe for a few
minutes; alarming on that trains the kitchen to ignore the buzzer. Why hysteresis:
a freezer hovering at its limit would otherwise fire and clear every reading. Why a
hard limit: a fridge at 15 °C is not a door opening, and must alarm at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Limits:
    low: float | None
    high: float | None
    delay_s: float = 900.0
    #: Once firing, the value must be back inside by this margin before the alarm clears.
    hysteresis: float = 0.5
    hard_low: float | None = None
    hard_high: float | None = None
    severity: str = "critical"

    def outside(self, value: float) -> bool:
        return (self.high is not None and value > self.high) or (self.low is not None and value < self.low)

    def beyond_hard(self, value: float) -> bool:
        return (self.hard_high is not None and value >= self.hard_high) or (
            self.hard_low is not None and value <= self.hard_low
        )

    def inside_with_margin(self, value: float) -> bool:
        return (self.high is None or value <= self.high - self.hysteresis) and (
            self.low is None or value >= self.low + self.hysteresis
        )

    def breached(self, value: float) -> float | None:
        """The limit a value is beyond, for messages ("9.4 °C, limit 8 °C")."""
        if self.high is not None and value > self.high:
            return self.high
        if self.low is not None and value < self.low:
            return self.low
        return None


@dataclass(frozen=True)
class ThresholdState:
    #: When the value first went outside (reading time); None while inside.
    out_since: float | None = None
    firing: bool = False
    #: The value furthest from the limits during this excursion.
    peak: float | None = None
    last_value: float | None = None
    last_ts: float | None = None


class Transition(enum.Enum):
    PENDING = "pending"  # went outside; the delay is running
    CANCELLED = "cancelled"  # came back before the delay ran out: not an alarm
    FIRE = "fire"
    CLEAR = "clear"


def _further(limits: Limits, peak: float | None, value: float) -> float:
    if peak is None:
        return value
    if limits.high is not None and value > limits.high:
        return max(peak, value)
    return min(peak, value)


def on_value(
    limits: Limits, state: ThresholdState, value: float, ts: float
) -> tuple[ThresholdState, Transition | None]:
    """Apply one reading."""
    if state.last_ts is not None and ts < state.last_ts:
        return state, None  # an older reading replayed late must not move the excursion back
    seen = replace(state, last_value=value, last_ts=ts)
    if state.firing:
        if limits.inside_with_margin(value):
            return ThresholdState(last_value=value, last_ts=ts), Transition.CLEAR
        return replace(seen, peak=_further(limits, state.peak, value) if limits.outside(value) else state.peak), None
    if not limits.outside(value):
        if state.out_since is not None:
            return ThresholdState(last_value=value, last_ts=ts), Transition.CANCELLED
        return seen, None
    out_since = state.out_since if state.out_since is not None else ts
    peak = _further(limits, state.peak, value)
    if limits.beyond_hard(value) or ts - out_since >= limits.delay_s:
        return replace(seen, out_since=out_since, firing=True, peak=peak), Transition.FIRE
    transition = Transition.PENDING if state.out_since is None else None
    return replace(seen, out_since=out_since, peak=peak), transition


def on_time(limits: Limits, state: ThresholdState, now: float) -> tuple[ThresholdState, Transition | None]:
    """Let the delay run out without a new reading (a probe that reports every few minutes)."""
    if state.firing or state.out_since is None or now - state.out_since < limits.delay_s:
        return state, None
    return replace(state, firing=True), Transition.FIRE
