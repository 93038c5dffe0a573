"""Time series of one sensor."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from edge.wire import MAX_TS
from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["readings"], dependencies=[Depends(require(Permission.VIEW))])


@router.get("/readings")
def readings(
    hub: HubDep,
    sensor: str = Query(..., description="sensor key, 'device/sensor'", pattern=r"^[^/]+/[^/]+$"),
    # Bounded like a reading's own time: the series keep milliseconds in 64-bit integers.
    since: float | None = Query(None, ge=0, le=MAX_TS, description="UTC epoch seconds; default: 24 h ago"),
    until: float | None = Query(None, ge=0, le=MAX_TS, description="UTC epoch seconds; default: now"),
    limit: int = Query(10_000, ge=1, le=100_000),
) -> dict[str, Any]:
    until = until if until is not None else time.time()
    since = since if since is not None else until - 86_400
    if since >= until:
        raise HTTPException(status_code=422, detail="'since' must be before 'until'")
    rows = hub.series.readings(sensor, since, until, limit)
    return {
        "sensor": sensor,
        "since": since,
        "until": until,
        "readings": [{"ts": r.ts, "value": r.value, "fault": r.fault, "clock_synced": r.clock_synced}
                     for r in rows],
    }
