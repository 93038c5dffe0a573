"""Checklists and work orders: what is due, fill one in, report a hazard, move a work order along.

Who did it is always the signed-in account (never a field of the body); the service
writes each step to the record and the audit chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from edge.wire import MAX_TS
from hub.api.deps import AccountsDep, ChecksDep, PhotoRootDep, ReportsDep, RowId, SettingsDep
from hub.auth.deps import require
from hub.auth.roles import Permission, allows
from hub.auth.users import User
from hub.checks.config import KEY_PATTERN, TemplateConfig
from hub.checks.kinds import (
    OPEN_ORDER_STATES,
    Answer,
    AutoSource,
    Cadence,
    Category,
    ItemKind,
    OrderState,
    ScanState,
    Urgency,
)
from hub.checks.service import AnswerInput, ChecksService, DueCheck
from hub.checks.store import CheckRun, Rejection, ScanReport, WorkOrder
from hub.errors import FieldError, NotFound
from hub.report import records
from hub.samples.labels import LabelFontMissing
from hub.web import photos

router = APIRouter(tags=["checks"], dependencies=[Depends(require(Permission.VIEW))])

Filler = Annotated[User, Depends(require(Permission.CHECK_FILL))]
Reporter = Annotated[User, Depends(require(Permission.HAZARD_REPORT))]
Fixer = Annotated[User, Depends(require(Permission.ORDER_FIX))]
Assigner = Annotated[User, Depends(require(Permission.ORDER_ASSIGN))]
Editor = Annotated[User, Depends(require(Permission.CHECK_EDIT))]
#: Who reviews completed checklists and sends a line back: the safety group (the canteen manager, the officer).
Reviewer = Annotated[User, Depends(require(Permission.ORDER_ACCEPT))]
TemplateKey = Annotated[str, PathParam(pattern=KEY_PATTERN)]


class PrefillPublic(BaseModel):
    answer: Answer | None = Field(description="what the hub's data says (null: it cannot tell)")
    evidence: str
    link: str


class ItemPublic(BaseModel):
    key: str
    text: str
    section: str
    kind: ItemKind
    low: float | None
    high: float | None
    unit: str
    key_item: bool
    auto: AutoSource | None
    photo: bool
    options: list[str]
    fail_options: list[str]
    place: str = Field(description="answered only after scanning this place's code ('' : on the checklist)")
    prefill: PrefillPublic | None


class ChecklistPublic(BaseModel):
    """A checklist of the current period: due when, done or not, its items with the automatic answers."""

    key: str
    name: str
    cadence: Cadence
    place: str
    role: str | None
    period: str
    due_day: dt.date | None
    deadline: float | None
    overdue: bool
    version: str
    run_id: int | None
    items: list[ItemPublic]

    @classmethod
    def of(cls, check: DueCheck, now: float) -> ChecklistPublic:
        template = check.template
        return cls(key=check.key, name=template.name, cadence=template.cadence, place=template.place,
                   role=template.role.value if template.role else None, period=check.period,
                   due_day=check.due_day, deadline=check.deadline, overdue=check.overdue(now),
                   version=template.version(), run_id=check.run.id if check.run else None,
                   items=_items(template, check))


def _items(template: TemplateConfig, check: DueCheck) -> list[ItemPublic]:
    out = []
    for item in template.items:
        found = check.prefills.get(item.key)
        out.append(ItemPublic(key=item.key, text=item.text, section=item.section, kind=item.kind, low=item.low,
                              high=item.high, unit=item.unit, key_item=item.key_item, auto=item.auto,
                              photo=item.photo, options=item.options, fail_options=item.fail_options,
                              place=item.place,
                              prefill=PrefillPublic(answer=found.answer, evidence=found.evidence, link=found.link)
                              if found else None))
    return out


#: A photo's name as the upload answered it (its SHA-256 and type).
PhotoName = Annotated[str, Field(pattern=photos.NAME.pattern)]
#: Photos one answer may carry.
MAX_ITEM_PHOTOS = 5
#: Photos waiting for their checklist, per account (taken, not yet submitted); more is refused until submitted.
MAX_STAGED_PHOTOS = 30


class AnswerCreate(BaseModel):
    item: str = Field(min_length=1, max_length=40)
    answer: Answer | None = Field(default=None, description="ok / fail / na (a number item may give only value)")
    value: float | None = Field(default=None, ge=-1000, le=1000, allow_inf_nan=False)
    text: str = Field(default="", max_length=2000)
    note: str = Field(default="", max_length=1000,
                      description="what was found: needed for a failure and to override an automatic answer")
    photos: list[PhotoName] = Field(default_factory=list, max_length=MAX_ITEM_PHOTOS,
                                    description="names of photos uploaded to /api/checks/photos for this answer")


class ChecklistSubmit(BaseModel):
    answers: list[AnswerCreate] = Field(max_length=200)
    opened_at: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False,
                             description="when the checklist was opened (from the page)")
    request_id: str | None = Field(default=None, min_length=8, max_length=64,
                                   description="the same id again (a retry) answers the stored checklist")
    period: str | None = Field(default=None, max_length=16, description="default: the current period")


class PlaceLinesSubmit(BaseModel):
    """Lines of a checklist answered at a place, after scanning its code (the scan's id is on that page)."""

    scan: int = Field(ge=1, le=2**62, description="the scan the place's code opened")
    answers: list[AnswerCreate] = Field(min_length=1, max_length=200)
    period: str | None = Field(default=None, max_length=16, description="default: the current period")


class PlaceLinePublic(BaseModel):
    item: str
    answer: Answer | None
    value: float | None
    answered_by: str
    answered_at: float
    scan_place: str
    scanned_at: float


class AnswerPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    item: str
    answer: Answer | None
    value: float | None
    text: str
    note: str
    auto: str | None
    evidence: str
    overridden: bool
    answered_by: str
    answered_at: float
    order_id: int | None
    photos: list[str] = Field(description="photo names; each at /api/checks/runs/{id}/photos/{name}")
    scan_place: str = Field(description="the place whose code was scanned to answer the line ('' : none)")
    scanned_at: float | None


class ChecklistRunPublic(BaseModel):
    id: int
    template: str
    period: str
    name: str
    version: str
    opened_at: float
    submitted_at: float
    submitted_by: str
    duration_s: float
    too_fast: bool = Field(description="ticked faster than checks.min_duration_s (flagged, not refused)")
    late: bool
    failed: int
    answers: list[AnswerPublic]
    created: bool = True

    @classmethod
    def of(cls, run: CheckRun, created: bool = True) -> ChecklistRunPublic:
        return cls.model_validate({**vars(run), "duration_s": run.duration_s, "created": created},
                                  from_attributes=True)


class CheckPhotoPublic(BaseModel):
    name: str = Field(description="name it in the answer's photos")


class StepPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ts: float
    actor: str
    action: str
    state: OrderState
    note: str


class WorkOrderPublic(BaseModel):
    id: int
    title: str
    place: str
    text: str
    urgency: Urgency
    state: OrderState
    overdue: bool
    reported_by: str
    reported_at: float
    due_at: float
    assignee: str
    fix_note: str
    fixed_by: str
    fixed_at: float | None
    accepted_by: str
    accepted_at: float | None
    run_id: int | None
    item: str
    category: Category
    steps: list[StepPublic]
    photos: list[str] = Field(default_factory=list, description="URLs of the order's photos, oldest first")

    @classmethod
    def of(cls, order: WorkOrder, now: float, photo_root: Path | None = None) -> WorkOrderPublic:
        listed = photos.listing(order_photos(photo_root), order.id) if photo_root is not None else []
        return cls.model_validate({
            **vars(order), "overdue": order.state in OPEN_ORDER_STATES and now >= order.due_at,
            "photos": [f"/api/workorders/{order.id}/photos/{name}" for name in listed]}, from_attributes=True)


def order_photos(photo_root: Path) -> Path:
    """Where work orders' photos are kept (beside the alarms' photos, numbered by order)."""
    return photo_root / "orders"


class OrderPhotoPublic(BaseModel):
    order_id: int
    name: str
    url: str


class ScanReportPublic(BaseModel):
    id: int
    place_id: int
    place: str
    category: Category
    text: str
    received_at: float
    state: ScanState
    triaged_by: str
    triaged_at: float | None
    note: str
    order_id: int | None


def scan_report_public(checks: ChecksService, report: ScanReport) -> ScanReportPublic:
    place = checks.store.place(report.place_id)
    return ScanReportPublic(place=place.name if place else "", **{
        name: getattr(report, name) for name in ScanReportPublic.model_fields if name != "place"})


class HazardCreate(BaseModel):
    title: str = Field(min_length=1, max_length=80, description="what is wrong, e.g. 实验楼二楼门锁坏")
    place: str = Field(default="", max_length=60)
    text: str = Field(default="", max_length=1000)
    urgency: Urgency = Urgency.NORMAL
    category: Category = Category.OTHER


class AssignCreate(BaseModel):
    assignee: str = Field(min_length=1, max_length=64, description="username of an enabled account")
    due_at: float | None = Field(default=None, ge=0, le=MAX_TS, allow_inf_nan=False,
                                 description="default: by the urgency")
    note: str = Field(default="", max_length=500)


class FixCreate(BaseModel):
    note: str = Field(min_length=1, max_length=1000, description="what was done")


class AcceptCreate(BaseModel):
    note: str = Field(default="", max_length=500)


class ReopenCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=1000)


