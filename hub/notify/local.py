"""The two channels inside the school: the buzzer on the edge device, and the hub's web page."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from edge import wire
from hub.notify.base import DeliveryResult, Notification

#: ``publish(device, command)``: e.g. resolve the device's site and call ``MqttIngest.send_command``.
#: It raises when the command cannot be handed to the broker.
PublishCommand = Callable[[str, wire.Command], None]

#: ``wire.Command.reason`` is capped at 200 characters.
_REASON_CHARS = 200


class EdgeBuzzerChannel:
    """Sounds the buzzer of the device the alert is about (``alarm_on`` on its ``cmd`` topic).

    The buzzer reaches whoever is in the kitchen even when no phone is looked at; it
    is an addition to a route, not a replacement for a message that can be acknowledged.
    """

    def __init__(self, name: str, publish: PublishCommand, *, clock: Callable[[], float] = time.time) -> None:
        self._name = name
        self._publish = publish
        self._clock = clock

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_chars(self) -> int | None:
        return _REASON_CHARS

    def send(self, notification: Notification) -> DeliveryResult:
        device = notification.device
        if not device:
            return DeliveryResult.failure("notification names no device to sound")
        started = time.monotonic()
        # The alert it is about, so the hub's buzzer logic (hub.alerts.buzzer.EdgeBuzzers.route_command) sends
        # what that alert wants now: a message saying it resolved must not sound the buzzer again.
        sensor = notification.subject.split("/", 1)[1] if "/" in notification.subject else ""
        command = wire.Command(action="alarm_on", ts=self._clock(), reason=notification.title[:_REASON_CHARS],
                               alert=notification.alert_id, sensor=sensor)
        try:
            self._publish(device, command)
        except Exception as error:  # the publisher is the hub's MQTT client; any failure means no buzzer
            return DeliveryResult.failure(f"{device}: {error}", time.monotonic() - started)
        return DeliveryResult.success(time.monotonic() - started)


class WebChannel:
    """Keeps recent notifications for the web page (and hands each to an optional callback)."""

    def __init__(self, name: str = "web", *, keep: int = 200,
                 sink: Callable[[Notification], None] | None = None) -> None:
        self._name = name
        self._recent: deque[Notification] = deque(maxlen=keep)
        self._sink = sink
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_chars(self) -> int | None:
        return None

    def send(self, notification: Notification) -> DeliveryResult:
        with self._lock:
            self._recent.append(notification)
        if self._sink is not None:
            try:
                self._sink(notification)
            except Exception as error:  # a page callback must not stop the phone channels
                return DeliveryResult.failure(f"web sink: {error}")
        return DeliveryResult.success()

    def recent(self) -> list[Notification]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._recent))
