"""A clock a test moves, on Beijing time: the one the hub's components are given instead of ``time.time``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def local_time(text: str) -> dt.datetime:
    """The aware datetime of a Beijing-time ``YYYY-MM-DD HH:MM``."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def local(text: str) -> float:
    """Epoch seconds of a Beijing-time ``YYYY-MM-DD HH:MM``."""
    return local_time(text).timestamp()


class Clock:
    """Callable like ``time.time``; ``set`` moves it to a Beijing-time ``YYYY-MM-DD HH:MM``."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def set(self, text: str) -> float:
        self.now = local(text)
        return self.now
