"""What was sent to whom: the web channel's recent notices and every delivery attempt."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["notifications"], dependencies=[Depends(require(Permission.VIEW))])


@router.get("/notifications")
def notifications(hub: HubDep) -> list[dict[str, Any]]:
    """Recent notifications for the web page, newest first."""
    return [dataclasses.asdict(n) for n in hub.notifications.web_notices.recent()]


@router.get("/notifications/attempts")
def attempts(hub: HubDep, alert_id: Annotated[int | None, Query(ge=1)] = None,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    """Every delivery attempt with its outcome (sent, failed, deferred, …); empty without channels."""
    if hub.notifications.delivery_log is None:
        return []
    return [dataclasses.asdict(a) for a in hub.notifications.delivery_log.attempts(alert_id=alert_id, limit=limit)]
