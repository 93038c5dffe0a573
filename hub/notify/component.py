"""The notifications component: channels, routes, the dispatch worker, the delivery log and the web notices.

Built from the notification settings in force (``hub.notify.managed``: the database
holds them, or none; ``reload`` takes a changed version without a restart) and two
ports: publishing a command to an edge (the SMS-less "buzzer" channel) and the alert
side's channel-failure alarms. Without a config the hub still shows every message on
the web page; with one, alarms go out through the routes and the delivery log records
each attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from hub.alerts.notifier import DispatchingNotifier
from hub.auth.links import AlarmLinks
from hub.notify.base import Channel, Notification
from hub.notify.config import NotifyConfig, build_channels, build_dispatcher
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import DispatchWorker
from hub.notify.local import PublishCommand, WebChannel
from hub.notify.rota import DutyCalendar
from hub.notify.sms import MintCode, SerialModem, SmsChannel
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)


class Notifications:
    def __init__(self, config: NotifyConfig | None, log_path: Path, *, publish_command: PublishCommand,
                 on_channel_failure: Callable[[str, str], None], on_channel_ok: Callable[[str], None],
                 name_of: Callable[[str], str], steps_of: Callable[[Alert], Sequence[str]] | None = None,
                 on_notifier: Callable[[DispatchingNotifier | None], None] | None = None,
                 links: AlarmLinks | None = None, mint_code: MintCode | None = None,
                 calendar: Callable[[], DutyCalendar] | None = None) -> None:
        self.config: NotifyConfig | None = None
        #: The school calendar in force, asked at each message (rota shifts on school days or holidays).
        self._calendar = calendar
        self._log_path = log_path
        self._publish_command = publish_command
        self._on_channel_failure = on_channel_failure
        self._on_channel_ok = on_channel_ok
        self._name_of = name_of
        self._steps_of = steps_of
        #: Mints the one-tap links in messages (None: messages link to the alarm page only).
        self._links = links
        #: Makes the reply codes of alarm SMS (None: SMS carry none).
        self._mint_code = mint_code
        #: Told of the new notifier after a reload (the alert engine delivers through it).
        self.on_notifier = on_notifier
        self._reload_lock = threading.Lock()
        self._started = False
        #: Every message is also shown on the web page (the only place when nothing is configured).
        self.web_notices = WebChannel("web")
        #: The built channels by name (the admin page's "send test message").
        self.channels: dict[str, Channel] = {}
        self.worker: DispatchWorker | None = None
        self.delivery_log: DeliveryLog | None = None
        #: What the alert engine delivers through (None: the engine only logs).
        self.notifier: DispatchingNotifier | None = None
        if config is not None:
            self._build(config)

    def _build(self, config: NotifyConfig) -> None:
        if self.delivery_log is None:
            self.delivery_log = DeliveryLog(self._log_path)
        channels = build_channels(config, publish_command=self._publish_command, web=self.web_notices,
                                  mint_code=self._mint_code)
        dispatcher = build_dispatcher(config, channels, self.delivery_log,
                                      on_channel_failure=self._on_channel_failure,
                                      on_channel_recovered=self._on_channel_ok)
        worker = DispatchWorker(dispatcher)
        self.config, self.channels, self.worker = config, channels, worker
        if self._links is not None:
            self._links.ttl_s = config.link_ttl_s
        self.notifier = DispatchingNotifier(worker, config, self._name_of, steps_of=self._steps_of,
                                            links=self._links, calendar=self._calendar)

    def reload(self, config: NotifyConfig) -> None:
        """Send through ``config`` from now on: new channels and routes, what was queued handed over, no restart."""
        with self._reload_lock:
            old = self.worker
            self._build(config)
            new = self.worker
            assert new is not None
            if self._started:
                new.start()
            if self.on_notifier is not None:
                self.on_notifier(self.notifier)
            if old is not None:
                old.stop()
                moved = old.dispatcher.hand_over(new.dispatcher)
                if moved:
                    _LOGGER.info("%d queued notification(s) handed to the new channels and routes", moved)
        _LOGGER.info("notification channels and routes reloaded: %d channel(s), %d route(s)",
                     len(config.channels), len(config.routes))

    def modems(self) -> list[SerialModem]:
        """The SMS modems of the channels in force, each once (replies are read from them)."""
        found = {id(c.modem): c.modem for c in self.channels.values() if isinstance(c, SmsChannel)}
        return list(found.values())

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
        self._started = True
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.delivery_log is not None:
            self.delivery_log.close()
