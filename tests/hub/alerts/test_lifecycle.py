from __future__ import annotations

import pytest

from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.alerts.lifecycle import LifecycleError, apply_action
from hub.store.state import Alert


def alert(state: str, **extra: object) -> Alert:
    return Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject="d/s", kind=AlertKind.TEMPERATURE,
                 severity=Severity.CRITICAL, state=AlertState(state), message="m",
                 started_at=0.0, updated_at=0.0, id=1, **extra)  # type: ignore[arg-type]


def test_full_workflow() -> None:
    acked = apply_action(alert("firing"), "acknowledge", "王师傅", "on it", 10.0)
    assert (acked.state, acked.acked_by, acked.acked_at) == ("acknowledged", "王师傅", 10.0)
    resolved = alert("resolved", acked_at=10.0, acked_by="王师傅")
    closed = apply_action(resolved, "close", "王师傅", "moved food to freezer 2; called repair", 20.0)
    assert closed.state == "closed" and (closed.action or "").startswith("moved food")
    verified = apply_action(closed, "verify", "李主任", "checked", 30.0)
    assert (verified.state, verified.verified_by) == ("verified", "李主任")


@pytest.mark.parametrize(("state", "action", "who", "text", "message"), [
    ("pending", "acknowledge", "a", "", "only a fired alert"),
    ("firing", "close", "a", "x", "once the condition has cleared"),
    ("resolved", "close", "a", "  ", "corrective action"),
    ("resolved", "verify", "b", "", "only a closed alert"),
    ("firing", "acknowledge", " ", "", "who did it"),
])
def test_refused_actions(state: str, action: str, who: str, text: str, message: str) -> None:
    with pytest.raises(LifecycleError, match=message):
        apply_action(alert(state), action, who, text, 1.0)  # type: ignore[arg-type]


def test_twice_acknowledged_is_refused() -> None:
    with pytest.raises(LifecycleError, match="already acknowledged"):
        apply_action(alert("acknowledged", acked_at=1.0, acked_by="x"), "acknowledge", "y", "", 2.0)


def test_separation_of_duties() -> None:
    closed = alert("closed", closed_by="王师傅", closed_at=5.0, action="a")
    with pytest.raises(LifecycleError, match="cannot verify"):
        apply_action(closed, "verify", "王师傅", "", 6.0)


def test_resolved_unacknowledged_can_be_acknowledged_then_closed() -> None:
    acked = apply_action(alert("resolved"), "acknowledge", "a", "", 1.0)
    assert acked.state == "resolved" and acked.acked_by == "a"
    closed = apply_action(alert("resolved"), "close", "a", "discarded", 2.0)
    assert closed.acked_by == "a"  # closing implies having seen it
