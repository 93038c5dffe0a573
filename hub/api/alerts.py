"""Alert records, filtered by state."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hub.api.deps import HubDep

router = APIRouter(prefix="/api", tags=["alerts"])

AlertState = Literal["pending", "firing", "resolved", "cancelled", "active"]


@router.get("/alerts")
def alerts(
    hub: HubDep,
    state: Annotated[list[AlertState] | None, Query(description="filter; 'active' means pending or firing")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    states: list[str] | None = None
    if state:
        expanded = {s for wanted in state for s in (("pending", "firing") if wanted == "active" else (wanted,))}
        states = sorted(expanded)
    return [dataclasses.asdict(a) for a in hub.state.alerts(states, limit)]
