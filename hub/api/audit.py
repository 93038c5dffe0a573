"""The audit log, read-only, with its integrity check."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import HubDep
from hub.audit import verify_chain

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit")
def audit_log(hub: HubDep, after_id: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    return [dataclasses.asdict(e) for e in hub.state.audit_entries(after_id, limit)]


@router.get("/audit/verify")
def audit_verify(hub: HubDep) -> dict[str, Any]:
    entries = hub.state.audit_entries()
    problems = verify_chain(entries)
    return {"entries": len(entries), "intact": not problems, "problems": problems,
            "head": entries[-1].hash if entries else None}
