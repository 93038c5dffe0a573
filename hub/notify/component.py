"""The notifications component: channels, routes, the dispatch worker, the delivery log and the web notices.

Built from its own slice of the settings (the notification config, or none) and two
ports: publishing a command to an edge (the SMS-less "buzzer" channel) and the alert
side's channel-failure alarms. Without a config the hub still shows every message on
the web page; with one, alarms go out through the routes and the delivery log records
each attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from hub.alerts.notifier import DispatchingNotifier
from hub.notify.base import Channel, Notification
from hub.notify.config import NotifyConfig, build_channels, build_dispatcher
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import DispatchWorker
from hub.notify.local import PublishCommand, WebChannel
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)


class Notifications:
    def __init__(self, config: NotifyConfig | None, log_path: Path, *, publish_command: PublishCommand,
                 on_channel_failure: Callable[[str, str], None], on_channel_ok: Callable[[str], None],
                 name_of: Callable[[str], str], steps_of: Callable[[Alert], Sequence[str]] | None = None) -> None:
        self.config = config
        #: Every message is also shown on the web page (the only place when nothing is configured).
        self.web_notices = WebChannel("web")
        #: The built channels by name (the admin page's "send test message").
        self.channels: dict[str, Channel] = {}
        self.worker: DispatchWorker | None = None
        self.delivery_log: DeliveryLog | None = None
        #: What the alert engine delivers through (None: the engine only logs).
        self.notifier: DispatchingNotifier | None = None
        if config is None:
            return
        self.delivery_log = DeliveryLog(log_path)
        self.channels = build_channels(config, publish_command=publish_command, web=self.web_notices)
        dispatcher = build_dispatcher(config, self.channels, self.delivery_log,
                                      on_channel_failure=on_channel_failure, on_channel_recovered=on_channel_ok)
        self.worker = DispatchWorker(dispatcher)
        self.notifier = DispatchingNotifier(self.worker, config, name_of, steps_of=steps_of)

    @property
    def configured(self) -> bool:
        return self.worker is not None

    def failing_channels(self) -> dict[str, str]:
        """Channels whose last attempt failed, with the error (for /api/health)."""
        return self.worker.dispatcher.failing_channels() if self.worker is not None else {}

    def announce(self, notification: Notification) -> None:
        """A message that is not an alarm (a new report, a sign-off reminder) on its route, or on the page."""
        if self.worker is not None and notification.tier in self.worker.dispatcher.tiers:
            self.worker.submit(notification)
            return
        if self.worker is not None:
            _LOGGER.warning("no notification route %r: %s shown on the web page only", notification.tier,
                            notification.title)
        self.web_notices.send(notification)

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.delivery_log is not None:
            self.delivery_log.close()