def _order(checks: ChecksService, order: WorkOrder, photo_root: Path) -> WorkOrderPublic:
    return WorkOrderPublic.of(order, checks.clock(), photo_root)


@router.get("/api/checks")
def due_checks(checks: ChecksDep) -> list[ChecklistPublic]:
    """The checklists of the current day, week and month, with the automatic answers as of now."""
    now = checks.clock()
    return [ChecklistPublic.of(check, now) for check in checks.due(now)]


class TemplatePublic(BaseModel):
    """A template in force: the config's (revision 0) or the newest saved on the page."""

    key: str
    revision: int
    version: str = Field(description="a hash of the template; a completed checklist names the one it was filled with")
    edited_by: str
    edited_at: float | None
    template: TemplateConfig


class TemplateRemoved(BaseModel):
    key: str
    revision: int


def templates_public(checks: ChecksService) -> list[TemplatePublic]:
    latest = {r.key: r for r in checks.store.latest_templates()}
    out = []
    for key, template in checks.templates().items():
        saved = latest.get(key)
        out.append(TemplatePublic(key=key, revision=saved.revision if saved else 0, version=template.version(),
                                  edited_by=saved.saved_by if saved else "",
                                  edited_at=saved.saved_at if saved else None, template=template))
    return out


@router.get("/api/checks/templates")
def check_templates(checks: ChecksDep) -> list[TemplatePublic]:
    """The checklist templates in force, with the revision each is at."""
    return templates_public(checks)


