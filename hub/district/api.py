"""The district's routes: a school hub posts its forwarded batches here, authenticated as its site; a district
inspector reads its schools, authenticated as itself and never beyond its scope."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import io
import time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.auth.credentials import csrf_for
from hub.auth.deps import same_origin
from hub.district import compliance, export, overview, paper, sessions, signoffs
from hub.district.inspectors import Inspector, authenticate
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore
from hub.district.wire import MAX_REQUEST_BYTES, RECORDS_PATH, SITE_PATTERN, BatchStored, ForwardBatch
from hub.safetext import CsvWriter, PlainText
from hub.samples.labels import LabelFontMissing

router = APIRouter()


def _store(request: Request) -> DistrictStore:
    store: DistrictStore = request.app.state.district
    return store


StoreDep = Annotated[DistrictStore, Depends(_store)]


def _settings(request: Request) -> DistrictSettings:
    settings: DistrictSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[DistrictSettings, Depends(_settings)]


def _bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer …`` header ('' for anything else)."""
    scheme, _, token = authorization.partition(" ")
    return token if scheme.lower() == "bearer" else ""


def school(store: StoreDep, x_xiaoan_site: Annotated[str, Header(max_length=64)] = "",
           authorization: Annotated[str, Header(max_length=512)] = "") -> str:
    """The site the request speaks for: its header and its bearer token must match; nothing in the body counts."""
    token = _bearer(authorization)
    if not token or not SITE_PATTERN.match(x_xiaoan_site) or not store.authenticate(x_xiaoan_site, token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "site or token not recognised · 学校或令牌无效",
                            headers={"WWW-Authenticate": "Bearer"})
    return x_xiaoan_site


SchoolDep = Annotated[str, Depends(school)]


class Health(BaseModel):
    worker: str
    schema_version: int


#: Content too large (the constant's name differs between Starlette versions).
_TOO_LARGE = 413


