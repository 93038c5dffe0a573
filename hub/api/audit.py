"""The audit log, read-only, with its integrity check."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from hub.api.deps import MAX_ID, StateDep
from hub.audit import AuditEntry, verify_chain
from hub.auth.deps import require
from hub.auth.roles import Permission

router = APIRouter(prefix="/api", tags=["audit"], dependencies=[Depends(require(Permission.AUDIT_VIEW))])

#: An entry as the API shows it: the stored entry itself, its hash chain included (``hub.audit.AuditEntry``).
AuditEntryPublic = AuditEntry


class AuditCheckPublic(BaseModel):
    """The chain walked from the start: how many entries, whether it is intact, what is wrong, its last hash."""

    entries: int
    intact: bool
    problems: list[str]
    head: str | None


@router.get("/audit")
def audit_log(store: StateDep, after_id: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
              limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[AuditEntryPublic]:
    return store.audit_entries(after_id, limit)


@router.get("/audit/verify")
def audit_verify(store: StateDep) -> AuditCheckPublic:
    entries = store.audit_entries()
    problems = verify_chain(entries)
    return AuditCheckPublic(entries=len(entries), intact=not problems, problems=problems,
                            head=entries[-1].hash if entries else None)
