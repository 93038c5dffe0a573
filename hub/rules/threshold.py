"""A value outside its limits for longer than a delay: the cold-chain alarm.

Why a delay: opening a fridge door for a delivery warms the air probe for a few
minutes; alarming on that trains the kitchen to ignore the buzzer. Why hysteresis:
a freezer hovering at its limit would otherwise fire and clear every reading. Why a
hard limit: a fridge at 15 °C is not a door opening, and must alarm at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hub.alerts.kinds import Severity
from hub.rules.condition import ConditionState, Transition, elapse, step

__all__ = ["Limits", "ThresholdState", "Transition", "on_time", "on_value"]


@dataclass(frozen=True)
class Limits:
    low: float | None
    high: float | None
    delay_s: float = 900.0
    #: Once firing, the value must be back inside by this margin before the alarm clears.
    hysteresis: float = 0.5
    hard_low: float | None = None
    hard_high: float | None = None
    severity: Severity = Severity.CRITICAL

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

    def stricter(self, other: Limits) -> Limits:
        """The tighter of two bands, side by side: what an excursion is judged by after an edit.

        An excursion keeps the limits in force when it began; an edit made during it may
        tighten them but never loosen them, so changing a number cannot end an alarm.
        """
        def low(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else max(a, b)

        def high(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        return Limits(low=low(self.low, other.low), high=high(self.high, other.high),
                      delay_s=min(self.delay_s, other.delay_s), hysteresis=max(self.hysteresis, other.hysteresis),
                      hard_low=low(self.hard_low, other.hard_low), hard_high=high(self.hard_high, other.hard_high),
                      severity=self.severity if self.severity.rank >= other.severity.rank else other.severity)

    def breached(self, value: float) -> float | None:
        """The limit a value is beyond, for messages ("9.4 °C, limit 8 °C")."""
        if self.high is not None and value > self.high:
            return self.high
        if self.low is not None and value < self.low:
            return self.low
        return None


@dataclass(frozen=True)
class ThresholdState:
    condition: ConditionState = field(default_factory=ConditionState)
    #: The value furthest from the limits during this excursion.
    peak: float | None = None
    last_value: float | None = None

    @property
    def out_since(self) -> float | None:
        return self.condition.since

    @property
    def firing(self) -> bool:
        return self.condition.firing


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
    # Firing, the alarm holds until the value is back inside by the hysteresis margin.
    active = not limits.inside_with_margin(value) if state.firing else limits.outside(value)
    condition, transition = step(state.condition, active, ts, limits.delay_s, immediate=limits.beyond_hard(value))
    if condition == state.condition and transition is None and condition.last_ts == state.condition.last_ts:
        return state, None  # a late, older reading
    if condition.since is None:
        return ThresholdState(condition, None, value), transition
    peak = _further(limits, state.peak, value) if limits.outside(value) else state.peak
    return ThresholdState(condition, peak, value), transition


def on_time(limits: Limits, state: ThresholdState, now: float) -> tuple[ThresholdState, Transition | None]:
    """Let the delay run out without a new reading (a probe that reports every few minutes)."""
    condition, transition = elapse(state.condition, now, limits.delay_s)
    return (replace(state, condition=condition), transition) if transition else (state, None)
