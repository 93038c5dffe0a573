"""What a tile shows for a value: in range, too warm, too cold, a probe fault — pure functions of the limits."""

from __future__ import annotations

from hub.rules.threshold import Limits

#: Reading states, worst last; each has a colour *and* a word and an icon on the page.
READING_STATES = ("ok", "unknown", "low", "high", "fault")


def reading_state(value: float | None, fault: str | None, limits: Limits | None) -> str:
    """``fault`` for a probe fault, ``high``/``low`` outside the limits, ``ok`` inside, ``unknown`` without value."""
    if fault:
        return "fault"
    if value is None:
        return "unknown"
    if limits is None:
        return "ok"
    if limits.high is not None and value > limits.high:
        return "high"
    if limits.low is not None and value < limits.low:
        return "low"
    return "ok"


def sparkline_points(values: list[tuple[float, float]], since: float, until: float, width: int = 120,
                     height: int = 32, band: tuple[float | None, float | None] = (None, None)) -> str:
    """SVG polyline points for (ts, value) pairs scaled into width × height; the limits stay in view."""
    if not values or until <= since:
        return ""
    low, high = band
    numbers = [v for _, v in values] + [b for b in (low, high) if b is not None]
    bottom, top = min(numbers), max(numbers)
    span = (top - bottom) or 1.0
    pad = 2
    points = []
    for ts, value in values:
        x = (ts - since) / (until - since) * width
        y = pad + (top - value) / span * (height - 2 * pad)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def band_y(limit: float | None, values: list[tuple[float, float]], band: tuple[float | None, float | None],
           height: int = 32) -> float | None:
    """Where a limit line sits in the sparkline drawn by ``sparkline_points`` (None: no line)."""
    if limit is None or not values:
        return None
    numbers = [v for _, v in values] + [b for b in band if b is not None]
    bottom, top = min(numbers), max(numbers)
    span = (top - bottom) or 1.0
    pad = 2
    return round(pad + (top - limit) / span * (height - 2 * pad), 1)
