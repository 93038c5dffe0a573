"""Get each notification out: grouping, per-channel rate limits, fallback, a log line per attempt.

The dispatcher is synchronous and clock-driven: ``submit`` only queues, ``pump``
sends what is due, and the clock is injected, so tests drive it second by second
without sleeping. ``DispatchWorker`` runs ``pump`` on a thread for the hub, so a
slow modem or bot never holds up ingest.

Policy, in the order it applies:

* Grouping: the first notification of an incident (tier + incident key) goes out
  at once; further ones within ``group_window_s`` of that send wait and leave as
  one merged message at the end of the window — unless one is more severe than
  what was sent, which goes at once.
* Always-channels of a route (buzzer, web page) each get every message once.
* Fallback-channels are tried in order until one delivers. A channel whose
  token bucket is empty holds the message (it is never sent over the limit);
  messages held together for a tier leave as one digest. A hold longer than
  ``max_rate_wait_s`` skips to the next channel instead.
* When every fallback channel failed, the message is retried every ``retry_s``
  and abandoned (logged, ``on_undeliverable``) after ``give_up_s``.
* A channel going from working to failing calls ``on_channel_failure`` once, and
  ``on_channel_recovered`` when it delivers again, so the engine can raise and
  clear an alert about the channel itself.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hub.alerts.kinds import Severity
from hub.notify.base import Channel, DeliveryResult, Notification
from hub.notify.deliverylog import DeliveryAttempt, DeliveryLog
from hub.notify.messages import digest, merge_same_incident
from hub.notify.ratelimit import TokenBucket

_LOGGER = logging.getLogger(__name__)


ChannelFailure = Callable[[str, str], None]
ChannelRecovered = Callable[[str], None]
Undeliverable = Callable[[Notification, str], None]
GroupKey = tuple[str, str]


@dataclass(frozen=True)
class Route:
    """The channels of one escalation tier: all of ``always``, then the first of ``fallback`` that works."""

    tier: str
    fallback: tuple[Channel, ...]
    always: tuple[Channel, ...] = ()


@dataclass
class _Pending:
    key: GroupKey
    notifications: list[Notification]
    due: float
    first_queued: float
    #: Incidents folded into a digest: their grouping windows restart when it is sent.
    absorbed: set[GroupKey] = field(default_factory=set)
    always_done: bool = False

    def message(self) -> Notification:
        return merge_same_incident(self.notifications)


class Dispatcher:
    def __init__(self, routes: Iterable[Route], log: DeliveryLog, *,
                 rate_limits: Mapping[str, TokenBucket] | None = None,
                 group_window_s: float = 120.0, retry_s: float = 60.0, give_up_s: float = 3600.0,
                 max_rate_wait_s: float = 120.0, clock: Callable[[], float] = time.time,
                 on_channel_failure: ChannelFailure | None = None,
                 on_channel_recovered: ChannelRecovered | None = None,
                 on_undeliverable: Undeliverable | None = None) -> None:
        self._routes = {route.tier: route for route in routes}
        self._log = log
        self._buckets = dict(rate_limits or {})
        self._window = group_window_s
        self._retry = retry_s
        self._give_up = give_up_s
        self._max_rate_wait = max_rate_wait_s
        self._clock = clock
        self._on_failure = on_channel_failure
        self._on_recovered = on_channel_recovered
        self._on_undeliverable = on_undeliverable
        self._lock = threading.Lock()
        self._pump_lock = threading.Lock()
        self._queue: dict[GroupKey, _Pending] = {}
        self._last_sent: dict[GroupKey, tuple[float, Severity]] = {}
        self._failing: dict[str, str] = {}
        self._digests = itertools.count(1)

    @property
    def tiers(self) -> list[str]:
        return list(self._routes)

    def submit(self, notification: Notification) -> None:
        """Queue a notification (thread-safe, never blocks on a channel); ``pump`` sends it."""
        now = self._clock()
        if notification.tier not in self._routes:
            error = f"no route for tier {notification.tier!r} (routes: {', '.join(self._routes)})"
            _LOGGER.error("notification for alert %s dropped: %s", notification.alert_id, error)
            self._record(now, "-", notification, "abandoned", error)
            self._call(self._on_undeliverable, notification, error)
            return
        key = (notification.tier, notification.incident_key)
        with self._lock:
            pending = self._queue.get(key)
            last = self._last_sent.get(key)
            if pending is not None:
                pending.notifications.append(notification)
                if last is None or _worse(notification.severity, last[1]):
                    pending.due = min(pending.due, now)
                return
            if last is None or now - last[0] >= self._window or _worse(notification.severity, last[1]):
                due = now
            else:
                due = last[0] + self._window
            self._queue[key] = _Pending(key, [notification], due=due, first_queued=now)

    def hand_over(self, successor: Dispatcher) -> int:
        """Give what is still queued (and when each incident was last sent) to the dispatcher that replaces this one.

        Channels, routes or a rota changed on the admin page build a new dispatcher; an alarm
        waiting for its grouping window, a rate slot or a retry must not be lost with the
        old one. A message whose route no longer exists is abandoned there, logged. What a
        channel has spent of its rate goes over too: an edit in the middle of an alarm
        storm must not refill a bot's bucket and get it blocked for ten minutes.
        """
        with self._lock:
            queued = [n for pending in self._queue.values() for n in pending.notifications]
            last_sent = dict(self._last_sent)
            self._queue.clear()
        with successor._lock:
            for key, value in last_sent.items():
                successor._last_sent.setdefault(key, value)
            for name, spent in self._buckets.items():
                kept = successor._buckets.get(name)
                if kept is not None and spent.tokens is not None:
                    kept.tokens, kept.updated = min(spent.tokens, kept.burst), spent.updated
        for notification in queued:
            successor.submit(notification)
        return len(queued)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def next_due(self) -> float | None:
        """When ``pump`` next has something to do (``None``: nothing queued)."""
        with self._lock:
            return min((p.due for p in self._queue.values()), default=None)

    def failing_channels(self) -> dict[str, str]:
        """Channels whose last attempt failed, with that error."""
        with self._lock:
            return dict(self._failing)

    def pump(self) -> int:
        """Send everything due now; returns how many messages were delivered."""
        with self._pump_lock:
            now = self._clock()
            with self._lock:
                due = sorted((p for p in self._queue.values() if p.due <= now), key=lambda p: (p.due, p.first_queued))
                for item in due:
                    del self._queue[item.key]
                    # Mark the incident as sent now, so that what arrives while we send waits for the window.
                    sent = self._last_sent.get(item.key)
                    self._last_sent[item.key] = (now, sent[1] if sent else item.message().severity)
            delivered = 0
            by_tier: dict[str, list[_Pending]] = {}
            for item in due:
                by_tier.setdefault(item.key[0], []).append(item)
            for tier, tier_items in by_tier.items():
                route = self._routes[tier]
                items = list(tier_items)
                while items:
                    item = items.pop(0)
                    outcome = self._attempt(route, item, now)
                    if outcome == "sent":
                        delivered += 1
                    elif outcome == "deferred" and items:
                        item = self._fold(route, item, items, now)
                        items = []
                    if outcome in ("deferred", "failed"):
                        self._requeue(item)
            return delivered

    def _fold(self, route: Route, held: _Pending, others: list[_Pending], now: float) -> _Pending:
        """Messages waiting for the same rate-limited route leave as one digest."""
        for other in others:  # the buzzer and the page are not rate-limited: each incident gets them now
            if not other.always_done:
                for channel in route.always:
                    self._send(channel, other.message(), now)
                other.always_done = True
        parts = [held, *others]
        message = digest([p.message() for p in parts])
        key = (held.key[0], f"digest#{next(self._digests)}")
        absorbed = {k for p in parts for k in (p.absorbed or {p.key})}
        return _Pending(key, [message], due=held.due, first_queued=min(p.first_queued for p in parts),
                        absorbed=absorbed, always_done=True)

    def _requeue(self, item: _Pending) -> None:
        with self._lock:
            newer = self._queue.get(item.key)
            if newer is not None:
                item.notifications.extend(newer.notifications)
                item.due = min(item.due, newer.due)
            self._queue[item.key] = item

    def _attempt(self, route: Route, item: _Pending, now: float) -> str:
        message = item.message()
        if not item.always_done:
            for channel in route.always:
                self._send(channel, message, now)
            item.always_done = True
        errors: list[str] = []
        for channel in route.fallback:
            bucket = self._buckets.get(channel.name)
            if bucket is not None:
                wait = bucket.wait(now)
                if wait > 0:
                    self._record(now, channel.name, message, "deferred", f"rate limit: next slot in {wait:.0f} s")
                    if wait <= self._max_rate_wait:
                        item.due = now + wait
                        return "deferred"
                    errors.append(f"{channel.name}: rate limited")
                    continue
                bucket.take(now)
            result = self._send(channel, message, now)
            if result.ok:
                for key in item.absorbed or {item.key}:
                    with self._lock:
                        self._last_sent[key] = (now, message.severity)
                return "sent"
            errors.append(f"{channel.name}: {result.error}")
        error = "; ".join(errors) or "route has no fallback channel"
        if now - item.first_queued >= self._give_up:
            self._record(now, "-", message, "abandoned", error)
            _LOGGER.error("giving up on notification for alerts %s: %s", message.alert_ids, error)
            self._call(self._on_undeliverable, message, error)
            return "abandoned"
        self._record(now, "-", message, "undeliverable", error)
        item.due = now + self._retry
        return "failed"

    def _send(self, channel: Channel, message: Notification, now: float) -> DeliveryResult:
        try:
            result = channel.send(message)
        except Exception as error:  # a channel must return failures; a raise is one too
            _LOGGER.exception("channel %s raised", channel.name)
            result = DeliveryResult.failure(f"{type(error).__name__}: {error}")
        self._record(now, channel.name, message, "sent" if result.ok else "failed", result.error, result.latency_s)
        with self._lock:
            was_failing = channel.name in self._failing
            if result.ok:
                self._failing.pop(channel.name, None)
            else:
                self._failing[channel.name] = result.error
        if result.ok and was_failing:
            _LOGGER.info("notification channel %s works again", channel.name)
            self._call(self._on_recovered, channel.name)
        elif not result.ok and not was_failing:
            _LOGGER.warning("notification channel %s failed: %s", channel.name, result.error)
            self._call(self._on_failure, channel.name, result.error)
        return result

    def _record(self, now: float, channel: str, message: Notification, outcome: str, error: str = "",
                latency_s: float = 0.0) -> None:
        try:
            self._log.record(DeliveryAttempt(ts=now, channel=channel, tier=message.tier,
                                             incident_key=message.incident_key, alert_ids=message.alert_ids,
                                             outcome=outcome, error=error, latency_s=latency_s,
                                             title=message.title))
        except Exception:  # a full disk must not stop the message itself
            _LOGGER.exception("cannot write the delivery log")

    @staticmethod
    def _call(callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            _LOGGER.exception("notification callback %s failed", callback)


def _worse(severity: Severity, than: Severity) -> bool:
    return severity.rank > than.rank


class DispatchWorker:
    """Runs ``Dispatcher.pump`` on its own thread: woken by ``submit``, and at least every ``idle_s``."""

    def __init__(self, dispatcher: Dispatcher, *, idle_s: float = 1.0) -> None:
        self.dispatcher = dispatcher
        self._idle = idle_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, notification: Notification) -> None:
        self.dispatcher.submit(notification)
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notify-dispatch", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.dispatcher.pump()
            except Exception:
                _LOGGER.exception("notification dispatch failed")
            self._wake.wait(self._idle)
