"""Food samples (留样): log a meal's samples, see what is held and when it may go, discard, labels, the daily record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from hub.api.deps import AccountsDep, RowId, SamplesDep, TzDep
from hub.auth.deps import require
from hub.auth.roles import Permission, allows
from hub.auth.store import AccountStore
from hub.auth.users import User, attribution
from hub.errors import FieldError, NotFound
from hub.samples import daily, rules
from hub.samples.config import SamplesConfig
from hub.samples.labels import LabelFontMissing, render_labels
from hub.samples.monitor import DishInput, SampleMonitor
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
    short_reason: str = Field(default="", max_length=200,
                              description="under the minimum weight: accepted as short only with this reason "
                                          "(otherwise 422 naming dishes.N.weight_g); add the portion later")


class PortionAdd(BaseModel):
    """Grams added to a short dish's box; the signed-in person is audited."""

    add_g: float = Field(gt=0, le=5000)


class DishCorrection(BaseModel):
    """Its author's correction of a wrong entry, while the samples are held; the signed-in person is audited."""

    name: str | None = Field(default=None, min_length=1, max_length=64)
    weight_g: float | None = Field(default=None, gt=0, le=5000)
    short_reason: str = Field(default="", max_length=200, description="needed when the corrected weight is short")
    reason: str = Field(min_length=1, max_length=200, description="what was wrong")


class SamplesCreate(BaseModel):
    meal: str = Field(min_length=1, max_length=32, description="breakfast / lunch / dinner (configured) or event")
    date: dt.date | None = Field(default=None, description="the meal's date (default: the day placed_at falls on)")
    occasion: str = Field(default="", max_length=64, description="what the event meal was (meal=event only)")
    placed_at: float | None = Field(default=None, ge=0, description="when the samples went in the cabinet (now)")
    placed_by: str = Field(default="", max_length=64,
                           description="the sampler's (留样人) username; default: the signed-in user")
    reviewer: str = Field(default="", max_length=64, description="the reviewer's (审核人) username")
    cabinet: str = Field(default="", max_length=130, description="the cabinet's sensor key (default: configured)")
    dishes: list[DishCreate] = Field(default_factory=list, max_length=100)


class PeopleUpdate(BaseModel):
    """Usernames of the people the record names; who made the change is the signed-in user."""

    placed_by: str = Field(default="", max_length=64, description="the sampler's username")
    reviewer: str = Field(default="", max_length=64, description="the reviewer's username")


class DiscardCreate(BaseModel):
    """The 弃样人 recorded is the signed-in user (their display name), never a name from the body."""

    at: float | None = Field(default=None, ge=0, description="when (default: now)")
    note: str = Field(default="", max_length=200)


class ExcursionPublic(BaseModel):
    """A cold-chain excursion of the cabinet while the samples were in it."""

    cabinet: str
    start: float
    end: float | None
    low: float
    high: float
    alert_ids: list[int]


class DishPublic(BaseModel):
    id: int
    name: str
    weight_g: float | None
    code: str | None
    logged_at: float
    source: str
    scanned_at: float | None
    underweight: bool
    short_reason: str = Field(description="why it was accepted under the minimum weight")
    logged_by: str = Field(description="the account or station that logged it (only it may correct it)")


class SamplePublic(BaseModel):
    """One meal's sample record, with its hold timer as of the answer."""

    id: int
    day: str
    meal: str
    meal_name: str
    occasion: str
    cabinet: str
    station: str
    placed_at: float
    placed_by: str
    reviewer: str
    held_until: float
    state: str = Field(description="held, due or discarded")
    remaining_s: float | None = Field(description="seconds still to hold; null once discarded")
    discardable_notice_at: float | None
    discarded_at: float | None
    discarded_by: str | None
    discard_note: str
    discarded_early: bool
    compromised: bool
    excursions: list[ExcursionPublic]
    dishes: list[DishPublic]
    labels: str = Field(description="the labels' PDF")

    @classmethod
    def of(cls, config: SamplesConfig, record: SampleRecord, now: float) -> SamplePublic:
        return cls(
            id=record.id, day=record.day, meal=record.meal, meal_name=config.meal_name(record.meal),
            occasion=record.occasion, cabinet=record.cabinet, station=record.station,
            placed_at=record.placed_at, placed_by=record.placed_by, reviewer=record.reviewer,
            held_until=record.held_until, state=rules.hold_state(now, record.held_until, record.discarded_at),
            remaining_s=max(0.0, record.held_until - now) if record.discarded_at is None else None,
            discardable_notice_at=record.notice_at,
            discarded_at=record.discarded_at, discarded_by=record.discarded_by,
            discard_note=record.discard_note, discarded_early=record.early,
            compromised=record.compromised,
            excursions=[ExcursionPublic(cabinet=e.cabinet, start=e.start, end=e.end, low=e.low, high=e.high,
                                        alert_ids=e.alert_ids) for e in record.excursions],
            dishes=[DishPublic(id=d.id, name=d.name, weight_g=d.weight_g, code=d.code, logged_at=d.logged_at,
                               source=d.source, scanned_at=d.scanned_at,
                               underweight=rules.underweight(d.weight_g, config.min_weight_g),
                               short_reason=d.short_reason, logged_by=d.logged_by)
                    for d in record.dishes],
            labels=f"/api/samples/{record.id}/labels.pdf",
        )


