"""Notes on records: what a person still has to say about an alarm, a sample record or a period.

A record of a signed period, a verified alarm or a discarded sample record no longer
changes (hub.closed); a note is kept beside it instead, with who wrote it and when, in
the audit chain, and is itself final. Notes can be added to any of these records, closed
or not; the author is the signed-in person.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from hub.api.deps import RowId, SamplesDep, StateDep, TzDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import NotFound
from hub.report import period as periods
from hub.report.service import kind_of
from hub.store.state import Note

router = APIRouter(prefix="/api", tags=["notes"], dependencies=[Depends(require(Permission.VIEW))])

#: A note as the API shows it (``hub.store.state.Note``): subject, text, author (username), when.
NotePublic = Note


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="what is to be said about the record")


class PeriodNoteCreate(NoteCreate):
    kind: str = Field(default="weekly", description="weekly, daily, monthly or range")
    period: str = Field(min_length=1, max_length=32, description="2026-W47, 2026-11-18, 2026-11 or a range")


def _add(store: StateDep, subject: str, user: User, request: NoteCreate) -> Note:
    return store.add_note(subject, request.text.strip(), user.username, time.time())


def _alert_subject(store: StateDep, alert_id: int) -> str:
    if store.alert(alert_id) is None:
        raise NotFound("alert_id", f"no alert {alert_id}")
    return f"alert/{alert_id}"


def _sample_subject(samples: SamplesDep, record_id: int) -> str:
    if samples.store.record(record_id) is None:
        raise NotFound("id", f"no sample record {record_id}")
    return f"sample/{record_id}"


def _period_subject(tz: TzDep, kind: str, label: str) -> str:
    found = periods.parse(kind_of(kind), label, tz)
    return f"report/{found.kind}/{found.label}"


@router.get("/alerts/{alert_id}/notes")
def alert_notes(store: StateDep, alert_id: RowId) -> list[NotePublic]:
    return store.notes(_alert_subject(store, alert_id))


@router.post("/alerts/{alert_id}/notes", status_code=201)
def add_alert_note(store: StateDep, user: Annotated[User, Depends(require(Permission.ALERT_ACK))],
                   alert_id: RowId, request: NoteCreate) -> NotePublic:
    """A note on an alarm, in any state (a verified one or one of a signed week included)."""
    return _add(store, _alert_subject(store, alert_id), user, request)


@router.get("/samples/{record_id}/notes")
def sample_notes(store: StateDep, samples: SamplesDep, record_id: RowId) -> list[NotePublic]:
    return store.notes(_sample_subject(samples, record_id))


@router.post("/samples/{record_id}/notes", status_code=201)
def add_sample_note(store: StateDep, samples: SamplesDep,
                    user: Annotated[User, Depends(require(Permission.SAMPLE_LOG))], record_id: RowId,
                    request: NoteCreate) -> NotePublic:
    """A note on a meal's sample record (a discarded one or one of a signed week included)."""
    return _add(store, _sample_subject(samples, record_id), user, request)


@router.get("/reports/notes")
def period_notes(store: StateDep, tz: TzDep, _user: Annotated[User, Depends(require(Permission.REPORT_VIEW))],
                 period: Annotated[str, Query(min_length=1, max_length=32)],
                 kind: Annotated[str, Query(description="weekly, daily, monthly or range")] = "weekly",
                 ) -> list[NotePublic]:
    return store.notes(_period_subject(tz, kind, period))


@router.post("/reports/notes", status_code=201)
def add_period_note(store: StateDep, tz: TzDep, user: Annotated[User, Depends(require(Permission.REPORT_VIEW))],
                    request: PeriodNoteCreate) -> NotePublic:
    """A note on a period (a calendar exception of a signed week that should have been made, say)."""
    return _add(store, _period_subject(tz, request.kind, request.period), user, request)
