"""Who is told, and when: tiers of recipients and repeats while nobody acknowledges.

Typical policy: the canteen staff at once, the canteen manager after 10 minutes
unacknowledged, the safety officer after 30; repeat every 5 minutes meanwhile. An
acknowledgement stops both escalation and repeats.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    after_s: float
    route: str


@dataclass(frozen=True)
class Policy:
    tiers: tuple[Tier, ...]
    repeat_every_s: float | None = 300.0


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
