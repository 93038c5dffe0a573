"""Food samples (留样): log a meal's samples, see what is held and when it may go, discard, labels, the daily record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import HubDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission, allows
from hub.auth.users import User
from hub.runtime import Hub
from hub.samples import daily, rules
from hub.samples.labels import LabelFontMissing, render_labels
from hub.samples.monitor import DishInput, SampleConflict, SampleError
from hub.samples.store import SampleRecord

router = APIRouter(tags=["samples"], dependencies=[Depends(require(Permission.VIEW))])

SampleLogger = Annotated[User, Depends(require(Permission.SAMPLE_LOG))]
#: Reviewing (审核) and discarding are the same duty: checking what is held.
SampleReviewer = Annotated[User, Depends(require(Permission.SAMPLE_DISCARD))]


class DishCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="dish name, e.g. 红烧肉")
    weight_g: float | None = Field(default=None, gt=0, le=5000, description="grams in the sample box")
    code: str | None = Field(default=None, min_length=1, max_length=64,
                             description="a pre-printed label's code; omitted: the hub assigns {meal}-{yyyymmdd}-{nn}")


class SamplesCreate(BaseModel):
    meal: str = Field(min_length=1, max_length=32, description="breakfast / lunch / dinner (configured) or event")
    date: dt.date | None = Field(default=None, description="the meal's date (default: the day placed_at falls on)")
    occasion: str = Field(default="", max_length=64, description="what the event meal was (meal=event only)")
    placed_at: float | None = Field(default=None, ge=0, description="when the samples went in the cabinet (now)")
    placed_by: str = Field(default="", max_length=64,
                           description="the sampler (留样人); default: the signed-in user's display name")
    reviewer: str = Field(default="", max_length=64, description="the reviewer (审核人)")
    cabinet: str = Field(default="", max_length=130, description="the cabinet's sensor key (default: configured)")
    dishes: list[DishCreate] = Field(default_factory=list, max_length=100)


class PeopleUpdate(BaseModel):
    placed_by: str = Field(default="", max_length=64)
    reviewer: str = Field(default="", max_length=64)


class DiscardCreate(BaseModel):
    """The 弃样人 recorded is the signed-in user (their display name), never a name from the body."""

    at: float | None = Field(default=None, ge=0, description="when (default: now)")
    note: str = Field(default="", max_length=200)


def _public(hub: Hub, record: SampleRecord, now: float) -> dict[str, Any]:
    config = hub.samples.config
    return {
        "id": record.id, "day": record.day, "meal": record.meal, "meal_name": config.meal_name(record.meal),
        "occasion": record.occasion, "cabinet": record.cabinet, "station": record.station,
        "placed_at": record.placed_at, "placed_by": record.placed_by, "reviewer": record.reviewer,
        "held_until": record.held_until, "state": rules.hold_state(now, record.held_until, record.discarded_at),
        "remaining_s": max(0.0, record.held_until - now) if record.discarded_at is None else None,
        "discardable_notice_at": record.notice_at,
        "discarded_at": record.discarded_at, "discarded_by": record.discarded_by,
        "discard_note": record.discard_note, "discarded_early": record.early,
        "compromised": record.compromised,
        "excursions": [{"cabinet": e.cabinet, "start": e.start, "end": e.end, "low": e.low, "high": e.high,
                        "alert_ids": e.alert_ids} for e in record.excursions],
        "dishes": [{"id": d.id, "name": d.name, "weight_g": d.weight_g, "code": d.code, "logged_at": d.logged_at,
                    "source": d.source, "scanned_at": d.scanned_at,
                    "underweight": rules.underweight(d.weight_g, config.min_weight_g)} for d in record.dishes],
        "labels": f"/api/samples/{record.id}/labels.pdf",
    }


def _fail(error: SampleError) -> HTTPException:
    status = 409 if isinstance(error, SampleConflict) else (404 if error.field == "id" else 422)
    return HTTPException(status_code=status, detail={"field": error.field, "message": error.message})


def _record(hub: Hub, record_id: int) -> SampleRecord:
    record = hub.samples.store.record(record_id)
    if record is None:
        raise HTTPException(status_code=404, detail={"field": "id", "message": f"no sample record {record_id}"})
    return record


@router.get("/api/samples")
def list_samples(hub: HubDep, state: Literal["held", "due", "discarded", "all"] | None = None,
                 date: Annotated[dt.date | None, Query(description="only this day's meals")] = None
                 ) -> list[dict[str, Any]]:
    """Sample records: ``held`` (still to keep, with when each may go), ``due`` (may be discarded now) …"""
    now = hub.samples.clock()
    return [_public(hub, r, now) for r in hub.samples.records(state, date, now)]


@router.post("/api/samples", status_code=201)
def log_samples(hub: HubDep, user: SampleLogger, request: SamplesCreate) -> dict[str, Any]:
    """Log a meal's samples (or add dishes to it); under-weight dishes are flagged and alarmed."""
    dishes = [DishInput(d.name, d.weight_g, d.code) for d in request.dishes]
    try:
        result = hub.samples.log_meal(request.meal, dishes, day=request.date, occasion=request.occasion,
                                      placed_at=request.placed_at,
                                      placed_by=request.placed_by.strip() or user.display_name,
                                      reviewer=request.reviewer, cabinet=request.cabinet)
    except SampleError as error:
        raise _fail(error) from None
    body = _public(hub, result.record, hub.samples.clock())
    body["created"] = result.created
    body["underweight"] = [{"name": d.name, "weight_g": d.weight_g} for d in result.underweight]
    return body


