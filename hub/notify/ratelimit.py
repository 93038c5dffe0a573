"""Token buckets that keep each channel under its provider's rate, so a bot is never blocked.

WeCom and DingTalk group bots accept about 20 messages a minute and then refuse
everything for about ten minutes — during an alarm storm, the worst moment. A
bucket of ``burst`` tokens refilled at ``per_minute`` lets through at most
``burst + per_minute`` messages in any 60 s window, so the bot defaults
(15/min, burst 5) stay at 20. Messages that find the bucket empty wait in the
dispatcher's queue and are merged, never sent over the limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TokenBucket:
    per_minute: float
    burst: float
    tokens: float | None = None
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs per_minute > 0 and burst >= 1")

    def _refill(self, now: float) -> float:
        if self.tokens is None or self.updated is None:
            self.tokens, self.updated = self.burst, now
        elapsed = max(0.0, now - self.updated)  # a clock stepping back must not mint tokens
        self.tokens = min(self.burst, self.tokens + elapsed * self.per_minute / 60.0)
        self.updated = max(self.updated, now)
        return self.tokens

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0: one is available now)."""
        tokens = self._refill(now)
        return 0.0 if tokens >= 1 else (1 - tokens) * 60.0 / self.per_minute

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        if self._refill(now) < 1:
            return False
        assert self.tokens is not None
        self.tokens -= 1
        return True

    def max_in_window(self, window_s: float = 60.0) -> float:
        """The most messages any window of ``window_s`` can see (for documentation and config checks)."""
        return self.burst + self.per_minute * window_s / 60.0