@router.put("/api/checks/templates/{key}")
def save_check_template(checks: ChecksDep, user: Editor, key: TemplateKey, body: TemplateConfig) -> TemplatePublic:
    """Save a template (a new one, or a new revision): items in the order given, their kinds, the schedule.

    Checklists already completed keep the template they were filled with.
    """
    checks.save_template(key, body, actor=user.username)
    return next(t for t in templates_public(checks) if t.key == key)


@router.delete("/api/checks/templates/{key}")
def remove_check_template(checks: ChecksDep, user: Editor, key: TemplateKey) -> TemplateRemoved:
    """No longer ask for this checklist (its completed ones stay on the record)."""
    return TemplateRemoved(key=key, revision=checks.remove_template(key, actor=user.username))


@router.get("/api/checks/runs")
def check_runs(checks: ChecksDep, since: Annotated[float, Query(ge=0)] = 0.0,
               until: Annotated[float | None, Query(ge=0)] = None) -> list[ChecklistRunPublic]:
    """Completed checklists submitted in ``[since, until)``."""
    end = until if until is not None else checks.clock() + 1
    return [ChecklistRunPublic.of(run) for run in checks.runs_between(since, end)]


@router.post("/api/checks/photos", status_code=201)
async def upload_check_photo(root: PhotoRootDep, user: Filler, photo: UploadFile) -> CheckPhotoPublic:
    """A photo taken for a checklist's item, before the checklist is submitted (name it in the answer's
    ``photos``). JPEG, PNG or WebP, at most 8 MB; a file of another type: 422; too large: 413."""
    data = await photo.read(photos.MAX_BYTES + 1)
    staged = staging(root, user)
    name = photos.save(staged.parent, staged.name, data, limit=MAX_STAGED_PHOTOS)
    return CheckPhotoPublic(name=name)


