"""Health of the hub itself, and the dead-letter record."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from hub.api.deps import HubDep, VitalsDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.health import HealthPublic

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/health", response_model=HealthPublic,
            responses={503: {"model": HealthPublic, "description": "the hub cannot store or cannot alarm"}})
def health(vitals: VitalsDep, response: Response) -> HealthPublic:
    """Can the hub store and alarm: each part (hub.health); 503 when it cannot.

    Open without credentials, for load balancers and watchdogs; it names no person, sensor or alarm.
    """
    report, can_work = vitals.health(time.time())
    if not can_work:
        response.status_code = 503
    return report


@router.get("/deadletters", dependencies=[Depends(require(Permission.VIEW))])
def dead_letters(hub: HubDep, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Messages that broke the wire contract, newest first, with the reason."""
    return {"count": hub.state.dead_letter_count(), "items": hub.state.dead_letters(limit)}
