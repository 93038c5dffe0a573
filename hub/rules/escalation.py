"""Who is told, and when: tiers of recipients and repeats while nobody acknowledges.

Typical policy: the canteen staff at once, the canteen manager after 10 minutes
unacknowledged, the safety officer after 30; repeat every 5 minutes meanwhile. An
acknowledgement stops both escalation and repeats.

Acknowledging is not handling it: an acknowledged alarm nobody closes (records its
corrective action) within the policy's ``remind_after_s`` reminds the person who
acknowledged it, and after ``unhandled_escalate_s`` pages the next tier.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Tier:
    after_s: float
    route: str


@dataclass(frozen=True)
class Policy:
    tiers: tuple[Tier, ...]
    repeat_every_s: float | None = 300.0
    #: After the acknowledgement, with the alarm still not closed: remind the acknowledger (None: never).
    remind_after_s: float | None = None
    #: After the acknowledgement, with the alarm still not closed: page the next tier (None: never).
    unhandled_escalate_s: float | None = None


class Unhandled(StrEnum):
    """What is done about an alarm acknowledged but not handled (closed) in time."""

    #: The person who acknowledged it is reminded.
    REMIND = "remind"
    #: The next tier's route is paged.
    ESCALATE = "escalate"


def due_tiers(policy: Policy, fired_at: float, acknowledged: bool, notified_tier: int,
              last_notified_at: float | None, now: float) -> list[int]:
    """Tier indices to notify now: tiers newly reached, or a repeat of the highest one reached.

    ``notified_tier`` is the highest tier already told (-1 for none).
    """
    if acknowledged:
        return []
    reached = [index for index, tier in enumerate(policy.tiers) if now - fired_at >= tier.after_s]
    if not reached:
        return []
    new = [index for index in reached if index > notified_tier]
    if new:
        return new
    if policy.repeat_every_s is not None and last_notified_at is not None \
            and now - last_notified_at >= policy.repeat_every_s:
        return [reached[-1]]
    return []


#: An alarm whose last step was due longer ago than this is not chased any more: those left open from
#: before a policy had ``unhandled`` (or a hub off for days) are the weekly report's, not a burst of pages.
UNHANDLED_HORIZON_S = 86400.0


def unhandled_due(policy: Policy, acked_at: float, done: Collection[str], now: float) -> list[Unhandled]:
    """The steps due now for an alarm acknowledged at ``acked_at`` and still not closed; ``done`` were taken."""
    steps = [(step, after) for step, after in ((Unhandled.REMIND, policy.remind_after_s),
                                               (Unhandled.ESCALATE, policy.unhandled_escalate_s))
             if after is not None]
    if not steps or now - acked_at >= max(after for _, after in steps) + UNHANDLED_HORIZON_S:
        return []
    return [step for step, after in steps if now - acked_at >= after and step not in done]
