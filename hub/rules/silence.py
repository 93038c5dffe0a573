"""Silences and maintenance windows: when an alarm is recorded but nobody is woken.

A freezer's nightly defrost (02:00–02:30) or Saturday cleaning warms the probe on
schedule; alarming on it every night teaches staff to ignore the buzzer. A silence
never hides the record: the alert is still raised and kept, and if it is still
firing when the window ends, it is notified then.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class DailyWindow:
    """A window on the local clock, every day or on some weekdays; may cross midnight."""

    start: time
    end: time
    #: Weekdays the window *begins* on (Monday = 0); None for every day.
    weekdays: frozenset[int] | None = None

    def contains(self, local: datetime) -> bool:
        now = local.time()
        if self.start <= self.end:
            inside, began_on = self.start <= now < self.end, local.weekday()
        elif now >= self.start:  # e.g. 23:30–00:30, before midnight
            inside, began_on = True, local.weekday()
        else:  # after midnight: the window began yesterday
            inside, began_on = now < self.end, (local.weekday() - 1) % 7
        return inside and (self.weekdays is None or began_on in self.weekdays)


@dataclass(frozen=True)
class Silence:
    #: Glob over the alert subject (``canteen-1/freezer-1``, ``canteen-1/*``, ``*``).
    subject: str
    #: Rules it applies to; empty for all.
    rules: frozenset[str] = frozenset()
    starts_at: float | None = None
    ends_at: float | None = None
    window: DailyWindow | None = None
    reason: str = ""
    id: int | None = None

    def matches(self, rule: str, subject: str) -> bool:
        return (not self.rules or rule in self.rules) and fnmatch.fnmatchcase(subject, self.subject)

    def active_at(self, now: float, tz: ZoneInfo) -> bool:
        if self.starts_at is not None and now < self.starts_at:
            return False
        if self.ends_at is not None and now >= self.ends_at:
            return False
        return self.window is None or self.window.contains(datetime.fromtimestamp(now, tz))


def silencing(silences: list[Silence], rule: str, subject: str, now: float, tz: ZoneInfo) -> Silence | None:
    """The silence that holds back notifications of this alert now, if any."""
    return next((s for s in silences if s.matches(rule, subject) and s.active_at(now, tz)), None)
