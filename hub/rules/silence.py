"""Silences and maintenance windows: when an alarm is recorded but nobody is woken.

A freezer's nightly defrost (02:00–02:30) or Saturday cleaning warms the probe on
schedule; alarming on it every night teaches staff to ignore the buzzer. A silence
never hides the record: the alert is still raised and kept, and if it is still
firing when the window ends, it is notified then.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
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


def end_problem(silence: Silence, now: float, max_s: float) -> str | None:
    """Why a silence set by a person may not be in force as asked (None: it may).

    Every such silence ends, at most ``max_s`` after it begins: a forgotten silence is
    an alarm system that no longer alarms. A daily window is no exception — it needs an
    end date too (the config file's maintenance windows are the safety officer's own).
    """
    days = max_s / 86400
    if silence.ends_at is None:
        return (f"a silence must end: give ends_at, at most {days:g} days after it begins"
                f" · 暂停提醒必须有结束时间（最长 {days:g} 天），每天的时段也要填写结束日期")
    begins = max(silence.starts_at if silence.starts_at is not None else now, now)
    if silence.ends_at <= now:
        return "ends_at is already past · 结束时间已过"
    if silence.ends_at - begins > max_s:
        return (f"a silence may last at most {days:g} days (set by the safety officer)"
                f" · 暂停提醒最长 {days:g} 天（由安全员设定）")
    return None


#: The two kinds of duty a silence can hold back: the kitchen's cold chain and the gate house.
CANTEEN, GATE = "canteen", "gate"


def covers_everything(pattern: str) -> bool:
    """A subject glob with no name in it (``*``, ``*/*``): it silences every device of every duty."""
    return not any(c.isalnum() for c in pattern)


def reach(silence: Silence, gate_rules: frozenset[str], gate_subjects: Iterable[str],
          other_subjects: Iterable[str]) -> frozenset[str]:
    """Which duties a silence holds back: ``gate`` and/or ``canteen``.

    A duty is reached when the silence's rules include one of that duty (or it has none)
    and its subject matches one of that duty's known subjects; rules of one duty alone
    reach that duty whatever the subject (a gate rule silenced on ``canteen-1/*`` still
    is the gate's business). Whoever sets it must hold the permission for each.
    """
    gate_rule = not silence.rules or bool(silence.rules & gate_rules)
    other_rule = not silence.rules or bool(silence.rules - gate_rules)
    found: set[str] = set()
    if gate_rule and ((silence.rules and not other_rule)
                      or any(fnmatch.fnmatchcase(s, silence.subject) for s in gate_subjects)):
        found.add(GATE)
    if other_rule and ((silence.rules and not gate_rule)
                       or any(fnmatch.fnmatchcase(s, silence.subject) for s in other_subjects)):
        found.add(CANTEEN)
    return frozenset(found)


def silencing(silences: list[Silence], rule: str, subject: str, now: float, tz: ZoneInfo) -> Silence | None:
    """The silence that holds back notifications of this alert now, if any."""
    return next((s for s in silences if s.matches(rule, subject) and s.active_at(now, tz)), None)
