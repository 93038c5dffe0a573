"""Reports: the weekly / daily / monthly / range report as JSON and PDF, the raw readings as CSV, sign-off.

The four periods are one route family: each period kind names how its query reads
(``?week=``, ``?date=``, ``?month=``, ``?start=&end=``) and gets the same two routes,
``/api/reports/{kind}`` (JSON) and ``/api/reports/{kind}.pdf``, from one pair of
handlers. A new period kind is one entry in ``PERIOD_QUERIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from hub.api.deps import ReportsDep, StateDep, TzDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User, attribution
from hub.errors import FieldError
from hub.report import period as periods
from hub.report.model import Report
from hub.report.period import Period, PeriodKind
from hub.report.service import kind_of
from hub.report.store import SignOff

router = APIRouter(prefix="/api/reports", tags=["reports"])
Viewer = Annotated[User, Depends(require(Permission.REPORT_VIEW))]
Signer = Annotated[User, Depends(require(Permission.REPORT_SIGN))]

#: A report as the API shows it: the built report itself, section by section (``hub.report.model.Report``).
ReportPublic = Report
#: A signature of a period's report (``hub.report.store.SignOff``).
SignOffPublic = SignOff

WeekQuery = Annotated[str, Query(description="ISO week, e.g. 2026-W47 (Monday–Sunday, school time zone)")]
DateQuery = Annotated[str, Query(description="local date, e.g. 2026-11-18")]
MonthQuery = Annotated[str, Query(description="month, e.g. 2026-11")]


# -- the periods, each read from its own query (a PeriodError is the app's 422 naming the parameter) --


def weekly_period(tz: TzDep, week: WeekQuery) -> Period:
    return periods.week(week, tz)


def daily_period(tz: TzDep, date: DateQuery) -> Period:
    return periods.day(date, tz)


def monthly_period(tz: TzDep, month: MonthQuery) -> Period:
    return periods.month(month, tz)


def range_period(tz: TzDep, start: DateQuery, end: DateQuery) -> Period:
    return periods.date_range(start, end, tz)


#: Each period kind and the dependency that reads its period from the query.
PERIOD_QUERIES: dict[PeriodKind, Callable[..., Period]] = {
    "weekly": weekly_period,
    "daily": daily_period,
    "monthly": monthly_period,
    "range": range_period,
}
#: Route names, and so the OpenAPI operation ids generated clients call, as they were before the family.
ROUTE_NAMES: dict[PeriodKind, str] = {"range": "date_range"}


def _report_routes(kind: PeriodKind, read_period: Callable[..., Period]) -> None:
    """``/{kind}`` and ``/{kind}.pdf`` for one period kind: the same handlers, its own query."""
    name = ROUTE_NAMES.get(kind, kind)

    def report(reports: ReportsDep, _user: Viewer,
               period: Period = Depends(read_period)) -> Report:  # noqa: B008 - the kind's query, bound here
        return reports.build(period)

    def report_pdf(reports: ReportsDep, _user: Viewer,
                   period: Period = Depends(read_period)) -> Response:  # noqa: B008 - as above
        name = f"xiaoan-{period.kind}-{period.label.replace('..', '_')}.pdf"
        return Response(reports.pdf(period), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    router.add_api_route(f"/{kind}", report, methods=["GET"], response_model=ReportPublic, name=name,
                         summary=f"The {kind} report")
    router.add_api_route(f"/{kind}.pdf", report_pdf, methods=["GET"], response_class=Response,
                         name=f"{name}_pdf", summary=f"The {kind} report as PDF",
                         responses={200: {"content": {"application/pdf": {}}}})


for _kind, _read in PERIOD_QUERIES.items():
    _report_routes(_kind, _read)


@router.get("/readings.csv")
def readings_csv(reports: ReportsDep, store: StateDep, _user: Viewer,
                 period: Annotated[Period, Depends(range_period)],
                 sensor: Annotated[str | None, Query(max_length=130, description="one sensor key")] = None,
                 ) -> StreamingResponse:
    """Raw readings of the local days ``start``..``end`` (inclusive), streamed."""
    if sensor is not None and sensor not in {s["key"] for s in store.sensors()}:
        raise FieldError("sensor", f"no sensor {sensor!r}")
    name = f"xiaoan-readings-{period.label.replace('..', '_')}.csv"
    return StreamingResponse(reports.csv(period, sensor), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


class SignOffCreate(BaseModel):
    kind: str = Field(default="weekly", description="weekly, daily, monthly or range")
    period: str = Field(min_length=1, max_length=32,
                        description="2026-W47, 2026-11-18, 2026-11 or 2026-11-01..2026-11-30")
    comment: str = Field(default="", max_length=2000, description="the reviewer's remarks (审核意见)")


@router.get("/signoffs")
def signoffs(reports: ReportsDep, _user: Viewer,
             kind: Annotated[str | None, Query(description="weekly, daily, monthly or range")] = None,
             period: Annotated[str | None, Query(max_length=32)] = None) -> list[SignOffPublic]:
    if kind is not None:
        kind_of(kind)  # refuses an unknown kind (422)
    return reports.store.signoffs(kind, period)


@router.post("/signoffs", status_code=201)
def sign(reports: ReportsDep, tz: TzDep, user: Signer, request: SignOffCreate) -> SignOffPublic:
    """The safety officer signs a period's report; the signer is the signed-in user."""
    period = periods.parse(kind_of(request.kind), request.period, tz)
    return reports.sign(period, user.username, attribution(user.username, user.display_name), request.comment)

