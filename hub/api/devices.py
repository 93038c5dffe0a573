"""Devices (edge agents) and their sensors, with the latest value and the limits in force."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends

from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["devices"], dependencies=[Depends(require(Permission.VIEW))])


@router.get("/devices")
def devices(hub: HubDep) -> list[dict[str, Any]]:
    return hub.state.devices()


@router.get("/sensors")
def sensors(hub: HubDep) -> list[dict[str, Any]]:
    result = []
    for sensor in hub.state.sensors():
        limits = hub.engine.limits(sensor["key"])
        sensor["limits"] = dataclasses.asdict(limits) if limits is not None else None
        result.append(sensor)
    return result