@router.post("/api/checks/{template}", status_code=201)
def submit_check(checks: ChecksDep, root: PhotoRootDep, user: Filler, template: str,
                 request: ChecklistSubmit) -> ChecklistRunPublic:
    """Submit a completed checklist; every failed item needs a note and opens a work order.

    Ticked faster than ``checks.min_duration_s``: stored and flagged. The period's checklist already
    on record: 409 (the same ``request_id`` again answers it, ``created`` false).
    """
    retry = checks.store.by_request(request.request_id) if request.request_id else None
    staged = staging(root, user)
    if retry is None:  # a retry's photos were kept with it the first time
        for index, a in enumerate(request.answers):
            for name in a.photos:
                if photos.path_of(staged.parent, staged.name, name) is None:
                    raise FieldError(f"answers.{index}.photos", f"no photo {name!r} uploaded · 照片未上传")
    answers = [AnswerInput(a.item, a.answer, a.value, a.text, a.note, tuple(dict.fromkeys(a.photos)))
               for a in request.answers]
    done = checks.submit(template, answers, request.opened_at, actor=user.username, request_id=request.request_id,
                         period=request.period)
    if done.created:
        _keep_photos(root, staged, done.run)
        _keep_photos(root, walk_photos(root, done.run.template, done.run.period), done.run)
    return ChecklistRunPublic.of(done.run, done.created)


@router.post("/api/checks/{template}/lines", status_code=201)
def submit_place_lines(checks: ChecksDep, root: PhotoRootDep, user: Filler, template: str,
                       request: PlaceLinesSubmit) -> list[PlaceLinePublic]:
    """Answer a checklist's lines at the place just scanned (only that place's lines, only by who scanned,
    while the scan is fresh); they are kept with the scan's place and time until the checklist is submitted."""
    staged = staging(root, user)
    for index, a in enumerate(request.answers):
        for name in a.photos:
            if photos.path_of(staged.parent, staged.name, name) is None:
                raise FieldError(f"answers.{index}.photos", f"no photo {name!r} uploaded · 照片未上传")
    answers = [AnswerInput(a.item, a.answer, a.value, a.text, a.note, tuple(dict.fromkeys(a.photos)))
               for a in request.answers]
    lines = checks.fill_at_place(template, request.scan, answers, actor=user.username, period=request.period)
    walk = walk_photos(root, template, lines[0].period)
    for line in lines:
        for name in line.photos:
            if (staged / name).is_file():
                photos.move(staged / name, walk / name)
    return [PlaceLinePublic.model_validate(vars(line)) for line in lines]


def walk_photos(photo_root: Path, template: str, period: str) -> Path:
    """Where the photos of a checklist's lines answered at their places wait for the checklist."""
    return check_photos(photo_root) / f"walk-{template}-{period}"


def staging(photo_root: Path, user: User) -> Path:
    """Where one account's photos wait for the checklist they were taken for."""
    return check_photos(photo_root) / f"staged-{user.id}"


def check_photos(photo_root: Path) -> Path:
    """Where checklists' photos are kept (beside the alarms' and the work orders', numbered by checklist)."""
    return photo_root / "checks"


def _keep_photos(photo_root: Path, staged: Path, run: CheckRun) -> None:
    """Move a submitted checklist's photos to it; a failed item's photos also go with its work order."""
    for answer in run.answers:
        for name in answer.photos:
            source = staged / name
            if answer.order_id is not None and source.is_file():
                photos.save(order_photos(photo_root), answer.order_id, source.read_bytes())
            if source.is_file():
                photos.move(source, check_photos(photo_root) / str(run.id) / name)


class RejectCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="what is wrong with the line, for its person")


class RefillCreate(AnswerCreate):
    scan: int | None = Field(default=None, ge=1, le=2**62,
                             description="a line of a place: the scan of its code just made")


class RejectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: int
    item: str
    item_text: str
    checklist: str
    period: str
    person: str
    reason: str
    rejected_by: str
    rejected_at: float
    refilled_at: float | None


def rejection_public(checks: ChecksService, rejection: Rejection) -> RejectionPublic:
    run = checks.store.run(rejection.run_id)
    template = TemplateConfig.model_validate_json(run.template_json) if run is not None else None
    item = template.item(rejection.item) if template is not None else None
    return RejectionPublic.model_validate({**vars(rejection), "item_text": item.text if item else rejection.item,
                                           "checklist": template.name if template else "",
                                           "period": run.period if run else ""})


