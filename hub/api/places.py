"""Places with a printed QR code, what a scan of one opens, and the reports strangers send from one.

A code holds ``/q/{token}``: an unguessable token per place, so a code of another school
or of a retired place names nothing here (404). Scanned by someone signed in, it opens
the hazard form for that place, and the scan is recorded. Scanned by anyone else, it
opens a short form only if the school turned that on (``checks.scan_reports``): no
photo, a category and at most 500 characters of plain text, bounded per address, per
place and by the number waiting — and such a report is not a work order until a staff
member files it (``/api/scan-reports``). That form is the only thing a code gives a
stranger.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from hub.api.checks import ScanReportPublic, WorkOrderPublic, scan_report_public
from hub.api.deps import ChecksDep, RowId
from hub.api.pages import RendererDep
from hub.auth.deps import OptionalUser, require, same_origin
from hub.auth.roles import Permission, allows
from hub.auth.users import User
from hub.checks.config import TemplateConfig
from hub.checks.kinds import Category, ScanRefusal, Urgency
from hub.checks.places import ScanRefused
from hub.checks.service import DueCheck
from hub.checks.store import Place, PlaceLineDone, PlaceScan
from hub.errors import FieldError, NotFound
from hub.web.qr import svg_data_url

router = APIRouter(tags=["checks"])

Editor = Annotated[User, Depends(require(Permission.CHECK_EDIT))]
Viewer = Annotated[User, Depends(require(Permission.VIEW))]
Triager = Annotated[User, Depends(require(Permission.ORDER_ASSIGN))]
#: A stranger's report: enough for "二楼男厕水管漏水，地上很滑", not for a letter.
SCAN_TEXT_MAX = 500
#: What each refusal of a stranger's report says.
_REFUSALS: dict[ScanRefusal, tuple[str, str]] = {
    ScanRefusal.CLOSED: ("本校未开放扫码匿名上报，请登录后上报，或告诉老师。",
                         "Reporting without signing in is not open at this school; sign in, or tell a teacher."),
    ScanRefusal.ADDRESS: ("您刚才已上报多次，请稍后再试，或直接告诉老师。",
                          "You have sent several reports just now; try later, or tell a teacher."),
    ScanRefusal.PLACE: ("这个地点刚刚已收到多条上报，学校正在处理。如情况紧急，请直接告诉老师。",
                        "This place has had several reports just now; if it is urgent, tell a teacher."),
    ScanRefusal.QUEUE: ("待处理的上报太多，暂不接收。如情况紧急，请直接告诉老师。",
                        "Too many reports are waiting; if it is urgent, tell a teacher."),
}


class PlacePublic(BaseModel):
    id: int
    name: str
    url: str = Field(description="what the place's QR code holds")
    created_by: str
    created_at: float
    retired_at: float | None


class PlaceCreate(BaseModel):
    name: str = Field(min_length=1, max_length=60, description="as printed under the code, e.g. 食品库房")


class ScanFile(BaseModel):
    title: str = Field(default="", max_length=80, description="default: the start of the report's text")
    urgency: Urgency = Urgency.NORMAL
    category: Category | None = Field(default=None, description="default: the reporter's")


class ScanDismiss(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


def scan_url(request: Request, place: Place) -> str:
    return str(request.url_for("scan_place", token=place.token))


def _place(request: Request, place: Place) -> PlacePublic:
    return PlacePublic(id=place.id, name=place.name, url=scan_url(request, place), created_by=place.created_by,
                       created_at=place.created_at, retired_at=place.retired_at)


@router.get("/api/places")
def places(checks: ChecksDep, _user: Editor, request: Request) -> list[PlacePublic]:
    """Places in use, each with the address its QR code holds."""
    return [_place(request, place) for place in checks.places.all()]


@router.post("/api/places", status_code=201)
def add_place(checks: ChecksDep, user: Editor, request: Request, body: PlaceCreate) -> PlacePublic:
    return _place(request, checks.places.add(body.name, actor=user.username))


@router.post("/api/places/{place_id}/retire")
def retire_place(checks: ChecksDep, user: Editor, request: Request, place_id: RowId) -> PlacePublic:
    """Its code is refused from now on (a lost or copied sticker: add the place again for a new code)."""
    return _place(request, checks.places.retire(place_id, actor=user.username))


@router.get("/checks/places", response_class=HTMLResponse, include_in_schema=False)
def place_sheet(checks: ChecksDep, web: RendererDep, request: Request, user: Editor) -> HTMLResponse:
    """A sheet to print: one QR code per place with its name in Chinese, cut out and stuck up at the place."""
    cards = [{"place": place, "url": scan_url(request, place), "qr": svg_data_url(scan_url(request, place), 1)}
             for place in checks.places.all()]
    return web.render("places.html", request, user, view="checks", cards=cards)


#: What a place's history shows of each kind (the newest): a term at a busy place is thousands of lines.
HISTORY_ROWS = 50


@router.get("/checks/places/{place_id}", response_class=HTMLResponse, include_in_schema=False)
def place_history(checks: ChecksDep, web: RendererDep, request: Request, user: Viewer,
                  place_id: RowId) -> HTMLResponse:
    """A place's history: the lines checked there (with the scan's time), who scanned its code, its work orders."""
    place = checks.store.place(place_id)
    if place is None:
        raise NotFound("place_id", f"no place {place_id}")
    lines = [(line, _item_text(line)) for line in checks.store.lines_at(place.name, HISTORY_ROWS)]
    now = checks.clock()
    return web.render("place.html", request, user, view="checks", place=place, lines=lines,
                      scans=checks.store.scans_at(place.id, HISTORY_ROWS),
                      orders=[WorkOrderPublic.of(o, now) for o in checks.store.orders_at(place.name, HISTORY_ROWS)])


def _item_text(line: PlaceLineDone) -> str:
    item = TemplateConfig.model_validate_json(line.template_json).item(line.item)
    return item.text if item is not None else line.item


@router.get("/api/scan-reports")
def scan_reports(checks: ChecksDep, _user: Triager) -> list[ScanReportPublic]:
    """Reports sent by scanning a place's code without signing in, waiting to be triaged (oldest first)."""
    return [scan_report_public(checks, report) for report in checks.places.pending()]


