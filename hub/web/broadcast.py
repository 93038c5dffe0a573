"""Fan-out of live changes to the open pages, without ever making ingest wait for a phone.

Publishers (the ingest writer thread, the alert engine, API threads) call
``publish``; it only appends to each subscriber's bounded buffer and wakes the
subscriber's event loop. A page whose buffer is full — a phone on a weak Wi-Fi that
stopped reading — is dropped, not waited for: its stream ends with a ``reset``
and the browser reconnects and reloads the page, which is the truth anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Buffered events per page before it counts as too slow and is dropped.
DEFAULT_QUEUE = 256


@dataclass(frozen=True)
class LiveEvent:
    """One server-sent event: its type (``alert``, ``reading``, ``door``, ``samples``) and JSON data."""

    kind: str
    data: dict[str, Any]
    id: int = 0

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` format."""
        body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), default=str)
        return f"id: {self.id}\nevent: {self.kind}\ndata: {body}\n\n".encode()


class Subscription:
    """One open page's buffer; filled by any thread, drained by the page's async stream."""

    def __init__(self, maxsize: int, wake: Callable[[], None]) -> None:
        self._buffer: deque[LiveEvent] = deque()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._wake = wake
        self.dropped = False

    def offer(self, event: LiveEvent) -> bool:
        """Buffer ``event``; False (and dropped for good) when the buffer is full."""
        with self._lock:
            if self.dropped:
                return False
            if len(self._buffer) >= self._maxsize:
                self.dropped = True
                self._buffer.clear()
            else:
                self._buffer.append(event)
        self._wake()
        return not self.dropped

    def drain(self) -> list[LiveEvent]:
        with self._lock:
            events = list(self._buffer)
            self._buffer.clear()
        return events

    def __len__(self) -> int:
        with self._lock:
            return len(self._buffer)


class Broadcaster:
    """The hub's live-event hub: subscribe a page, publish a change to every page."""

    def __init__(self, maxsize: int = DEFAULT_QUEUE) -> None:
        self._maxsize = maxsize
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.dropped_total = 0

    def subscribe(self, wake: Callable[[], None] = lambda: None) -> Subscription:
        subscription = Subscription(self._maxsize, wake)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Hand ``data`` to every page; never blocks on one (a full page is dropped)."""
        with self._lock:
            event = LiveEvent(kind, data, next(self._ids))
            targets = list(self._subscribers)
        for subscription in targets:
            if not subscription.offer(event):
                self.unsubscribe(subscription)
                with self._lock:
                    self.dropped_total += 1


def async_wake(loop: asyncio.AbstractEventLoop, ready: asyncio.Event) -> Callable[[], None]:
    """A wake-up that is safe to call from any thread, for a subscriber waiting on ``loop``."""

    def wake() -> None:
        # The loop may close between the check and the call (the page went away): nothing to wake then.
        with contextlib.suppress(RuntimeError):
            if not loop.is_closed():
                loop.call_soon_threadsafe(ready.set)

    return wake


class StreamSlots:
    """How many live streams each account, and all together, hold open: one account cannot take them all.

    Each open stream holds a connection, a file descriptor and a subscriber buffer for as
    long as the page is open; 1,000 streams opened with one cook's account once took the
    hub to its open-files limit. Callable from any thread.

    The slots also remember which credential (a digest of the token or session cookie)
    holds streams for which account, so that a request with that same credential, once
    its account is at the cap, can be refused before routing and sign-in
    (``refused_early``): under a thousand reconnecting stream requests the full path
    (routes, dependencies, the token lookup, the access log) was what kept
    ``/api/health`` waiting.
    """

    def __init__(self, per_account: int, total: int) -> None:
        self.per_account = per_account
        self.total = total
        self._held: dict[int, int] = {}
        #: credential digest -> (account, streams it holds)
        self._credentials: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def acquire(self, account: int, credential: str | None = None) -> str | None:
        """Take a slot for ``account``; None when taken, else why not (``"account"`` or ``"total"``)."""
        with self._lock:
            if self._held.get(account, 0) >= self.per_account:
                return "account"
            if sum(self._held.values()) >= self.total:
                return "total"
            self._held[account] = self._held.get(account, 0) + 1
            if credential is not None:
                _, count = self._credentials.get(credential, (account, 0))
                self._credentials[credential] = (account, count + 1)
        return None

    def release(self, account: int, credential: str | None = None) -> None:
        with self._lock:
            left = self._held.get(account, 0) - 1
            if left > 0:
                self._held[account] = left
            else:
                self._held.pop(account, None)
            if credential is not None and credential in self._credentials:
                _, count = self._credentials[credential]
                if count > 1:
                    self._credentials[credential] = (account, count - 1)
                else:
                    del self._credentials[credential]

    def refused_early(self, credential: str | None) -> str | None:
        """Why a new stream can be refused before anyone is signed in, or None to ask the route.

        ``"total"`` when every slot is taken (true whoever asks); ``"account"`` when this
        very credential holds streams and its account is at its cap. Refusing early never
        grants anything: a credential not seen holding a stream always goes the full way.
        """
        with self._lock:
            if sum(self._held.values()) >= self.total:
                return "total"
            holder = self._credentials.get(credential) if credential is not None else None
            if holder is not None and self._held.get(holder[0], 0) >= self.per_account:
                return "account"
        return None

    def held(self, account: int | None = None) -> int:
        """Streams open for ``account`` (all accounts: None)."""
        with self._lock:
            return sum(self._held.values()) if account is None else self._held.get(account, 0)
