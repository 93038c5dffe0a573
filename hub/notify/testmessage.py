"""A test message through one channel: the installer's proof that a bot key or a SIM card works.

Sent straight to the channel (not through the escalation routes), so it reaches
exactly the channel named and its result comes back to the person who pressed the
button; it is written to the delivery log like any message, as tier ``test``.
"""

from __future__ import annotations

import logging
import time

from hub.alerts.kinds import Severity
from hub.notify.base import Channel, DeliveryResult, Notification
from hub.notify.deliverylog import DeliveryAttempt, DeliveryLog

_LOGGER = logging.getLogger(__name__)

TEST_TIER = "test"


def test_notification(channel: str, who: str, now: float, locale: str = "zh") -> Notification:
    """The message itself: says it is a test, who sent it, and that nothing is wrong."""
    if locale == "zh":
        title = "【校安】测试消息"
        body = f"这是 {who} 从管理页面发送到通知渠道「{channel}」的测试消息，无需处理。"
    else:
        title = "[xiaoan] Test message"
        body = f"A test message sent by {who} from the admin page to channel '{channel}'. Nothing to do."
    return Notification(alert_id=None, incident_key=f"test:{channel}:{now:.0f}", severity=Severity.INFO, title=title,
                        body=body, tier=TEST_TIER, created_at=now, locale=locale)


def send_test(channel: Channel, who: str, *, locale: str = "zh", log: DeliveryLog | None = None,
              clock: float | None = None) -> DeliveryResult:
    """Send the test message through ``channel`` now; a channel that raises counts as failed."""
    now = time.time() if clock is None else clock
    message = test_notification(channel.name, who, now, locale)
    try:
        result = channel.send(message)
    except Exception as error:  # channels return failures, but a raise must reach the admin too
        _LOGGER.exception("channel %s raised on a test message", channel.name)
        result = DeliveryResult.failure(f"{type(error).__name__}: {error}")
    if log is not None:
        log.record(DeliveryAttempt(ts=now, channel=channel.name, tier=TEST_TIER, incident_key=message.incident_key,
                                   alert_ids=(), outcome="sent" if result.ok else "failed", error=result.error,
                                   latency_s=result.latency_s, title=message.title))
    return result
