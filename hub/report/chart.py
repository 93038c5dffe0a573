"""A cold unit's week as a vector chart: hourly min–max band, mean line, the limit band and door-open marks.

Drawn with reportlab's graphics shapes (no plotting library), so it prints crisply
and the PDF stays small. The limit band is shaded green; readings outside it stand out
against it. Door openings are orange ticks along the bottom edge, where a rise after
an opening is easy to see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors

from hub.report.model import ChartPoint

_BAND = colors.Color(0.85, 0.95, 0.85)
_RANGE = colors.Color(0.70, 0.80, 0.95)
_MEAN = colors.Color(0.10, 0.25, 0.60)
_DOOR = colors.Color(0.95, 0.55, 0.10)
_GRID = colors.Color(0.8, 0.8, 0.8)


def chart(points: Sequence[ChartPoint], low: float | None, high: float | None, door_opens: Sequence[float],
          start: float, end: float, tz: ZoneInfo, font: str, width: float, height: float) -> Drawing:
    """The drawing for one unit over ``[start, end)``."""
    drawing = Drawing(width, height)
    left, bottom, right, top = 30.0, 14.0, width - 4.0, height - 4.0
    values = [v for p in points for v in (p.min, p.max)] + [v for v in (low, high) if v is not None]
    y_lo, y_hi = (min(values), max(values)) if values else (0.0, 10.0)
    pad = max(1.0, (y_hi - y_lo) * 0.1)
    y_lo, y_hi = y_lo - pad, y_hi + pad

    def x(ts: float) -> float:
        return left + (right - left) * (ts - start) / (end - start)

    def y(value: float) -> float:
        return bottom + (top - bottom) * (value - y_lo) / (y_hi - y_lo)

    drawing.add(Rect(left, bottom, right - left, top - bottom, fillColor=None, strokeColor=_GRID, strokeWidth=0.5))
    if low is not None or high is not None:
        band_lo = y(max(low, y_lo)) if low is not None else bottom
        band_hi = y(min(high, y_hi)) if high is not None else top
        drawing.add(Rect(left, band_lo, right - left, band_hi - band_lo, fillColor=_BAND, strokeColor=None))
    for limit in (low, high):
        if limit is not None:
            drawing.add(Line(left, y(limit), right, y(limit), strokeColor=colors.green, strokeWidth=0.6,
                             strokeDashArray=[2, 2]))
            drawing.add(String(right - 2, y(limit) + 1.5, f"{limit:g} °C", fontName=font, fontSize=6,
                               textAnchor="end", fillColor=colors.green))
    day = dt.datetime.fromtimestamp(start, tz).date()
    while (midnight := dt.datetime.combine(day, dt.time(0), tz).timestamp()) < end:
        if midnight > start:
            drawing.add(Line(x(midnight), bottom, x(midnight), top, strokeColor=_GRID, strokeWidth=0.3))
        label_at = x(min(midnight + 43_200, end - 1))
        drawing.add(String(label_at, 4, f"{day.month}/{day.day}", fontName=font, fontSize=6, textAnchor="middle"))
        day += dt.timedelta(days=1)
    for value in (y_lo + pad, y_hi - pad):
        drawing.add(String(left - 2, y(value) - 2.5, f"{value:.1f}", fontName=font, fontSize=6, textAnchor="end"))
    # The min–max band and the mean, broken where an hour has no readings.
    for run in _runs(points):
        xs = [x(p.hour + 1800) for p in run]
        if len(run) > 1:
            outline = [c for xi, p in zip(xs, run, strict=True) for c in (xi, y(p.max))]
            outline += [c for xi, p in zip(reversed(xs), reversed(run), strict=True) for c in (xi, y(p.min))]
            drawing.add(Polygon(outline, fillColor=_RANGE, strokeColor=None))
            drawing.add(PolyLine([c for xi, p in zip(xs, run, strict=True) for c in (xi, y(p.mean))],
                                 strokeColor=_MEAN, strokeWidth=0.8))
        else:
            drawing.add(Line(xs[0], y(run[0].min), xs[0], y(run[0].max), strokeColor=_MEAN, strokeWidth=0.8))
    for ts in door_opens:
        if start <= ts < end:
            drawing.add(Line(x(ts), bottom, x(ts), bottom + 5, strokeColor=_DOOR, strokeWidth=0.7))
    return drawing


def _runs(points: Sequence[ChartPoint]) -> list[list[ChartPoint]]:
    runs: list[list[ChartPoint]] = []
    for point in points:
        if runs and point.hour - runs[-1][-1].hour <= 3600:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs
