"""Time series of one sensor."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from edge.wire import MAX_TS
from hub.api.deps import SeriesDep, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.errors import FieldError
from hub.restamp import TIME_UNKNOWN

router = APIRouter(prefix="/api", tags=["readings"], dependencies=[Depends(require(Permission.VIEW))])


class ReadingPublic(BaseModel):
    ts: float
    value: float | None
    fault: str | None
    clock_synced: bool


class UntimedReadingPublic(BaseModel):
    """A reading taken before its node's clock synced, held until the hub can re-stamp it (hub.restamp)."""

    value: float | None
    fault: str | None
    #: When the hub received it: the only trustworthy time it has so far.
    received: float
    #: The wrong time the node sent (1970, or the time it last saved).
    sent_ts: float
    time: str = TIME_UNKNOWN


class ReadingsPublic(BaseModel):
    sensor: str
    since: float
    until: float
    readings: list[ReadingPublic]
    #: Readings of the sensor whose time is not yet known (时间未知): in no range, rule or report until re-stamped.
    untimed: list[UntimedReadingPublic] = []


@router.get("/readings")
def readings(
    series: SeriesDep,
    state: StateDep,
    sensor: str = Query(..., description="sensor key, 'device/sensor'", pattern=r"^[^/]+/[^/]+$"),
    # Bounded like a reading's own time: the series keep milliseconds in 64-bit integers.
    since: float | None = Query(None, ge=0, le=MAX_TS, description="UTC epoch seconds; default: 24 h ago"),
    until: float | None = Query(None, ge=0, le=MAX_TS, description="UTC epoch seconds; default: now"),
    limit: int = Query(10_000, ge=1, le=100_000),
) -> ReadingsPublic:
    until = until if until is not None else time.time()
    since = since if since is not None else until - 86_400
    if since >= until:
        raise FieldError("since", "'since' must be before 'until'")
    rows = series.readings(sensor, since, until, limit)
    untimed = [UntimedReadingPublic(value=r.value, fault=r.fault, received=r.received, sent_ts=r.sent_ts)
               for r in state.untimed(sensor, limit)]
    return ReadingsPublic(sensor=sensor, since=since, until=until,
                          readings=[ReadingPublic(ts=r.ts, value=r.value, fault=r.fault, clock_synced=r.clock_synced)
                                    for r in rows], untimed=untimed)
