"""Health of the hub itself, and the dead-letter record."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from hub.api.deps import HubDep, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/health")
def health(hub: HubDep) -> dict[str, Any]:
    """Is the pipeline alive: broker connection, counters, when the last batch was committed.

    Open without credentials, for load balancers and watchdogs; it names no person, sensor or alarm.
    """
    mqtt_connected = hub.mqtt.connected.is_set() if hub.mqtt is not None else None
    return {
        "status": "ok" if mqtt_connected is not False else "degraded",
        "mqtt_connected": mqtt_connected,
        "uptime_s": round(time.time() - hub.started_at, 1),
        "pipeline": hub.pipeline.counters.snapshot(),
        "dead_letters_total": hub.state.dead_letter_count(),
    }


class DeadLetterPublic(BaseModel):
    id: int
    received: float
    topic: str
    reason: str
    size: int
    payload_preview: str = Field(description="the first 512 bytes, as UTF-8 text")


class DeadLettersPublic(BaseModel):
    count: int = Field(description="all dead letters kept")
    items: list[DeadLetterPublic]


@router.get("/deadletters", dependencies=[Depends(require(Permission.VIEW))])
def dead_letters(store: StateDep, limit: int = Query(100, ge=1, le=1000)) -> DeadLettersPublic:
    """Messages that broke the wire contract, newest first, with the reason."""
    return DeadLettersPublic(count=store.dead_letter_count(),
                             items=[DeadLetterPublic.model_validate(d) for d in store.dead_letters(limit)])