@router.get("/api/samples/daily.csv", response_class=Response)
def daily_csv(hub: HubDep, date: dt.date) -> Response:
    """The day's 留样记录 as CSV (UTF-8 with BOM)."""
    table = daily.rows(hub.samples.store.on_day(date.isoformat()), hub.samples.config, hub.tz)
    return Response(daily.to_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="samples-{date.isoformat()}.csv"'})


@router.get("/samples/daily", response_class=HTMLResponse, include_in_schema=False)
def daily_page(hub: HubDep, date: dt.date | None = None) -> str:
    day = date or hub.samples.local_day(hub.samples.clock())
    table = daily.rows(hub.samples.store.on_day(day.isoformat()), hub.samples.config, hub.tz)
    return daily.to_html(day, table)


@router.get("/api/samples/{record_id}")
def get_sample(hub: HubDep, record_id: RowId) -> dict[str, Any]:
    return _public(hub, _record(hub, record_id), hub.samples.clock())


@router.post("/api/samples/{record_id}/people")
def set_people(hub: HubDep, user: SampleReviewer, record_id: RowId, request: PeopleUpdate) -> dict[str, Any]:
    """Set the sampler or the reviewer (审核人 signs after checking the samples); the sampler needs sample.log."""
    if request.placed_by.strip() and not allows(user.role, Permission.SAMPLE_LOG):
        raise HTTPException(status_code=403, detail={"field": "placed_by",
                                                     "message": f"role {user.role.value} may not sample.log"})
    if not request.placed_by.strip() and not request.reviewer.strip():
        raise HTTPException(status_code=422, detail={"field": "reviewer", "message": "give placed_by or reviewer"})
    try:
        record = hub.samples.set_people(record_id, request.placed_by, request.reviewer)
    except SampleError as error:
        raise _fail(error) from None
    return _public(hub, record, hub.samples.clock())


@router.post("/api/samples/{record_id}/discard")
def discard_samples(hub: HubDep, user: SampleReviewer, record_id: RowId, request: DiscardCreate) -> dict[str, Any]:
    """Record the discard; before the retention period ends it is recorded and raises a critical alarm."""
    try:
        record = hub.samples.discard(record_id, user.display_name, request.at, request.note)
    except SampleError as error:
        raise _fail(error) from None
    return _public(hub, record, hub.samples.clock())


@router.get("/api/samples/{record_id}/trace")
def sample_trace(hub: HubDep, record_id: RowId) -> dict[str, Any]:
    """The cabinet's temperature through every excursion that touched these samples."""
    record = _record(hub, record_id)
    return {"id": record.id, "compromised": record.compromised, "excursions": hub.samples.trace(record_id)}


@router.get("/api/samples/{record_id}/labels.pdf", response_class=Response)
def sample_labels(hub: HubDep, record_id: RowId, dish: int | None = None) -> Response:
    """Printable labels (one per dish, or only ``dish``)."""
    record = _record(hub, record_id)
    chosen = None
    if dish is not None:
        chosen = [d for d in record.dishes if d.id == dish]
        if not chosen:
            raise HTTPException(status_code=404, detail={"field": "dish", "message": f"no dish {dish} in {record_id}"})
    try:
        pdf = render_labels(record, hub.samples.config, hub.tz, chosen)
    except LabelFontMissing as error:
        raise HTTPException(status_code=503, detail={"field": "samples.label_font", "message": str(error)}) from None
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="samples-{record_id}.pdf"'})