@router.post("/api/scan-reports/{report_id}/file")
def file_scan_report(checks: ChecksDep, user: Triager, report_id: RowId, body: ScanFile) -> ScanReportPublic:
    """Make it a work order, reported by you (its text is kept as the reporter wrote it)."""
    checks.places.file(report_id, body.title, body.urgency, actor=user.username, category=body.category)
    found = checks.store.scan_report(report_id)
    assert found is not None
    return scan_report_public(checks, found)


@router.post("/api/scan-reports/{report_id}/dismiss")
def dismiss_scan_report(checks: ChecksDep, user: Triager, report_id: RowId, body: ScanDismiss) -> ScanReportPublic:
    """Not a hazard (a test, a joke, already reported): kept on the record with the reason."""
    return scan_report_public(checks, checks.places.dismiss(report_id, body.reason, actor=user.username))


# -- what a scan opens (no sign-in needed: the token is the place) ----------------------------------------------


def _scan_page(web: RendererDep, request: Request, user: User | None, place: Place | None, status: int = 200,
               headers: dict[str, str] | None = None, **data: object) -> HTMLResponse:
    return web.render("scan.html", request, user, status_code=status, headers=headers, view="scan", place=place,
                      categories=[c.value for c in Category], text_max=SCAN_TEXT_MAX, **data)


@router.get("/q/{token}", name="scan_place", response_class=HTMLResponse, include_in_schema=False)
def scan_place(checks: ChecksDep, web: RendererDep, request: Request, user: OptionalUser,
               token: str) -> HTMLResponse:
    """A place's code, scanned: the hazard form for that place (signed in), the short form, or a refusal."""
    try:
        place = checks.places.scanned(token[:64])
    except NotFound:
        return _scan_page(web, request, user, None, 404, refusal="unknown")
    signed_in = user is not None and allows(user.role, Permission.HAZARD_REPORT)
    here: list[DueCheck] = []
    walks: list[DueCheck] = []
    scan: PlaceScan | None = None
    if user is not None and signed_in:
        scan = checks.places.seen(place, user.username)
        due = checks.due(with_prefill=False)
        here = [c for c in due if c.run is None and c.template.place == place.name]
        if allows(user.role, Permission.CHECK_FILL):
            # Only this place's lines of the checklists in progress: the scan is what lets them be answered.
            walks = [c for c in due if c.run is None and any(i.place == place.name for i in c.template.items)]
    return _scan_page(web, request, user, place, signed_in=signed_in, here=here, walks=walks, scan=scan,
                      open_to_all=checks.config.scan_reports.enabled, sent=request.query_params.get("sent") == "1")


@router.post("/q/{token}", response_class=HTMLResponse, include_in_schema=False)
def scan_report(checks: ChecksDep, web: RendererDep, request: Request, token: str,
                category: Annotated[Category, Form()],
                text: Annotated[str, Form(max_length=SCAN_TEXT_MAX)]) -> Response:
    """A stranger's report from the short form: kept as plain text for a staff member to triage."""
    if not same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request refused · 拒绝跨站请求")
    try:
        place = checks.places.scanned(token[:64])
    except NotFound:
        return _scan_page(web, request, None, None, 404, refusal="unknown")
    address = request.client.host if request.client else "unknown"
    try:
        checks.places.report(token, category, text, address)
    except ScanRefused as refused:
        zh, en = _REFUSALS[refused.reason]
        return _scan_page(web, request, None, place, refused.status, open_to_all=True, refusal=refused.reason.value,
                          refusal_zh=zh, refusal_en=en, text=text,
                          headers={"Retry-After": "3600"} if refused.status == 429 else None)
    except FieldError as error:
        return _scan_page(web, request, None, place, 422, open_to_all=True, error=error.message, text=text)
    return RedirectResponse(f"{request.url.path}?sent=1", status_code=303)