class UnderweightDish(BaseModel):
    name: str
    weight_g: float | None


class SamplesLogged(SamplePublic):
    """The record after logging: whether it was new, and the dishes under the minimum weight (alarmed)."""

    created: bool
    underweight: list[UnderweightDish]


class TracedReading(BaseModel):
    ts: float
    value: float | None
    fault: str | None


class TracedExcursion(ExcursionPublic):
    band: list[float] = Field(description="the cabinet's [low, high] limits")
    readings: list[TracedReading]


class SampleTracePublic(BaseModel):
    id: int
    compromised: bool
    excursions: list[TracedExcursion]


def _public(samples: SampleMonitor, record: SampleRecord) -> SamplePublic:
    return SamplePublic.of(samples.config, record, samples.clock())


def _person(accounts: AccountStore, field: str, username: str) -> str:
    """How the record names the account ``username`` (display name with username); 422 if no such enabled account.

    The sampler and the reviewer are data the record keeps, never who acts: only a real, enabled
    account may be named, so a record cannot name someone who does not exist or has left.
    """
    if not username.strip():
        return ""
    found = accounts.active_user(username)
    if found is None:
        raise FieldError(field, f"no enabled account {username.strip()!r} · 没有这个账号（请填写用户名）")
    return attribution(found.username, found.display_name)


def _record(samples: SampleMonitor, record_id: int) -> SampleRecord:
    record = samples.store.record(record_id)
    if record is None:
        raise NotFound("id", f"no sample record {record_id}")
    return record


@router.get("/api/samples")
def list_samples(samples: SamplesDep, state: Literal["held", "due", "discarded", "all"] | None = None,
                 date: Annotated[dt.date | None, Query(description="only this day's meals")] = None
                 ) -> list[SamplePublic]:
    """Sample records: ``held`` (still to keep, with when each may go), ``due`` (may be discarded now) …"""
    now = samples.clock()
    return [SamplePublic.of(samples.config, r, now) for r in samples.records(state, date, now)]


@router.post("/api/samples", status_code=201)
def log_samples(samples: SamplesDep, accounts: AccountsDep, user: SampleLogger,
                request: SamplesCreate) -> SamplesLogged:
    """Log a meal's samples (or add dishes to it); under-weight dishes are flagged and alarmed.

    ``placed_by`` and ``reviewer`` are usernames of enabled accounts (422 otherwise); the audit entry
    names the signed-in user at the hub's time. A discarded record takes no more dishes (409).
    """
    dishes = [DishInput(d.name, d.weight_g, d.code, d.short_reason) for d in request.dishes]
    placed_by = _person(accounts, "placed_by", request.placed_by) or attribution(user.username, user.display_name)
    result = samples.log_meal(request.meal, dishes, day=request.date, occasion=request.occasion,
                              placed_at=request.placed_at, placed_by=placed_by,
                              reviewer=_person(accounts, "reviewer", request.reviewer), cabinet=request.cabinet,
                              actor=user.username)
    return SamplesLogged(**dict(_public(samples, result.record)), created=result.created,
                         underweight=[UnderweightDish(name=d.name, weight_g=d.weight_g) for d in result.underweight])


