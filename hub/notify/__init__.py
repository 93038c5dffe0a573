"""Notifications: turn an alert into messages that reach a phone, a buzzer and the web page.

The engine builds a ``Notification`` (``messages.build_notification``) and submits
it to a ``Dispatcher`` (usually through a ``DispatchWorker``); channels and routes
come from ``notify.yaml`` (``config.load_notify_config``). Apprise and pyserial are
imported only by the channels that need them.
"""

from hub.notify.base import Channel, DeliveryResult, Notification
from hub.notify.deliverylog import DeliveryAttempt, DeliveryLog
from hub.notify.dispatcher import Dispatcher, DispatchWorker, Route
from hub.notify.messages import AlertFacts, build_notification, compose, facts_from_alert, render
from hub.notify.ratelimit import TokenBucket

__all__ = [
    "AlertFacts",
    "Channel",
    "DeliveryAttempt",
    "DeliveryLog",
    "DeliveryResult",
    "DispatchWorker",
    "Dispatcher",
    "Notification",
    "Route",
    "TokenBucket",
    "build_notification",
    "compose",
    "facts_from_alert",
    "render",
]
