"""Edit one sensor's limits: stored in the hub's state, audited, in force for the next reading.

Limits within the regulatory band take effect at once; limits beyond it are a
proposal (202) that another person holding ``limits.approve`` approves or rejects
(hub.alerts.limit_edits). An edit never ends an alarm already running: that alarm
keeps the limits it began under (hub.alerts.engine).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from hub.alerts.limit_edits import LimitsEdit, LimitsEditError, beyond_band, check, check_range
from hub.alerts.limits import profile_of
from hub.api.deps import AlertsDep, LiveDep, RowId, SettingsDep, StateDep
from hub.api.devices import LimitsPublic
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import Conflict, FieldError, NotFound
from hub.settings import HubSettings
from hub.store.state import LimitProposal, StateStore

router = APIRouter(prefix="/api", tags=["devices"])

Approver = Annotated[User, Depends(require(Permission.LIMITS_APPROVE))]


class LimitProposalPublic(BaseModel):
    id: int
    sensor: str
    limits: dict[str, Any] = Field(description="the limits proposed (low, high, hard limits, delay, hysteresis)")
    beyond: list[str] = Field(description="the sides beyond the regulatory band ('low', 'high')")
    reason: str
    proposed_by: str
    proposed_at: float
    decision: str | None = Field(description="approved, rejected or superseded; null while waiting")
    decided_by: str | None
    decided_at: float | None

    @classmethod
    def of(cls, proposal: LimitProposal, beyond: list[str]) -> LimitProposalPublic:
        return cls(id=proposal.id, sensor=proposal.key, limits=proposal.limits, beyond=beyond, reason=proposal.reason,
                   proposed_by=proposal.proposed_by, proposed_at=proposal.proposed_at, decision=proposal.decision,
                   decided_by=proposal.decided_by, decided_at=proposal.decided_at)


class SensorLimitsPublic(BaseModel):
    sensor: str
    limits: LimitsPublic | None = Field(description="the limits in force")
    pending: LimitProposalPublic | None = Field(default=None,
                                                description="limits beyond the band waiting for approval (202)")


def _sensor(store: StateStore, key: str) -> dict[str, Any]:
    known = {s["key"]: s for s in store.sensors()}
    if key not in known:
        raise NotFound("sensor", f"no sensor {key!r}")
    if known[key]["kind"] != "temperature":
        raise FieldError("sensor", f"{key} is a {known[key]['kind']}, it has no limits")
    return known[key]


@router.put("/sensors/{device}/{sensor}/limits")
def put_limits(store: StateDep, engine: AlertsDep, settings: SettingsDep, live: LiveDep,
               user: Annotated[User, Depends(require(Permission.LIMITS_EDIT))],
               device: str, sensor: str, edit: LimitsEdit, response: Response) -> SensorLimitsPublic:
    """Set low/high, the hard limits (alarm at once), the delay and the hysteresis of ``device/sensor``.

    Beyond the regulatory band the limits are proposed, not set: 202 with ``pending``.
    """
    key = f"{device}/{sensor}"
    profile = profile_of(_sensor(store, key), settings.rules)
    check(edit)
    check_range(edit, profile)
    limits = edit.limits()
    beyond = beyond_band(limits, settings.rules.band(profile))
    now = time.time()
    if beyond:
        if not edit.reason.strip():
            raise LimitsEditError("reason", "limits beyond the regulatory band need a reason and a second person's"
                                            " approval · 超出法规范围的限值须填写原因，并由另一位有审批权限的人员批准")
        proposal = store.propose_limits(key, limits, edit.reason.strip(), user.username, now)
        engine.note_limits_change(key, {"low": limits["low"], "high": limits["high"], "pending": True,
                                        "reason": proposal.reason}, user.username)
        response.status_code = 202
        live.on_limits_changed(key)
        return SensorLimitsPublic(sensor=key, limits=engine.limits(key),
                                  pending=LimitProposalPublic.of(proposal, beyond))
    store.save_limit_edit(key, limits, user.username, now)
    engine.refresh_sensors()
    engine.note_limits_change(key, {"low": limits["low"], "high": limits["high"], "pending": False}, user.username)
    live.on_limits_changed(key)
    return SensorLimitsPublic(sensor=key, limits=engine.limits(key))


def _public(proposal: LimitProposal, store: StateStore, settings: HubSettings) -> LimitProposalPublic:
    sensors = {s["key"]: s for s in store.sensors()}
    found = sensors.get(proposal.key)
    band = settings.rules.band(profile_of(found, settings.rules)) if found is not None else None
    return LimitProposalPublic.of(proposal, beyond_band(proposal.limits, band))


@router.get("/limits/proposals", dependencies=[Depends(require(Permission.VIEW))])
def list_proposals(store: StateDep, settings: SettingsDep, all: bool = False) -> list[LimitProposalPublic]:
    """Limits beyond the band waiting for approval (``all``: with those decided)."""
    return [_public(p, store, settings) for p in store.limit_proposals(open_only=not all)]


def _decide(store: StateStore, engine: AlertsDep, settings: HubSettings, live: LiveDep, user: User,
            proposal_id: int, approve: bool) -> LimitProposalPublic:
    proposal = store.limit_proposal(proposal_id)
    if proposal is None:
        raise NotFound("proposal_id", f"no limits proposal {proposal_id}")
    if proposal.proposed_by == user.username:
        raise FieldError("proposal_id", "the person who proposed limits beyond the band cannot decide on them"
                                        " · 提出人不能审批自己提出的限值", status=403)
    decided = store.decide_limits(proposal_id, approve, user.username, time.time())
    if decided is None:
        raise Conflict("proposal_id", f"limits proposal {proposal_id} was already decided · 该申请已处理")
    if approve:
        engine.refresh_sensors()
        engine.note_limits_change(decided.key, {"low": decided.limits.get("low"), "high": decided.limits.get("high"),
                                                "pending": False, "proposed_by": decided.proposed_by,
                                                "reason": decided.reason}, user.username)
    live.on_limits_changed(decided.key)
    return _public(decided, store, settings)


@router.post("/limits/proposals/{proposal_id}/approve")
def approve_proposal(store: StateDep, engine: AlertsDep, settings: SettingsDep, live: LiveDep, user: Approver,
                     proposal_id: RowId) -> LimitProposalPublic:
    """Put proposed limits in force (another person than the proposer); audited with both names."""
    return _decide(store, engine, settings, live, user, proposal_id, approve=True)


@router.post("/limits/proposals/{proposal_id}/reject")
def reject_proposal(store: StateDep, engine: AlertsDep, settings: SettingsDep, live: LiveDep, user: Approver,
                    proposal_id: RowId) -> LimitProposalPublic:
    """Refuse proposed limits: the limits in force stay; audited."""
    return _decide(store, engine, settings, live, user, proposal_id, approve=False)
