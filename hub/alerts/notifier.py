"""The engine's notifier over the notification dispatcher (hub.notify).

The engine runs on the ingest thread, so this only builds the message and queues
it; the dispatch worker thread talks to the bots, the SMS modem and the buzzers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from hub.notify.config import NotifyConfig
from hub.notify.dispatcher import DispatchWorker
from hub.notify.messages import build_notification, facts_from_alert
from hub.store.state import Alert


class DispatchingNotifier:
    def __init__(self, worker: DispatchWorker, config: NotifyConfig, name_of: Callable[[str], str],
                 clock: Callable[[], float] = time.time,
                 steps_of: Callable[[Alert], Sequence[str]] | None = None) -> None:
        self._worker = worker
        self._config = config
        self._name_of = name_of
        #: What to do now about an alert (its playbook), listed in the message.
        self._steps_of = steps_of
        self._clock = clock

    def deliver(self, alert: Alert, route: str, reason: str) -> None:
        steps = self._steps_of(alert) if self._steps_of is not None else ()
        facts = facts_from_alert(alert, where=self._name_of(alert.subject), steps=steps)
        notification = build_notification(
            facts, tier=route, now=self._clock(), hub_url=self._config.hub_url, locale=self._config.locale,
            tz=self._config.tz, incident_key=alert.incident or alert.subject)
        self._worker.submit(notification)
