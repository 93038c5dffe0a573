"""Devices (edge agents) and their sensors, with the latest value and the limits in force."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from hub.api.deps import AlertsDep, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.rules.threshold import Limits

router = APIRouter(prefix="/api", tags=["devices"], dependencies=[Depends(require(Permission.VIEW))])

#: The limits the alert engine holds for a sensor (``hub.rules.threshold.Limits``).
LimitsPublic = Limits


class DevicePublic(BaseModel):
    device: str
    site: str
    state: str = Field(description="online, offline or unknown")
    boot_id: str | None
    version: str | None
    state_since: float | None
    last_seen: float | None
    health: dict[str, Any] | None = Field(description="the device's last heartbeat, as it sent it (edge.wire.Health)")


class SensorPublic(BaseModel):
    key: str = Field(description="device/sensor")
    device: str
    sensor: str
    kind: str
    unit: str
    name: str
    profile: str
    low: float | None
    high: float | None
    last_value: float | None
    last_ts: float | None
    last_fault: str | None
    last_state: str | None
    last_received: float | None
    limits: LimitsPublic | None = Field(description="the limits in force (temperature sensors), else null")


@router.get("/devices")
def devices(store: StateDep) -> list[DevicePublic]:
    return [DevicePublic.model_validate(d) for d in store.devices()]


@router.get("/sensors")
def sensors(store: StateDep, engine: AlertsDep) -> list[SensorPublic]:
    result = []
    for sensor in store.sensors():
        limits = engine.limits(sensor["key"])
        result.append(SensorPublic.model_validate(
            {**sensor, "limits": dataclasses.asdict(limits) if limits is not None else None}))
    return result
