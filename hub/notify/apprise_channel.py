"""Group bots, e-mail and webhooks through Apprise: one channel, configured by Apprise URLs.

WeCom (``wecombot://{key}``), DingTalk with signing (``dingtalk://{secret}@{token}/``),
Feishu (``feishu://{token}`` — Apprise does not sign Feishu requests, so protect the
bot with a keyword or an IP allow-list), e-mail (``mailto://``) and generic
``json://`` / ``form://`` webhooks all look the same to the dispatcher.

Apprise reports delivery as a boolean and explains failures only in its log, so
the channel listens to the ``apprise`` logger while it sends and returns those
lines as the error text an installer sees in the delivery log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import apprise

from hub.alerts.kinds import Severity
from hub.notify.base import DeliveryResult, Notification
from hub.notify.messages import render

_LOGGER = logging.getLogger(__name__)

#: WeCom text messages take 2048 bytes of UTF-8 (~680 Chinese characters); DingTalk and Feishu take more.
DEFAULT_APPRISE_CHARS = 600

# Apprise logs through one process-wide logger; sends are serialised so that the
# captured lines belong to this channel's call (a few per minute at most — bots
# allow about 20 a minute — so serialising costs nothing that matters).
_SEND_LOCK = threading.Lock()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def with_timeouts(url: str, connect_s: float, read_s: float) -> str:
    """Add Apprise's ``cto`` / ``rto`` socket timeouts to a URL unless it sets its own."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.setdefault("cto", f"{connect_s:g}")
    query.setdefault("rto", f"{read_s:g}")
    return urlunsplit(parts._replace(query=urlencode(query)))


def invalid_urls(urls: Sequence[str]) -> list[int]:
    """Indexes of URLs Apprise cannot load (unknown scheme, missing token), for config validation."""
    return [index for index, url in enumerate(urls) if apprise.Apprise.instantiate(url) is None]


class AppriseChannel:
    """Sends to every URL it holds; ok only when all of them accepted the message."""

    def __init__(self, name: str, urls: Sequence[str], *, connect_timeout_s: float = 5.0,
                 read_timeout_s: float = 10.0, max_chars: int = DEFAULT_APPRISE_CHARS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not urls:
            raise ValueError(f"channel {name!r}: no Apprise URLs")
        bad = invalid_urls(urls)
        if bad:
            raise ValueError(f"channel {name!r}: Apprise cannot use URL #{bad[0]}")
        self._name = name
        self._max_chars = max_chars
        self._clock = clock
        self._apprise = apprise.Apprise()
        for url in urls:
            self._apprise.add(with_timeouts(url, connect_timeout_s, read_timeout_s))

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_chars(self) -> int | None:
        return self._max_chars

    def send(self, notification: Notification) -> DeliveryResult:
        text = render(notification, self._max_chars)
        title, _, body = text.partition("\n")
        critical = notification.severity is Severity.CRITICAL
        notify_type = apprise.NotifyType.FAILURE if critical else apprise.NotifyType.WARNING
        collect = _Collect()
        logger = logging.getLogger("apprise")
        started = self._clock()
        with _SEND_LOCK:
            logger.addHandler(collect)
            try:
                delivered = bool(self._apprise.notify(body=body or title, title=title if body else "",
                                                      notify_type=notify_type,
                                                      body_format=apprise.NotifyFormat.TEXT))
            except Exception as error:  # a plugin bug must fail this channel, not the dispatcher
                _LOGGER.exception("Apprise channel %s raised", self._name)
                collect.lines.append(f"{type(error).__name__}: {error}")
                delivered = False
            finally:
                logger.removeHandler(collect)
        latency = self._clock() - started
        if delivered:
            return DeliveryResult.success(latency)
        return DeliveryResult.failure("; ".join(collect.lines[-3:]) or "Apprise reported failure", latency)
