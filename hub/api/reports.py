"""Reports: the weekly / daily / monthly / range report as JSON and PDF, the raw readings as CSV, sign-off."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from hub.api.deps import HubDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.report import period as periods
from hub.report.period import Period
from hub.report.service import ReportError, kind_of
from hub.runtime import Hub

router = APIRouter(prefix="/api/reports", tags=["reports"])
Viewer = Annotated[User, Depends(require(Permission.REPORT_VIEW))]
Signer = Annotated[User, Depends(require(Permission.REPORT_SIGN))]


def _field_error(error: periods.PeriodError | ReportError, status: int = 422) -> HTTPException:
    return HTTPException(status_code=status, detail={"field": error.field, "message": error.message})


def _period(make: Callable[[], Period]) -> Period:
    try:
        found = make()
    except periods.PeriodError as error:
        raise _field_error(error) from None
    return found


def _json(hub: Hub, period: Period) -> dict[str, Any]:
    return dataclasses.asdict(hub.reports.build(period))


def _pdf(hub: Hub, period: Period) -> Response:
    name = f"xiaoan-{period.kind}-{period.label.replace('..', '_')}.pdf"
    return Response(hub.reports.pdf(period), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


WeekQuery = Annotated[str, Query(description="ISO week, e.g. 2026-W47 (Monday–Sunday, school time zone)")]
DateQuery = Annotated[str, Query(description="local date, e.g. 2026-11-18")]
MonthQuery = Annotated[str, Query(description="month, e.g. 2026-11")]


@router.get("/weekly")
def weekly(hub: HubDep, _user: Viewer, week: WeekQuery) -> dict[str, Any]:
    return _json(hub, _period(lambda: periods.week(week, hub.tz)))


@router.get("/weekly.pdf")
def weekly_pdf(hub: HubDep, _user: Viewer, week: WeekQuery) -> Response:
    return _pdf(hub, _period(lambda: periods.week(week, hub.tz)))


@router.get("/daily")
def daily(hub: HubDep, _user: Viewer, date: DateQuery) -> dict[str, Any]:
    return _json(hub, _period(lambda: periods.day(date, hub.tz)))


@router.get("/daily.pdf")
def daily_pdf(hub: HubDep, _user: Viewer, date: DateQuery) -> Response:
    return _pdf(hub, _period(lambda: periods.day(date, hub.tz)))


@router.get("/monthly")
def monthly(hub: HubDep, _user: Viewer, month: MonthQuery) -> dict[str, Any]:
    return _json(hub, _period(lambda: periods.month(month, hub.tz)))


@router.get("/monthly.pdf")
def monthly_pdf(hub: HubDep, _user: Viewer, month: MonthQuery) -> Response:
    return _pdf(hub, _period(lambda: periods.month(month, hub.tz)))


@router.get("/range")
def date_range(hub: HubDep, _user: Viewer, start: DateQuery, end: DateQuery) -> dict[str, Any]:
    return _json(hub, _period(lambda: periods.date_range(start, end, hub.tz)))


@router.get("/range.pdf")
def date_range_pdf(hub: HubDep, _user: Viewer, start: DateQuery, end: DateQuery) -> Response:
    return _pdf(hub, _period(lambda: periods.date_range(start, end, hub.tz)))


@router.get("/readings.csv")
def readings_csv(hub: HubDep, _user: Viewer, start: DateQuery, end: DateQuery,
                 sensor: Annotated[str | None, Query(max_length=130, description="one sensor key")] = None,
                 ) -> StreamingResponse:
    """Raw readings of the local days ``start``..``end`` (inclusive), streamed."""
    period = _period(lambda: periods.date_range(start, end, hub.tz))
    if sensor is not None and sensor not in {s["key"] for s in hub.state.sensors()}:
        raise HTTPException(status_code=422, detail={"field": "sensor", "message": f"no sensor {sensor!r}"})
    name = f"xiaoan-readings-{period.label.replace('..', '_')}.csv"
    return StreamingResponse(hub.reports.csv(period, sensor), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


class SignOffCreate(BaseModel):
    kind: str = Field(default="weekly", description="weekly, daily, monthly or range")
    period: str = Field(min_length=1, max_length=32,
                        description="2026-W47, 2026-11-18, 2026-11 or 2026-11-01..2026-11-30")
    comment: str = Field(default="", max_length=2000, description="the reviewer's remarks (审核意见)")


@router.get("/signoffs")
def signoffs(hub: HubDep, _user: Viewer,
             kind: Annotated[str | None, Query(description="weekly, daily, monthly or range")] = None,
             period: Annotated[str | None, Query(max_length=32)] = None) -> list[dict[str, Any]]:
    if kind is not None:
        try:
            kind_of(kind)
        except ReportError as error:
            raise _field_error(error) from None
    return [dataclasses.asdict(s) for s in hub.reports.store.signoffs(kind, period)]


@router.post("/signoffs", status_code=201)
def sign(hub: HubDep, user: Signer, request: SignOffCreate) -> dict[str, Any]:
    """The safety officer signs a period's report; the signer is the signed-in user."""
    try:
        period = periods.parse(kind_of(request.kind), request.period, hub.tz)
    except periods.PeriodError as error:
        raise HTTPException(status_code=422, detail={"field": "period", "message": error.message}) from None
    except ReportError as error:
        raise _field_error(error) from None
    try:
        signed = hub.reports.sign(period, user.username, user.display_name, request.comment)
    except ReportError as error:
        raise _field_error(error, error.status) from None
    return dataclasses.asdict(signed)
