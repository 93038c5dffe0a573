"""Edit one sensor's limits: stored in the hub's state, audited, in force for the next reading."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from hub.alerts.limit_edits import LimitsEdit, LimitsEditError, check
from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User

router = APIRouter(prefix="/api", tags=["devices"])


@router.put("/sensors/{device}/{sensor}/limits")
def put_limits(hub: HubDep, user: Annotated[User, Depends(require(Permission.LIMITS_EDIT))], device: str,
               sensor: str, edit: LimitsEdit) -> dict[str, Any]:
    """Set low/high, the hard limits (alarm at once), the delay and the hysteresis of ``device/sensor``."""
    key = f"{device}/{sensor}"
    known = {s["key"]: s for s in hub.state.sensors()}
    if key not in known:
        raise HTTPException(status_code=404, detail={"field": "sensor", "message": f"no sensor {key!r}"})
    if known[key]["kind"] != "temperature":
        raise HTTPException(status_code=422, detail={"field": "sensor",
                                                     "message": f"{key} is a {known[key]['kind']}, it has no limits"})
    try:
        check(edit)
    except LimitsEditError as error:
        raise HTTPException(status_code=422, detail={"field": error.field, "message": error.message}) from None
    hub.state.save_limit_edit(key, edit.model_dump(), user.username, time.time())
    hub.engine.refresh_sensors()
    limits = hub.engine.limits(key)
    return {"sensor": key, "limits": dataclasses.asdict(limits) if limits is not None else None}
