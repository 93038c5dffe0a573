"""The notification boundary: what the alert engine hands over, and what every channel promises back.

Channels are small and interchangeable (a group bot, an SMS modem, the kitchen
buzzer, the web page); the dispatcher only sees this Protocol, so a channel can be
swapped, tested on a pty or a loopback HTTP server, or added without touching it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hub.alerts.kinds import Severity

#: Locales the message formatter speaks; Simplified Chinese is the default for staff.
LOCALES = ("zh", "en")


@dataclass(frozen=True)
class Notification:
    """One message about one alert (or, after grouping, about one incident)."""

    #: The alert this is about (``None`` for hub-internal messages without an alert row).
    alert_id: int | None
    #: Notifications with the same key (and tier) inside the grouping window become one message.
    incident_key: str
    #: Its rank (``Severity.rank``) decides merging and rate limits: the worst is kept.
    severity: Severity
    title: str
    body: str
    #: The escalation tier; it selects the route (ordered channels) in the dispatcher.
    tier: str
    created_at: float
    locale: str = "zh"
    #: People addressed beyond a channel's own configuration (e.g. ``+86…`` numbers for SMS).
    recipients: tuple[str, ...] = ()
    #: ``device/sensor`` the alert is about: the buzzer channel sounds that device.
    subject: str = ""
    #: Further alert ids folded into this message by grouping or a rate-limit digest.
    related_ids: tuple[int, ...] = field(default=())
    #: The message asks for an acknowledgement (the alarm is firing): SMS adds a reply code for it.
    wants_ack: bool = False

    def __post_init__(self) -> None:
        """Hold a ``Severity`` whatever was passed, so ranking never meets a string it does not know."""
        object.__setattr__(self, "severity", Severity(self.severity))

    @property
    def alert_ids(self) -> tuple[int, ...]:
        """Every alert this message speaks for, in order, without repeats."""
        ids = ((self.alert_id,) if self.alert_id is not None else ()) + self.related_ids
        return tuple(dict.fromkeys(ids))

    @property
    def device(self) -> str | None:
        return self.subject.split("/", 1)[0] if self.subject else None


@dataclass(frozen=True)
class DeliveryResult:
    """What one channel made of one notification; ``error`` says why in words an installer can act on."""

    ok: bool
    error: str = ""
    latency_s: float = 0.0

    @classmethod
    def success(cls, latency_s: float = 0.0) -> DeliveryResult:
        return cls(True, "", latency_s)

    @classmethod
    def failure(cls, error: str, latency_s: float = 0.0) -> DeliveryResult:
        return cls(False, error or "unknown error", latency_s)


@runtime_checkable
class Channel(Protocol):
    """A way to reach people. ``send`` must not raise for delivery problems: it returns a failure."""

    @property
    def name(self) -> str: ...

    #: Longest text (title and body together) the channel should be handed; ``None``: unlimited.
    @property
    def max_chars(self) -> int | None: ...

    def send(self, notification: Notification) -> DeliveryResult: ...
