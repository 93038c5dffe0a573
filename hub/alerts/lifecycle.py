"""What people may do to an alert, and in which state: 发现 → 上报 → 处理 → 验收.

``firing`` (found and reported) → ``acknowledged`` (someone is on it) → ``resolved``
(the condition cleared) → ``closed`` (corrective action recorded) → ``verified`` (the
safety officer checked it). An alert that cleared before anyone acknowledged it is
still closed with an action and verified: the excursion happened.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from hub.alerts.kinds import ACTIVE_STATES, AlertState
from hub.errors import FieldError
from hub.store.state import Alert

__all__ = ["ACTIVE_STATES", "INTERIM_STATES", "Action", "LifecycleError", "apply_action", "check_interim"]

Action = Literal["acknowledge", "close", "verify"]
#: States in which people record what they did before the final corrective action (an interim action):
#: while the alarm runs, and once it cleared until someone closes it. A closed record takes no more.
INTERIM_STATES: tuple[AlertState, ...] = (AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED)


class LifecycleError(FieldError):
    """An action the alert's state does not allow; the message says why, for a 409.

    It names no field: the alert's state refuses the action, not a key of the request.
    """

    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


def apply_action(alert: Alert, action: Action, who: str, text: str, now: float) -> Alert:
    """Return the alert after a person's action, or raise LifecycleError."""
    who = who.strip()
    if not who:
        raise LifecycleError("who did it must be recorded")
    if action == "acknowledge":
        if alert.acked_at is not None:
            raise LifecycleError(f"alert {alert.id} was already acknowledged by {alert.acked_by}")
        if alert.state not in (AlertState.FIRING, AlertState.RESOLVED):
            raise LifecycleError(f"alert {alert.id} is {alert.state}; only a fired alert can be acknowledged")
        state = AlertState.ACKNOWLEDGED if alert.state is AlertState.FIRING else alert.state
        return dataclasses.replace(alert, state=state, acked_at=now, acked_by=who, ack_note=text.strip(),
                                   updated_at=now)
    if action == "close":
        if alert.state is not AlertState.RESOLVED:
            raise LifecycleError(f"alert {alert.id} is {alert.state}; it can be closed once the condition "
                                 "has cleared (resolved)")
        if not text.strip():
            raise LifecycleError("closing needs the corrective action taken")
        first_seen = alert.acked_at is None  # closing implies having seen it
        return dataclasses.replace(alert, state=AlertState.CLOSED, closed_at=now, closed_by=who, action=text.strip(),
                                   updated_at=now, acked_at=now if first_seen else alert.acked_at,
                                   acked_by=who if first_seen else alert.acked_by)
    if alert.state is not AlertState.CLOSED:
        raise LifecycleError(f"alert {alert.id} is {alert.state}; only a closed alert can be verified")
    if who == alert.closed_by:
        raise LifecycleError("the person who recorded the corrective action cannot verify it")
    return dataclasses.replace(alert, state=AlertState.VERIFIED, verified_at=now, verified_by=who,
                               verify_note=text.strip(), updated_at=now)


def check_interim(alert: Alert, who: str, text: str, steps: tuple[str, ...]) -> None:
    """Raise LifecycleError unless ``who`` may record an interim action on ``alert`` now.

    An interim action ("moved the food to fridge 2 at 13:05") may be written while the alarm is
    firing or acknowledged and after it resolved; once it is closed the corrective action is the
    final word, and a verified alarm is what the safety officer checked.
    """
    if not who.strip():
        raise LifecycleError("who did it must be recorded")
    if alert.state not in INTERIM_STATES:
        raise LifecycleError(f"alert {alert.id} is {alert.state}; actions can be recorded until it is closed"
                             " · 报警已关闭，不能再记录处理措施")
    if not text.strip() and not steps:
        raise FieldError("text", "say what was done, or tick a step · 请填写所做的处理，或勾选一个步骤")