@router.post("/api/checks/runs/{run_id}/items/{item}/reject", status_code=201)
def reject_line(checks: ChecksDep, user: Reviewer, run_id: RowId, item: Annotated[str, PathParam(max_length=40)],
                request: RejectCreate) -> RejectionPublic:
    """Send a line back to the person who answered it, with the reason (they see it in their list and fill it
    again). Not a line of a signed period (409)."""
    return rejection_public(checks, checks.reject(run_id, item, request.reason, actor=user.username))


@router.get("/api/checks/rejections")
def rejections(checks: ChecksDep, user: Filler,
               everyone: Annotated[bool, Query(description="the safety group: everyone's")] = False
               ) -> list[RejectionPublic]:
    """Lines sent back and waiting to be filled again: one's own, or (``order.accept``) everyone's."""
    person = None if everyone and allows(user.role, Permission.ORDER_ACCEPT) else user.username
    return [rejection_public(checks, r) for r in checks.store.open_rejections(person)]


@router.post("/api/checks/rejections/{rejection_id}/refill")
def refill_line(checks: ChecksDep, root: PhotoRootDep, user: Filler, rejection_id: RowId,
                request: RefillCreate) -> RejectionPublic:
    """Fill a line sent back to you again (a line of a place: after scanning its code again)."""
    staged = staging(root, user)
    for name in request.photos:
        if photos.path_of(staged.parent, staged.name, name) is None:
            raise FieldError("photos", f"no photo {name!r} uploaded · 照片未上传")
    answer = AnswerInput(request.item, request.answer, request.value, request.text, request.note,
                         tuple(dict.fromkeys(request.photos)))
    done = checks.refill(rejection_id, answer, actor=user.username, scan_id=request.scan)
    for name in answer.photos:
        photos.move(staged / name, check_photos(root) / str(done.run_id) / name)
    return rejection_public(checks, done)


