"""Health of the hub itself, and the dead-letter record."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from hub.api.deps import StateDep, VitalsDep
from hub.auth.deps import OptionalUser, require
from hub.auth.roles import Permission, allows
from hub.health import HealthPublic

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/health", response_model=HealthPublic,
            responses={503: {"model": HealthPublic, "description": "the hub cannot store or cannot alarm"}})
def health(vitals: VitalsDep, response: Response, viewer: OptionalUser) -> HealthPublic:
    """Can the hub store and alarm: each part (hub.health); 503 when it cannot.

    Open without credentials, for load balancers and watchdogs; it names no person, sensor or alarm.
    A signed-in viewer also sees which devices sent dead letters (``dead_letters.devices``).
    """
    detail = viewer is not None and allows(viewer.role, Permission.VIEW)
    report, can_work = vitals.health(time.time(), detail=detail)
    if not can_work:
        response.status_code = 503
    return report


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
