"""Alert records: list and filter, and the people's side of the lifecycle (acknowledge, close, verify)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from hub.alerts.kinds import ACTIVE_STATES, OPEN_STATES, AlertState
from hub.alerts.lifecycle import Action, LifecycleError
from hub.api.deps import HubDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User

router = APIRouter(prefix="/api", tags=["alerts"], dependencies=[Depends(require(Permission.VIEW))])

#: A state to list, or a group of them: every ``AlertState`` value (a test keeps them in step) and the groups.
StateFilter = Literal["pending", "firing", "acknowledged", "resolved", "closed", "verified", "cancelled", "active",
                      "open"]
_EXPANDS: dict[str, tuple[AlertState, ...]] = {
    "active": ACTIVE_STATES,
    # everything a person still has to do something about
    "open": OPEN_STATES,
}



def _expand(wanted: StateFilter) -> tuple[AlertState, ...]:
    """The states a filter value stands for: a group's members, or the one state."""
    return _EXPANDS[wanted] if wanted in _EXPANDS else (AlertState(wanted),)


class AlertActionRequest(BaseModel):
    """What the person says; who they are comes from their sign-in, never from the body."""

    text: str = Field(default="", max_length=2000,
                      description="acknowledge: a note; close: the corrective action (required); verify: a note")
    reason: str = Field(default="", max_length=64,
                        description="acknowledge: why it is all right (delivery, event, maintenance …); recurring "
                                    "reasons for after-hours gate openings are suggested as calendar overrides")


@router.get("/alerts")
def alerts(
    hub: HubDep,
    state: Annotated[list[StateFilter] | None, Query(description="'active': pending/firing/acknowledged")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=130)] = None,
    since: Annotated[float | None, Query(description="started at or after (UTC epoch s)")] = None,
    until: Annotated[float | None, Query(description="started before (UTC epoch s)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    states: list[AlertState] | None = None
    if state:
        states = sorted({s for wanted in state for s in _expand(wanted)})
    found = hub.state.alerts(states, limit, kind=kind, subject=subject, since=since, until=until)
    return [dataclasses.asdict(a) for a in found]


@router.get("/alerts/{alert_id}")
def alert(hub: HubDep, alert_id: RowId) -> dict[str, Any]:
    found = hub.state.alert(alert_id)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}")
    return dataclasses.asdict(found)


def _act(hub: HubDep, alert_id: int, action: Action, user: User, request: AlertActionRequest) -> dict[str, Any]:
    reason = request.reason.strip()
    data = {"ack_reason": reason} if action == "acknowledge" and reason else None
    try:
        updated = hub.engine.act(alert_id, action, user.username, request.text, data=data)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id}") from None
    except LifecycleError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    return dataclasses.asdict(updated)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(hub: HubDep, user: Annotated[User, Depends(require(Permission.ALERT_ACK))], alert_id: RowId,
                request: AlertActionRequest) -> dict[str, Any]:
    """Someone is on it: stops escalation and repeats."""
    return _act(hub, alert_id, "acknowledge", user, request)


@router.post("/alerts/{alert_id}/close")
def close(hub: HubDep, user: Annotated[User, Depends(require(Permission.ALERT_CLOSE))], alert_id: RowId,
          request: AlertActionRequest) -> dict[str, Any]:
    """Record the corrective action once the condition has cleared."""
    return _act(hub, alert_id, "close", user, request)


@router.post("/alerts/{alert_id}/verify")
def verify(hub: HubDep, user: Annotated[User, Depends(require(Permission.ALERT_VERIFY))], alert_id: RowId,
           request: AlertActionRequest) -> dict[str, Any]:
    """The safety officer's check (not by the person who closed it: compared on the signed-in account)."""
    return _act(hub, alert_id, "verify", user, request)
