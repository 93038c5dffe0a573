"""The engine's notifier over the notification dispatcher (hub.notify).

The engine runs on the ingest thread, so this only builds the message and queues
it; the dispatch worker thread talks to the bots, the SMS modem and the buzzers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from hub.alerts.kinds import AlertState
from hub.auth.links import AlarmLinks
from hub.notify.config import NotifyConfig
from hub.notify.dispatcher import DispatchWorker
from hub.notify.messages import AckLink, build_notification, facts_from_alert
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)


def link_url(public_url: str, alert_id: int, token: str) -> str:
    """Where a one-tap link leads (hub.api.links); the path is kept out of the access log (hub.http_limits)."""
    return f"{public_url.rstrip('/')}/link/{alert_id}/{token}"


def ack_links(links: AlarmLinks | None, config: NotifyConfig, alert: Alert, route: str) -> list[AckLink]:
    """A fresh link for each person of ``route``, when the alarm wants acknowledging and links can be made.

    None without a public address, a link store, or people on the route: the message then
    says where to sign in. A failure to make links never holds up the alarm itself.
    """
    spec = config.routes.get(route)
    if (links is None or config.public_url is None or spec is None or alert.id is None
            or alert.state not in (AlertState.PENDING, AlertState.FIRING)):
        return []
    try:
        people = links.recipients(spec.people, spec.roles)
        return [AckLink(person.display_name, link_url(config.public_url, alert.id, links.mint(alert.id, person.id)))
                for person in people]
    except Exception:
        _LOGGER.exception("cannot make one-tap links for alert %s; the message goes without", alert.id)
        return []


class DispatchingNotifier:
    def __init__(self, worker: DispatchWorker, config: NotifyConfig, name_of: Callable[[str], str],
                 clock: Callable[[], float] = time.time,
                 steps_of: Callable[[Alert], Sequence[str]] | None = None,
                 links: AlarmLinks | None = None) -> None:
        self._worker = worker
        #: Where one-tap links are minted (None: messages carry the alarm page's address only).
        self._links = links
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
            tz=self._config.tz, incident_key=alert.incident or alert.subject,
            links=ack_links(self._links, self._config, alert, route))
        self._worker.submit(notification)
