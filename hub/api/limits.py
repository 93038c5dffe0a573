"""Edit one sensor's limits: stored in the hub's state, audited, in force for the next reading."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from hub.alerts.limit_edits import LimitsEdit, check
from hub.api.deps import AlertsDep, StateDep
from hub.api.devices import LimitsPublic
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import FieldError, NotFound

router = APIRouter(prefix="/api", tags=["devices"])


class SensorLimitsPublic(BaseModel):
    sensor: str
    limits: LimitsPublic | None


@router.put("/sensors/{device}/{sensor}/limits")
def put_limits(store: StateDep, engine: AlertsDep, user: Annotated[User, Depends(require(Permission.LIMITS_EDIT))],
               device: str, sensor: str, edit: LimitsEdit) -> SensorLimitsPublic:
    """Set low/high, the hard limits (alarm at once), the delay and the hysteresis of ``device/sensor``."""
    key = f"{device}/{sensor}"
    known = {s["key"]: s for s in store.sensors()}
    if key not in known:
        raise NotFound("sensor", f"no sensor {key!r}")
    if known[key]["kind"] != "temperature":
        raise FieldError("sensor", f"{key} is a {known[key]['kind']}, it has no limits")
    check(edit)
    store.save_limit_edit(key, edit.model_dump(), user.username, time.time())
    engine.refresh_sensors()
    return SensorLimitsPublic(sensor=key, limits=engine.limits(key))
