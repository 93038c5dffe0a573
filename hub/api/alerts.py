"""Alert records: list and filter, and the people's side of the lifecycle (acknowledge, interim actions, close,
verify)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from hub.alerts.kinds import ACTIVE_STATES, OPEN_STATES, AlertKind, AlertState
from hub.alerts.lifecycle import Action
from hub.api.deps import AccountsDep, AlertsDep, LiveDep, PhotoRootDep, RowId, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User, attribution
from hub.errors import FieldError, NotFound
from hub.gate.rules import ack_reason_refusal
from hub.store.state import Alert, AlertAction
from hub.web import photos

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
                        description="acknowledge: why it is all right (delivery, event, maintenance, other …); "
                                    "required for gate alarms ('other' needs text); recurring reasons for "
                                    "after-hours gate openings are suggested as calendar overrides")


#: An alert as the API shows it: the stored record itself, field for field (``hub.store.state.Alert``).
AlertPublic = Alert


@router.get("/alerts")
def alerts(
    engine: AlertsDep,
    state: Annotated[list[StateFilter] | None, Query(
        description="'active': pending/firing/acknowledged; 'pending' (and 'active') include the delays running"
                    " now, without an id: a condition that alarms when its delay runs out")] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    subject: Annotated[str | None, Query(max_length=130)] = None,
    since: Annotated[float | None, Query(description="started at or after (UTC epoch s)")] = None,
    until: Annotated[float | None, Query(description="started before (UTC epoch s)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[AlertPublic]:
    states: list[AlertState] | None = None
    if state:
        states = sorted({s for wanted in state for s in _expand(wanted)})
    return engine.listed(states, limit, kind=kind, subject=subject, since=since, until=until)


@router.get("/alerts/{alert_id}")
def alert(store: StateDep, alert_id: RowId) -> AlertPublic:
    found = store.alert(alert_id)
    if found is None:
        raise NotFound("alert_id", f"no alert {alert_id}")
    return found


def _act(engine: AlertsDep, alert_id: int, action: Action, user: User, request: AlertActionRequest,
         data: dict[str, object] | None = None) -> Alert:
    """The engine applies the action (a LifecycleError is the app's 409); an unknown id is a 404."""
    try:
        return engine.act(alert_id, action, user.username, request.text, data=data)
    except KeyError:
        raise NotFound("alert_id", f"no alert {alert_id}") from None


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(engine: AlertsDep, store: StateDep, user: Annotated[User, Depends(require(Permission.ALERT_ACK))],
                alert_id: RowId, request: AlertActionRequest) -> AlertPublic:
    """Someone is on it: stops escalation and repeats. A gate alarm needs a reason someone chose (422 otherwise)."""
    found = store.alert(alert_id)
    reason = request.reason.strip()
    if found is not None and found.kind == AlertKind.GATE:
        refusal = ack_reason_refusal(reason, request.text)
        if refusal is not None:
            raise FieldError(*refusal)
        return _act(engine, alert_id, "acknowledge", user, request, {"ack_reason": reason, "ack_reason_chosen": True})
    return _act(engine, alert_id, "acknowledge", user, request, {"ack_reason": reason} if reason else None)


@router.post("/alerts/{alert_id}/close")
def close(engine: AlertsDep, user: Annotated[User, Depends(require(Permission.ALERT_CLOSE))], alert_id: RowId,
          request: AlertActionRequest) -> AlertPublic:
    """Record the corrective action once the condition has cleared."""
    return _act(engine, alert_id, "close", user, request)


@router.post("/alerts/{alert_id}/verify")
def verify(engine: AlertsDep, user: Annotated[User, Depends(require(Permission.ALERT_VERIFY))], alert_id: RowId,
           request: AlertActionRequest) -> AlertPublic:
    """The safety officer's check (not by the person who closed it: compared on the signed-in account)."""
    return _act(engine, alert_id, "verify", user, request)


class InterimActionRequest(BaseModel):
    """What was done, while the alarm is still being handled; who did it comes from the sign-in."""

    text: str = Field(default="", max_length=2000, description="what was done, e.g. moved the food to fridge 2")
    steps: list[str] = Field(default_factory=list, max_length=20,
                             description="keys of the alarm's playbook steps this action ticks off")
    photos: list[str] = Field(default_factory=list, max_length=10,
                              description="names of photos already uploaded to this alarm (POST …/photos)")


class InterimActionPublic(BaseModel):
    id: int
    alert_id: int
    at: float
    who: str = Field(description="the account that recorded it")
    who_name: str = Field(description="the person as pages show them: display name with the username")
    text: str
    steps: list[str]
    photos: list[str]


def _public(action: AlertAction, accounts: AccountsDep) -> InterimActionPublic:
    user = accounts.user_by_name(action.who)
    return InterimActionPublic(id=action.id or 0, alert_id=action.alert_id, at=action.at, who=action.who,
                               who_name=attribution(user.username, user.display_name) if user else action.who,
                               text=action.text, steps=list(action.steps), photos=list(action.photos))


@router.get("/alerts/{alert_id}/actions")
def interim_actions(store: StateDep, accounts: AccountsDep, alert_id: RowId) -> list[InterimActionPublic]:
    """What people did about the alarm before (and apart from) the final corrective action, oldest first."""
    if store.alert(alert_id) is None:
        raise NotFound("alert_id", f"no alert {alert_id}")
    return [_public(a, accounts) for a in store.alert_actions([alert_id]).get(alert_id, [])]


@router.post("/alerts/{alert_id}/actions", status_code=201)
def record_interim_action(engine: AlertsDep, accounts: AccountsDep, live: LiveDep, root: PhotoRootDep,
                          user: Annotated[User, Depends(require(Permission.ALERT_ACK))], alert_id: RowId,
                          request: InterimActionRequest) -> InterimActionPublic:
    """Record what was done while the alarm is firing, acknowledged or resolved (409 once closed)."""
    try:
        action = engine.record_action(alert_id, user.username, request.text, request.steps, request.photos,
                                      known_photos=photos.listing(root, alert_id))
    except KeyError:
        raise NotFound("alert_id", f"no alert {alert_id}") from None
    live.on_alert_action(alert_id)
    return _public(action, accounts)
