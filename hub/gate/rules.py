"""Gate duty's rules as pure functions of the calendar, the config and what was observed.

No I/O here: the monitor feeds in events, visits and alerts and acts on the answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.alerts.kinds import Severity
from hub.calendar import Opening, SchoolCalendar, openings_of
from hub.gate.config import GateConfig, RouteConfig

#: States of a tamper switch that mean "intact again".
TAMPER_CLEAR = frozenset({"ok", "clear", "cleared", "closed", "normal", "restored"})


def severity(config: GateConfig, calendar: SchoolCalendar, at: float) -> Severity:
    """A gate opened, lost or tampered with at night is more serious than by day."""
    return config.night_severity if calendar.is_night(at) else config.day_severity


def after_hours(calendar: SchoolCalendar, group: str, at: float) -> bool:
    """Whether a gate of ``group`` open at ``at`` is outside every opening window (the event's own time)."""
    return calendar.opening_at(group, at) is None


def next_opening(calendar: SchoolCalendar, group: str, at: float, horizon_days: int = 14) -> Opening | None:
    """The current window if ``at`` is in one, else the next to begin (within ``horizon_days``)."""
    current = calendar.opening_at(group, at)
    if current is not None:
        return current
    local = dt.datetime.fromtimestamp(at, calendar.tz)
    for offset in range(horizon_days + 1):
        for opening in calendar.openings(group, local.date() + dt.timedelta(days=offset)):
            if opening.start > local:
                return opening
    return None


def resolve_checkpoint(config: GateConfig, tag: str, sensor: str) -> str | None:
    """The checkpoint a read belongs to: the tag fixed there, else the reader or button installed there."""
    wanted = tag.upper()
    if wanted:
        for name, checkpoint in config.checkpoints.items():
            if any(t.upper() == wanted for t in checkpoint.tags):
                return name
    for name, checkpoint in config.checkpoints.items():
        if sensor in checkpoint.sensors:
            return name
    return None


@dataclass(frozen=True)
class RoundWindow:
    route: str
    opening: Opening
    night: bool


def round_windows(route_name: str, route: RouteConfig, calendar: SchoolCalendar, day: dt.date) -> list[RoundWindow]:
    """The round windows of a route that begin on ``day``."""
    if route.days == "school_days" and not calendar.is_school_day(day):
        return []
    found = [RoundWindow(route_name, o, False) for o in openings_of(route.day_rounds, day, calendar.tz)]
    found += [RoundWindow(route_name, o, True) for o in openings_of(route.night_rounds, day, calendar.tz)]
    return sorted(found, key=lambda w: w.opening.start)


def rounds_ending(route_name: str, route: RouteConfig, calendar: SchoolCalendar, since: float,
                  until: float) -> list[RoundWindow]:
    """Round windows whose end falls in (since, until]: the ones to judge now."""
    start = dt.datetime.fromtimestamp(since, calendar.tz)
    end = dt.datetime.fromtimestamp(until, calendar.tz)
    found: list[RoundWindow] = []
    day = start.date() - dt.timedelta(days=1)
    while day <= end.date():
        found.extend(w for w in round_windows(route_name, route, calendar, day) if start < w.opening.end <= end)
        day += dt.timedelta(days=1)
    return sorted(found, key=lambda w: w.opening.end)


def missing_checkpoints(route: RouteConfig, window: Opening, visits: Iterable[tuple[float, str | None]]) -> list[str]:
    """Checkpoints of the route not visited within the window (empty: a complete round)."""
    visited = {checkpoint for ts, checkpoint in visits
               if checkpoint is not None and window.start.timestamp() <= ts < window.end.timestamp()}
    return [c for c in route.checkpoints if c not in visited]


def gates_not_closed(states: dict[str, str | None]) -> list[str]:
    """Gates to alarm on at a closing sweep: those known to be open (unknown is reported, not alarmed)."""
    return sorted(key for key, state in states.items() if state is not None and state != "closed")


# -- acknowledging with a reason ------------------------------------------------------------------

#: The reason that says "none of the listed ones": it needs words of its own, and never becomes a suggestion.
OTHER_REASON = "other"


def ack_reason_refusal(reason: str, text: str) -> tuple[str, str] | None:
    """Why an acknowledgement of a gate alarm cannot be taken as given: (field, message), or None.

    A gate alarm is acknowledged with a reason someone chose: none is preselected, so an
    empty one means nobody chose. "Other" needs the words that say what it was.
    """
    if not reason.strip():
        return "reason", ("choose why the gate was open (delivery, event, maintenance …)"
                          " · 请选择开门原因（送货、活动、维修……）")
    if reason.strip() == OTHER_REASON and not text.strip():
        return "text", "with the reason 'other', say what it was · 选择“其他”时请写明原因"
    return None


# -- recurring acknowledged reasons → calendar overrides -------------------------------------------


@dataclass(frozen=True)
class AckedOpening:
    """An acknowledged after-hours opening, as the suggestion rule needs it."""

    alert_id: int
    subject: str
    group: str
    reason: str
    at: float


@dataclass
class Suggestion:
    group: str
    subject: str
    reason: str
    start: dt.time
    end: dt.time
    days: str
    alert_ids: list[int] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """A ready-to-post override (POST /api/calendar/overrides)."""
        return {"kind": "extra_window", "groups": [self.group], "days": self.days, "reason": self.reason,
                "windows": [{"start": self.start.isoformat("minutes"), "end": self.end.isoformat("minutes")}]}


def _minute(ts: float, calendar: SchoolCalendar) -> int:
    local = dt.datetime.fromtimestamp(ts, calendar.tz)
    return local.hour * 60 + local.minute


def _clock(minute: int) -> dt.time:
    minute %= 1440
    return dt.time(minute // 60, minute % 60)


def suggest_overrides(openings: Sequence[AckedOpening], calendar: SchoolCalendar, now: float,
                      min_count: int = 3, within_s: float = 14 * 86400.0, tolerance_min: int = 30,
                      margin_min: int = 15) -> list[Suggestion]:
    """Recurring after-hours openings acknowledged for the same reason: candidates for an extra window.

    Same gate, same reason, at least ``min_count`` times on different days within
    ``within_s``, all within ``tolerance_min`` of the same local time. The window
    suggested spans them with ``margin_min`` either side, on 5-minute marks; an
    opening the calendar now already allows does not count (it was handled).
    """
    by_key: dict[tuple[str, str], list[AckedOpening]] = {}
    for item in openings:
        reason = item.reason.strip().lower()
        if reason and now - within_s <= item.at <= now and calendar.opening_at(item.group, item.at) is None:
            by_key.setdefault((item.subject, reason), []).append(item)
    found: list[Suggestion] = []
    for (subject, reason), items in sorted(by_key.items()):
        best: list[tuple[int, AckedOpening]] = []
        for anchor in items:
            a = _minute(anchor.at, calendar)
            near = [(((_minute(i.at, calendar) - a + 720) % 1440) - 720, i) for i in items]
            cluster = [(offset, i) for offset, i in near if abs(offset) <= tolerance_min]
            dates = {dt.datetime.fromtimestamp(i.at, calendar.tz).date() for _, i in cluster}
            if len(dates) >= min_count and len(cluster) > len(best):
                best = [(offset + a, i) for offset, i in cluster]
        if not best:
            continue
        low = (min(m for m, _ in best) - margin_min) // 5 * 5
        high = -(-(max(m for m, _ in best) + margin_min) // 5) * 5
        day_types = {calendar.is_school_day(dt.datetime.fromtimestamp(i.at, calendar.tz).date()) for _, i in best}
        days = "every_day" if len(day_types) > 1 else ("school_day" if True in day_types else "other_day")
        found.append(Suggestion(best[0][1].group, subject, reason, _clock(low), _clock(high), days,
                                sorted(i.alert_id for _, i in best)))
    return found
