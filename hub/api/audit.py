"""The audit log, read-only, with its integrity check."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from hub.api.deps import MAX_ID, HubDep
from hub.audit import verify_chain
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["audit"], dependencies=[Depends(require(Permission.AUDIT_VIEW))])


@router.get("/audit")
def audit_log(hub: HubDep, after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
              limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
    return [dataclasses.asdict(e) for e in hub.state.audit_entries(after_id, limit)]


@router.get("/audit/verify")
def audit_verify(hub: HubDep) -> dict[str, Any]:
    entries = hub.state.audit_entries()
    problems = verify_chain(entries)
    return {"entries": len(entries), "intact": not problems, "problems": problems,
            "head": entries[-1].hash if entries else None}