@router.get("/api/checks/runs/{run_id}/photos/{name}", response_class=FileResponse)
def check_photo(root: PhotoRootDep, run_id: RowId, name: str, thumb: bool = False) -> FileResponse:
    """A checklist line's photo (``thumb``: a small JPEG of it, for lists)."""
    path = photos.path_of(check_photos(root), run_id, name)
    if path is None:
        raise NotFound("name", f"no photo {name!r}")
    if thumb:
        path = photos.thumbnail(path)
    return FileResponse(path, media_type=photos.MEDIA_TYPES[path.suffix[1:]],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"})


Reader = Annotated[User, Depends(require(Permission.REPORT_VIEW))]
#: A month of this century: year 0 (or 9999, whose next month is year 10000) is no date Python can hold.
MonthKey = Annotated[str, PathParam(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")]
WeekKey = Annotated[str, PathParam(pattern=r"^20\d{2}-W(0[1-9]|[1-4]\d|5[0-3])$")]
_PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_XLSX: dict[int | str, dict[str, Any]] = {200: {"content": {XLSX_TYPE: {}}}}


def _xlsx(body: bytes, filename: str) -> Response:
    return Response(body, media_type=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _pdf(render: Callable[[], bytes], filename: str) -> Response:
    try:
        body = render()
    except LabelFontMissing as error:
        raise HTTPException(status_code=503, detail={"field": "samples.label_font", "message": str(error)}) from None
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


@router.get("/api/checks/records/daily/{day}.pdf", response_class=Response, responses=_PDF)
def daily_record_pdf(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                     day: dt.date) -> Response:
    """《每日食品安全检查记录》 of ``day``: the daily checklist as filled (the blank form when it was not), and who
    signed the day off (``POST /api/reports/signoffs`` with kind ``daily``)."""
    record = checks.daily_record(day)
    signed = reports.store.signoffs("daily", day.isoformat())
    return _pdf(lambda: records.daily_record(record, day, settings.rules.report.school, checks.tz, checks.clock(),
                                             settings.rules.samples.label_font, signed), f"daily-record-{day}.pdf")


def _monday(week: str) -> dt.date:
    """The Monday of an ISO week like ``2026-W42`` (W53 of a year that has 52 weeks is a 422 naming ``week``)."""
    year, number = week.split("-W")
    try:
        return dt.date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise FieldError("week", f"{week} is not a week of {year}") from None


@router.get("/api/checks/records/weekly/{week}.pdf", response_class=Response, responses=_PDF)
def weekly_report_pdf(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                      week: WeekKey) -> Response:
    """《每周食品安全排查治理报告》 of ``week`` (YYYY-Www): the week's checks, each hazard found and how it stands,
    what the sensors saw, the weekly checklist, and who signed the week off (kind ``weekly``)."""
    summary = checks.weekly_report(_monday(week))
    signed = reports.store.signoffs("weekly", week)
    return _pdf(lambda: records.weekly_report(summary, settings.rules.report.school, checks.tz, checks.clock(),
                                              settings.rules.samples.label_font, signed),
                f"weekly-report-{week}.pdf")


@router.get("/api/checks/records/weekly/{week}.xlsx", response_class=Response, responses=_XLSX)
def weekly_report_xlsx(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                       week: WeekKey) -> Response:
    """《每周食品安全排查治理报告》 of ``week`` (YYYY-Www) as a spreadsheet: the PDF's tables and the checklist."""
    summary = checks.weekly_report(_monday(week))
    return _xlsx(records.weekly_report_xlsx(summary, settings.rules.report.school, checks.tz, checks.clock(),
                                            reports.store.signoffs("weekly", week)),
                 f"weekly-report-{week}.xlsx")


@router.get("/api/checks/records/monthly/{month}.pdf", response_class=Response, responses=_PDF)
def monthly_minutes_pdf(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                        month: MonthKey) -> Response:
    """《每月食品安全调度会议纪要》 of ``month`` (YYYY-MM): the month's figures and its general check, and who signed
    the month off (kind ``monthly``)."""
    minutes = checks.monthly_minutes(dt.date.fromisoformat(f"{month}-01"))
    signed = reports.store.signoffs("monthly", month)
    return _pdf(lambda: records.monthly_minutes(minutes, settings.rules.report.school, checks.tz, checks.clock(),
                                                settings.rules.samples.label_font, signed),
                f"monthly-minutes-{month}.pdf")


@router.get("/api/checks/records/daily/{day}.xlsx", response_class=Response, responses=_XLSX)
def daily_record_xlsx(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                      day: dt.date) -> Response:
    """《每日食品安全检查记录》 of ``day`` as a spreadsheet: the same lines as the PDF."""
    record = checks.daily_record(day)
    return _xlsx(records.daily_record_xlsx(record, day, settings.rules.report.school, checks.tz, checks.clock(),
                                           reports.store.signoffs("daily", day.isoformat())),
                 f"daily-record-{day}.xlsx")


@router.get("/api/checks/records/monthly/{month}.xlsx", response_class=Response, responses=_XLSX)
def monthly_minutes_xlsx(checks: ChecksDep, reports: ReportsDep, settings: SettingsDep, _user: Reader,
                         month: MonthKey) -> Response:
    """《每月食品安全调度会议纪要》 of ``month`` (YYYY-MM) as a spreadsheet: its tables and the general check."""
    minutes = checks.monthly_minutes(dt.date.fromisoformat(f"{month}-01"))
    return _xlsx(records.monthly_minutes_xlsx(minutes, settings.rules.report.school, checks.tz, checks.clock(),
                                              reports.store.signoffs("monthly", month)),
                 f"monthly-minutes-{month}.xlsx")


@router.get("/api/workorders")
def work_orders(checks: ChecksDep, root: PhotoRootDep, state: Literal["open", "fixed", "closed", "all"] = "open"
                ) -> list[WorkOrderPublic]:
    """Work orders: ``open`` (still being worked on), ``fixed`` (waiting for 验收), ``closed``, ``all``."""
    states = {"open": OPEN_ORDER_STATES, "fixed": (OrderState.FIXED,), "closed": (OrderState.ACCEPTED,),
              "all": None}[state]
    now = checks.clock()
    return [WorkOrderPublic.of(o, now, root) for o in checks.store.orders(states)]


@router.post("/api/workorders", status_code=201)
def report_hazard(checks: ChecksDep, root: PhotoRootDep, user: Reporter, request: HazardCreate) -> WorkOrderPublic:
    """Report a hazard or a repair (发现 → 上报): a work order waiting to be assigned."""
    return _order(checks, checks.report(request.title, request.place, request.text, request.urgency,
                                        actor=user.username, category=request.category), root)


@router.get("/api/workorders/{order_id}")
def work_order(checks: ChecksDep, root: PhotoRootDep, order_id: RowId) -> WorkOrderPublic:
    return _order(checks, checks.order(order_id), root)


@router.post("/api/workorders/{order_id}/assign")
def assign_order(checks: ChecksDep, root: PhotoRootDep, accounts: AccountsDep, user: Assigner, order_id: RowId,
                 request: AssignCreate) -> WorkOrderPublic:
    if accounts.active_user(request.assignee) is None:
        raise FieldError("assignee", f"no enabled account {request.assignee.strip()!r} · 没有这个账号")
    return _order(checks, checks.assign(order_id, request.assignee.strip(), actor=user.username,
                                        due_at=request.due_at, note=request.note), root)


@router.post("/api/workorders/{order_id}/fix")
def fix_order(checks: ChecksDep, root: PhotoRootDep,
              user: Fixer, order_id: RowId, request: FixCreate) -> WorkOrderPublic:
    """Record what was done; the order then waits for 验收 by someone else."""
    return _order(checks, checks.fix(order_id, request.note, actor=user.username), root)


@router.post("/api/workorders/{order_id}/start")
def start_order(checks: ChecksDep, root: PhotoRootDep, user: Fixer, order_id: RowId,
                request: AcceptCreate) -> WorkOrderPublic:
    """The assignee has started on it (处理中); only the assignee (403 for anyone else)."""
    return _order(checks, checks.start(order_id, actor=user.username, note=request.note), root)


@router.post("/api/workorders/{order_id}/accept")
def accept_order(checks: ChecksDep, root: PhotoRootDep,
                 user: Reporter, order_id: RowId, request: AcceptCreate) -> WorkOrderPublic:
    """验收: by the reporter or the safety group (``order.accept``), never by the person who did the fix (403)."""
    return _order(checks, checks.accept(order_id, request.note, actor=user.username,
                                        safety_group=allows(user.role, Permission.ORDER_ACCEPT)), root)


@router.post("/api/workorders/{order_id}/reopen")
def reopen_order(checks: ChecksDep, root: PhotoRootDep,
                 user: Reporter, order_id: RowId, request: ReopenCreate) -> WorkOrderPublic:
    """The fix is not accepted (by the reporter or the safety group): back to the assignee with the reason and a
    new due time."""
    return _order(checks, checks.reopen(order_id, request.reason, actor=user.username,
                                        safety_group=allows(user.role, Permission.ORDER_ACCEPT)), root)


@router.post("/api/workorders/{order_id}/notes")
def note_order(checks: ChecksDep, root: PhotoRootDep,
               user: Reporter, order_id: RowId, request: NoteCreate) -> WorkOrderPublic:
    """A note on any work order (a closed one takes nothing else)."""
    return _order(checks, checks.note(order_id, request.text, actor=user.username), root)


@router.post("/api/workorders/{order_id}/photos", status_code=201)
async def upload_order_photo(checks: ChecksDep, root: PhotoRootDep, user: Reporter, order_id: RowId,
                             photo: UploadFile) -> OrderPhotoPublic:
    """Keep one JPEG, PNG or WebP photo (at most 8 MB) with the order: what was found, what was done.

    An accepted order is closed: 409. A file of another type: 422; too large: 413.
    """
    checks.open_for_photos(order_id)
    data = await photo.read(photos.MAX_BYTES + 1)
    name = photos.save(order_photos(root), order_id, data)
    checks.photo_added(order_id, name, len(data), actor=user.username)
    return OrderPhotoPublic(order_id=order_id, name=name, url=f"/api/workorders/{order_id}/photos/{name}")


@router.get("/api/workorders/{order_id}/photos/{name}", response_class=FileResponse)
def order_photo(root: PhotoRootDep, order_id: RowId, name: str, thumb: bool = False) -> FileResponse:
    """A work order's photo (``thumb``: a small JPEG of it, for lists)."""
    path = photos.path_of(order_photos(root), order_id, name)
    if path is None:
        raise NotFound("name", f"no photo {name!r}")
    if thumb:
        path = photos.thumbnail(path)
    return FileResponse(path, media_type=photos.MEDIA_TYPES[path.suffix[1:]],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"})
