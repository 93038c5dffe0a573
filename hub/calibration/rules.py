"""The calibration maths, pure: what a check proposes, whether it passes, where a probe stands.

A check compares what the probe showed (with the offset then in force) with the
reference at one or more points. The probe's error at a point is reference − probe;
their mean is the correction, and the new offset is the old one plus the correction,
so after it the probe reads the reference on average. The check passes when the probe
was within the tolerance *as found* (the readings since the last check were right),
every point is within the tolerance after the correction (the probe is linear enough
to be corrected by an offset), and the new offset stays within ±``MAX_OFFSET`` °C (a
probe that far off is broken: it is replaced, and the node would refuse the offset).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge.wire import MAX_OFFSET
from hub.calibration.kinds import Standing

#: Reference readings beyond these are not of a kitchen (nor of a DS18B20, -55…125 °C).
LOWEST_C = -60.0
HIGHEST_C = 130.0
#: Points one check may have.
MAX_POINTS = 10


@dataclass(frozen=True)
class Point:
    """One comparison: the reference thermometer and the probe (as shown, offset in force) at the same time."""

    reference: float
    probe: float

    @property
    def error(self) -> float:
        return self.reference - self.probe


@dataclass(frozen=True)
class Assessment:
    """What a check found and proposes."""

    #: Mean of reference − probe: how far off the probe read as found.
    correction: float
    #: The offset in force when the probe was read, and the one the check proposes.
    old_offset: float
    offset: float
    #: Largest distance of a point from the reference after the correction.
    residual: float
    passed: bool
    #: Why it failed (empty when it passed).
    reason: str


def assess(points: Sequence[Point], old_offset: float, tolerance: float) -> Assessment:
    """Assess a check's points against the tolerance (at least one point)."""
    if not points:
        raise ValueError("a check needs at least one point")
    correction = sum(p.error for p in points) / len(points)
    offset = round(old_offset + correction, 3)
    residual = max(abs(p.error - correction) for p in points)
    reasons = []
    if abs(correction) > tolerance:
        reasons.append(f"off by {correction:+.2f} °C as found (tolerance ±{tolerance:g} °C)")
    if residual > tolerance:
        reasons.append(f"points differ by up to {residual:.2f} °C after correction")
    if abs(offset) > MAX_OFFSET:
        reasons.append(f"offset {offset:+.2f} °C beyond ±{MAX_OFFSET:g} °C: replace the probe")
    return Assessment(round(correction, 3), old_offset, offset, round(residual, 3), not reasons, "; ".join(reasons))


#: Points further apart than this after correction are not a probe an offset can fix.
SENDABLE_RESIDUAL = 2.0


def sendable(offset: float, residual: float) -> bool:
    """Whether a check's offset goes to the node: within the node's bounds, and a probe an offset can correct."""
    return abs(offset) <= MAX_OFFSET and residual <= SENDABLE_RESIDUAL


def average(values: Sequence[float]) -> float | None:
    """The mean of a window's values (None for none)."""
    return round(sum(values) / len(values), 3) if values else None


def standing(passed: bool | None, next_due: float | None, now: float, remind_s: float) -> Standing:
    """Where a probe stands: its last check's result and due date (``None``: never checked)."""
    if passed is None or next_due is None:
        return Standing.NEVER
    if not passed:
        return Standing.FAILED
    if now >= next_due:
        return Standing.OVERDUE
    if now >= next_due - remind_s:
        return Standing.DUE_SOON
    return Standing.OK


def replaced(probes: Sequence[tuple[float, str]]) -> tuple[float, str] | None:
    """When the current probe (the last hardware id, oldest first) replaced another, and the other's id."""
    if not probes:
        return None
    current = probes[-1][1]
    for index in range(len(probes) - 2, -1, -1):
        if probes[index][1] != current:
            return probes[index + 1][0], probes[index][1]
    return None