@router.get("/api/samples/daily.csv", response_class=Response)
def daily_csv(samples: SamplesDep, tz: TzDep, date: dt.date) -> Response:
    """The day's 留样记录 as CSV (UTF-8 with BOM)."""
    table = daily.rows(samples.store.on_day(date.isoformat()), samples.config, tz)
    return Response(daily.to_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="samples-{date.isoformat()}.csv"'})


@router.get("/samples/daily", response_class=HTMLResponse, include_in_schema=False)
def daily_page(samples: SamplesDep, tz: TzDep, date: dt.date | None = None) -> str:
    day = date or samples.local_day(samples.clock())
    table = daily.rows(samples.store.on_day(day.isoformat()), samples.config, tz)
    return daily.to_html(day, table)


@router.get("/api/samples/{record_id}")
def get_sample(samples: SamplesDep, record_id: RowId) -> SamplePublic:
    return _public(samples, _record(samples, record_id))


@router.post("/api/samples/{record_id}/people")
def set_people(samples: SamplesDep, accounts: AccountsDep, user: SampleReviewer,
               record_id: RowId, request: PeopleUpdate) -> SamplePublic:
    """Set the sampler or the reviewer (审核人 signs after checking the samples); the sampler needs sample.log.

    Both are usernames of enabled accounts; the change is audited as the signed-in user's. A discarded
    record, or one in a period whose report is signed, is closed (409).
    """
    if request.placed_by.strip() and not allows(user.role, Permission.SAMPLE_LOG):
        raise FieldError("placed_by", f"role {user.role.value} may not sample.log", status=403)
    if not request.placed_by.strip() and not request.reviewer.strip():
        raise FieldError("reviewer", "give placed_by or reviewer")
    placed_by = _person(accounts, "placed_by", request.placed_by)
    reviewer = _person(accounts, "reviewer", request.reviewer)
    return _public(samples, samples.set_people(record_id, placed_by, reviewer, actor=user.username))


@router.post("/api/samples/{record_id}/dishes/{dish_id}/portion")
def add_portion(samples: SamplesDep, user: SampleLogger, record_id: RowId, dish_id: RowId,
                request: PortionAdd) -> SamplePublic:
    """Top up a short dish; at the minimum weight its alarm ends. Closed once discarded or signed (409)."""
    return _public(samples, samples.add_portion(record_id, dish_id, request.add_g, actor=user.username))


@router.post("/api/samples/{record_id}/dishes/{dish_id}/correct")
def correct_dish(samples: SamplesDep, user: SampleLogger, record_id: RowId, dish_id: RowId,
                 request: DishCorrection) -> SamplePublic:
    """The person who logged a dish corrects its name or weight before the retention ends (audited, before/after).

    Someone else's entry is 403; after the retention period, once discarded, or in a signed period, 409.
    """
    return _public(samples, samples.correct_dish(record_id, dish_id, name=request.name, weight_g=request.weight_g,
                                                 short_reason=request.short_reason, reason=request.reason,
                                                 actor=user.username))


@router.post("/api/samples/{record_id}/discard")
def discard_samples(samples: SamplesDep, user: SampleReviewer, record_id: RowId,
                    request: DiscardCreate) -> SamplePublic:
    """Record the discard; before the retention period ends it is recorded and raises a critical alarm."""
    return _public(samples, samples.discard(record_id, attribution(user.username, user.display_name), request.at,
                                            request.note, actor=user.username))


@router.get("/api/samples/{record_id}/trace")
def sample_trace(samples: SamplesDep, record_id: RowId) -> SampleTracePublic:
    """The cabinet's temperature through every excursion that touched these samples."""
    record = _record(samples, record_id)
    return SampleTracePublic.model_validate({"id": record.id, "compromised": record.compromised,
                                             "excursions": samples.trace(record_id)})


@router.get("/api/samples/{record_id}/labels.pdf", response_class=Response)
def sample_labels(samples: SamplesDep, tz: TzDep, record_id: RowId, dish: int | None = None) -> Response:
    """Printable labels (one per dish, or only ``dish``)."""
    record = _record(samples, record_id)
    chosen = None
    if dish is not None:
        chosen = [d for d in record.dishes if d.id == dish]
        if not chosen:
            raise NotFound("dish", f"no dish {dish} in {record_id}")
    try:
        pdf = render_labels(record, samples.config, tz, chosen)
    except LabelFontMissing as error:
        raise HTTPException(status_code=503, detail={"field": "samples.label_font", "message": str(error)}) from None
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="samples-{record_id}.pdf"'})