async def read_body(request: Request, cap: int = MAX_REQUEST_BYTES) -> bytes:
    """The request's bytes, refused past ``cap`` before more of it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise HTTPException(_TOO_LARGE, f"body over {cap} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise HTTPException(_TOO_LARGE, f"body over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(RECORDS_PATH, response_model=BatchStored,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": ForwardBatch.model_json_schema()}}}})
async def post_records(request: Request, site: SchoolDep, store: StoreDep) -> BatchStored:
    """Store a school's batch; the 200 is the confirmation, sent only after the commit.

    The body is read only after the school is authenticated (a body parameter would be
    read first, by anyone), and only up to ``MAX_REQUEST_BYTES``.
    """
    try:
        batch = ForwardBatch.model_validate_json(await read_body(request))
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_input=False)) from None
    stored = await run_in_threadpool(store.store, site, batch.records)
    return BatchStored(stored=stored.stored, duplicates=stored.duplicates)


@router.get("/district/v1/health", response_model=Health)
def health(store: StoreDep) -> Health:
    return Health(worker=store.worker, schema_version=store.schema_version)


#: The cookie a signed-in inspector's browser holds (hub.district.sessions).
SESSION_COOKIE = "xiaoan_district_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def check_csrf(request: Request, session_id: str, sent: str | None) -> None:
    """A cookie request that changes something comes from the district's own page: its CSRF token, no cross-site."""
    if not same_origin(request) or not sent or not hmac.compare_digest(sent, csrf_for(session_id)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token · 请刷新页面后重试")


async def session_of(request: Request, store: DistrictStore) -> tuple[str, Inspector | None]:
    """The page session's id (from its cookie) and its inspector (None: no session, or one that ended)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")[:100]
    found = await run_in_threadpool(sessions.session_inspector, store, session_id) if session_id else None
    return session_id, found


async def inspector(request: Request, store: StoreDep,
                    authorization: Annotated[str, Header(max_length=512)] = "") -> Inspector:
    """The district inspector of the bearer token (a school's token is not one), or of the page's session.

    A session may read; a request that changes something also carries the page's CSRF
    token (the sign-off route's header; the pages' forms check their own field).
    """
    token = _bearer(authorization)
    if token:
        found = await run_in_threadpool(authenticate, store, token)
    else:
        session_id, found = await session_of(request, store)
        if found is not None and request.method not in ("GET", "HEAD"):
            check_csrf(request, session_id, request.headers.get(CSRF_HEADER))
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not a district inspector's token · 令牌无效",
                            headers={"WWW-Authenticate": "Bearer"})
    return found


InspectorDep = Annotated[Inspector, Depends(inspector)]


class SchoolPublic(BaseModel):
    site: str
    name: str
    alarms: list[overview.SchoolAlarm]


@router.get("/district/v1/schools", response_model=list[overview.SchoolGlance])
def schools(store: StoreDep, who: InspectorDep) -> list[overview.SchoolGlance]:
    """The inspector's schools at a glance: silent schools first, then the most open alarms."""
    return overview.schools(store, who)


SiteParam = Annotated[str, Path(max_length=64)]


def visible_school(store: DistrictStore, who: Inspector, site: str) -> str:
    """The school's name, if the inspector may see it. A school outside the scope is a 403 whether it exists or
    not: the answer tells nothing about other districts' schools."""
    if not who.may_see(site):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not one of your schools · 非本人负责的学校")
    name = overview.site_name(store, site)
    if name is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such school · 无此学校")
    return name


@router.get("/district/v1/schools/{site}", response_model=SchoolPublic)
def school_page(store: StoreDep, who: InspectorDep, site: SiteParam) -> SchoolPublic:
    """One school's open alarms, newest first."""
    name = visible_school(store, who, site)
    return SchoolPublic(site=site, name=name, alarms=overview.school_alarms(store, site))


@router.get("/district/v1/schools/{site}/audit", response_model=overview.AuditCopy)
def school_audit(store: StoreDep, who: InspectorDep, site: SiteParam,
                 hash: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None) -> overview.AuditCopy:
    """The district's copy of the school's audit log, checked link by link.

    ``hash``: a chain head the school showed (its weekly report prints one) — the answer
    says where it is in the copy, or that the copy has no such entry.
    """
    visible_school(store, who, site)
    return overview.audit_copy(store, site, hash)


WeekParam = Annotated[str, Path(pattern=compliance.WEEK_PATTERN)]
#: The weekly table's columns in the CSV, in the order of ``SchoolWeek``'s fields.
_COLUMNS = ("学校代码", "学校", "最近联系", "报警数", "及时确认", "未确认", "冷藏冷冻超限时长（小时）",
            "检查提交", "逾期提交", "过快勾选", "超时未检", "留样餐次", "留样不足量（已说明）", "提前弃置",
            "隐患上报", "隐患验收", "工单逾期")
assert len(_COLUMNS) == len(dataclasses.fields(compliance.SchoolWeek))


def week_span_or_422(week: str, settings: DistrictSettings) -> tuple[float, float]:
    try:
        return compliance.week_span(week, ZoneInfo(settings.timezone))
    except ValueError:
        raise RequestValidationError([{"loc": ("path", "week"), "msg": f"{week} is not a week of its year",
                                       "type": "value_error"}]) from None


def _week_rows(store: DistrictStore, settings: DistrictSettings, who: Inspector,
               week: str) -> list[compliance.SchoolWeek]:
    start, end = week_span_or_422(week, settings)
    return compliance.weekly_table(store, who, start, end, time.time(), settings.ack_on_time_s)


@router.get("/district/v1/compliance/{week}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def compliance_pdf(store: StoreDep, settings: SettingsDep, who: InspectorDep, week: WeekParam) -> Response:
    """《区县每周食品安全汇总》: the table on landscape A4, with the inspector's own signature once given."""
    start, end = week_span_or_422(week, settings)
    rows = compliance.weekly_table(store, who, start, end, time.time(), settings.ack_on_time_s)
    try:
        body = paper.weekly_paper(rows, week, start, settings.name, ZoneInfo(settings.timezone), time.time(),
                                  settings.ack_on_time_s,
                                  signoffs.week_signoffs(store, who.name, week))
    except LabelFontMissing as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from None
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="district-{week}.pdf"'})


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The inspector's remarks (审核意见), one line.
    comment: Annotated[PlainText, Field(max_length=500)] = ""


class SignOffPublic(BaseModel):
    inspector: str
    display_name: str
    signed_at: float
    comment: str


@router.post("/district/v1/compliance/{week}/signoffs", response_model=SignOffPublic, status_code=201)
def sign_compliance(store: StoreDep, settings: SettingsDep, who: InspectorDep, week: WeekParam,
                    request: SignRequest) -> SignOffPublic:
    """Sign a finished week's table as the token's inspector (once; a week still running is a 422 naming
    ``week``, a second signature a 409)."""
    _, end = week_span_or_422(week, settings)
    if end > time.time():
        raise RequestValidationError([{"loc": ("path", "week"), "type": "value_error",
                                       "msg": f"{week} is not over yet: a week is signed once it has ended"}])
    try:
        signed = signoffs.sign_week(store, who, week, request.comment.strip())
    except signoffs.AlreadySigned:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{week} is already signed by {who.name} · 本周已签署") from None
    return SignOffPublic(**dataclasses.asdict(signed))


@router.get("/district/v1/compliance/{week}.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def compliance_csv(store: StoreDep, settings: SettingsDep, who: InspectorDep, week: WeekParam) -> Response:
    """The weekly table as a spreadsheet (UTF-8 with a BOM, which Excel needs to read Chinese)."""
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.writerow(_COLUMNS)
    for row in _week_rows(store, settings, who, week):
        cells = [getattr(row, f.name) for f in dataclasses.fields(row)]
        cells[2] = row.last_contact.isoformat(timespec="seconds") if row.last_contact else ""
        writer.writerow(cells)
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="district-{week}.csv"'})


@router.get("/district/v1/compliance/{week}", response_model=list[compliance.SchoolWeek])
def compliance_table(store: StoreDep, settings: SettingsDep, who: InspectorDep,
                     week: WeekParam) -> list[compliance.SchoolWeek]:
    """The week's table (YYYY-Www, Monday to Sunday in the district's time zone): one row per school in scope."""
    return _week_rows(store, settings, who, week)


@router.get("/district/v1/export/{site}/{dataset}", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}})
def export_feed(store: StoreDep, settings: SettingsDep, who: InspectorDep, site: SiteParam,
                dataset: export.Dataset, start: dt.datetime, end: dt.datetime,
                format: Annotated[str, Query(max_length=40)] = "csv") -> StreamingResponse:
    """A school's readings or sample records in ``[start, end)`` (at most 7 days), for a provincial platform.

    ``format``: ``csv``, ``jsonl`` or an installed adapter's name (docs/district.md, "Export").
    A time without an offset is the district's time zone.
    """
    visible_school(store, who, site)
    tz = ZoneInfo(settings.timezone)
    begin, finish = (t if t.tzinfo else t.replace(tzinfo=tz) for t in (start, end))
    if finish <= begin:
        raise RequestValidationError([{"loc": ("query", "end"), "type": "value_error", "msg": "must be after start"}])
    if (finish - begin).total_seconds() > export.MAX_SPAN_S:
        raise RequestValidationError([{"loc": ("query", "end"), "type": "value_error",
                                       "msg": f"at most {export.MAX_SPAN_S / 86_400:g} days after start"}])
    found = export.adapters()
    adapter = found.get(format)
    if adapter is None:
        raise RequestValidationError([{"loc": ("query", "format"), "type": "value_error",
                                       "msg": f"one of {', '.join(sorted(found))}"}])
    rows = export.rows_of(store, dataset, site, begin.timestamp(), finish.timestamp(), tz)
    name = f"{site}-{dataset.value}-{begin.astimezone(tz):%Y%m%d%H%M}.{adapter.extension}"
    return StreamingResponse(adapter.render(dataset, rows), media_type=adapter.media_type,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
