"""The engine's notifier over the notification dispatcher (hub.notify).

The engine runs on the ingest thread, so this only builds the message and queues
it; the dispatch worker thread talks to the bots, the SMS modem and the buzzers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from hub.alerts.kinds import AlertState
from hub.auth.links import AlarmLinks
from hub.auth.users import User
from hub.notify.config import NotifyConfig
from hub.notify.dispatcher import DispatchWorker
from hub.notify.messages import AckLink, build_notification, facts_from_alert
from hub.notify.rota import DutyCalendar, on_duty
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)


def link_url(public_url: str, alert_id: int, token: str) -> str:
    """Where a one-tap link leads (hub.api.links); the path is kept out of the access log (hub.http_limits)."""
    return f"{public_url.rstrip('/')}/link/{alert_id}/{token}"


def paged(links: AlarmLinks | None, config: NotifyConfig, route: str, now: float,
          calendar: DutyCalendar | None = None) -> list[User]:
    """The people ``route`` reaches at ``now``: those on duty by its rota (on the school calendar), else its own."""
    spec = config.routes.get(route)
    if links is None or spec is None:
        return []
    people, roles = list(spec.people), list(spec.roles)
    if spec.rota:
        shifts = on_duty(spec.rota, datetime.fromtimestamp(now, config.tz), calendar)
        if shifts:
            people = [name for shift in shifts for name in shift.people]
            roles = [role for shift in shifts for role in shift.roles]
        else:
            _LOGGER.warning("nobody on duty for route %s by its rota: its own people and roles are paged", route)
    try:
        return links.recipients(people, roles)
    except Exception:
        _LOGGER.exception("cannot look up who route %s reaches; the message goes to its channels only", route)
        return []


def ack_links(links: AlarmLinks | None, config: NotifyConfig, alert: Alert, people: Sequence[User]) -> list[AckLink]:
    """A fresh link for each person paged, when the alarm wants acknowledging and links can be made.

    None without a public address, a link store, or people: the message then says where
    to sign in. A failure to make links never holds up the alarm itself.
    """
    if (links is None or config.public_url is None or alert.id is None
            or alert.state not in (AlertState.PENDING, AlertState.FIRING)):
        return []
    try:
        return [AckLink(person.display_name, link_url(config.public_url, alert.id, links.mint(alert.id, person.id)))
                for person in people]
    except Exception:
        _LOGGER.exception("cannot make one-tap links for alert %s; the message goes without", alert.id)
        return []


def unhandled_note(alert: Alert, reason: str, who: str, now: float, locale: str) -> str:
    """The line a reminder or an escalation of an acknowledged, unclosed alarm adds ("" for any other message)."""
    if not reason.startswith("unhandled.") or alert.acked_at is None:
        return ""
    minutes = max(0, int((now - alert.acked_at) // 60))
    if locale == "en":
        return (f"Acknowledged by {who} {minutes} min ago and not yet handled: record the corrective action"
                f" and close it{'' if reason == 'unhandled.remind' else ' (escalated)'}")
    return (f"{who} 已确认 {minutes} 分钟，仍未处理：请记录处理措施并关闭"
            f"{'' if reason == 'unhandled.remind' else '（已上报上一级）'}")


class DispatchingNotifier:
    def __init__(self, worker: DispatchWorker, config: NotifyConfig, name_of: Callable[[str], str],
                 clock: Callable[[], float] = time.time,
                 steps_of: Callable[[Alert], Sequence[str]] | None = None,
                 links: AlarmLinks | None = None,
                 calendar: Callable[[], DutyCalendar] | None = None) -> None:
        self._worker = worker
        #: The school calendar in force (shifts on school days, holidays …); None: weekdays only.
        self._calendar = calendar
        #: Where one-tap links are minted and people looked up (None: messages carry the alarm page's address only).
        self._links = links
        self._config = config
        self._name_of = name_of
        #: What to do now about an alert (its playbook), listed in the message.
        self._steps_of = steps_of
        #: Seam for tests of who is on duty.
        self.clock = clock

    def _acknowledger(self, alert: Alert) -> list[User]:
        if self._links is None or not alert.acked_by:
            return []
        try:
            return self._links.recipients([alert.acked_by], [])
        except Exception:
            _LOGGER.exception("cannot look up who acknowledged alert %s", alert.id)
            return []

    def _phone_of(self, person: User) -> str | None:
        return self._links.phone_of(person.id) if self._links is not None else None

    def deliver(self, alert: Alert, route: str, reason: str) -> None:
        steps = self._steps_of(alert) if self._steps_of is not None else ()
        facts = facts_from_alert(alert, where=self._name_of(alert.subject), steps=steps)
        now = self.clock()
        calendar = self._calendar() if self._calendar is not None else None
        acker = self._acknowledger(alert) if reason.startswith("unhandled.") else []
        # A reminder is for the person who acknowledged: their SMS, not the whole shift's.
        people = acker if reason == "unhandled.remind" else paged(self._links, self._config, route, now, calendar)
        # Those paged with a mobile number get the SMS of the route's SMS channels too.
        phones = [phone for phone in map(self._phone_of, people) if phone]
        who = acker[0].display_name if acker else (alert.acked_by or "")
        notification = build_notification(
            facts, tier=route, now=now, hub_url=self._config.hub_url, locale=self._config.locale,
            tz=self._config.tz, incident_key=alert.incident or alert.subject, recipients=phones,
            links=ack_links(self._links, self._config, alert, people),
            note=unhandled_note(alert, reason, who, now, self._config.locale))
        self._worker.submit(notification)
