"""The gate register: visitors in and out, invitations, leave slips, pupils out and back, the printed book.

Who did it is always the signed-in account (never a field of the body). Lists show a
phone masked; a visit's details (full phone, the document's last four) only to the gate,
the safety officer and the visit's host. Text typed by people is refused at the field
when it is too long or holds control characters.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from edge.wire import MAX_TS
from hub.api.deps import RowId, SettingsDep, VisitorsDep
from hub.auth.deps import CurrentUser, require
from hub.auth.roles import Permission, Role, allows
from hub.auth.users import User
from hub.errors import FieldError
from hub.report import gatebook
from hub.safetext import PlainText
from hub.visitors import rules
from hub.visitors.kinds import ExitKind, IdType, SlipState, VisitState
from hub.visitors.service import Forbidden, VisitorBook
from hub.visitors.store import Leave, NewVisit, Visit

router = APIRouter(tags=["visitors"], dependencies=[Depends(require(Permission.VIEW))])

Gate = Annotated[User, Depends(require(Permission.VISITOR_REGISTER))]
Inviter = Annotated[User, Depends(require(Permission.VISITOR_INVITE))]
HeadTeacher = Annotated[User, Depends(require(Permission.LEAVE_ISSUE))]
Admin = Annotated[User, Depends(require(Permission.ADMIN))]
Host = Annotated[User, Depends(require(Permission.VISITOR_ANSWER))]
#: A client's key for one registration: the same key again (a phone retrying) answers the stored record.
RequestKey = Annotated[str | None, Field(default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class VisitPublic(BaseModel):
    """A visit as lists show it: the phone masked, the document by its type only."""

    id: int
    state: VisitState
    name: str
    phone: str = Field(description="masked (138****5678) unless this is the visit's details")
    organisation: str
    host: str
    purpose: str
    party_size: int
    plate: str
    id_type: IdType
    id_last4: str = Field(description="empty unless this is the visit's details")
    expected_day: str | None
    invited_by: str
    registered_by: str
    registered_at: float | None
    answered_by: str
    arrived_at: float | None
    left_at: float | None
    left_by: str
    created: bool = True

    @classmethod
    def of(cls, visit: Visit, details: bool = False, created: bool = True) -> VisitPublic:
        public = cls.model_validate(visit, from_attributes=True)
        if details:
            return public.model_copy(update={"created": created})
        return public.model_copy(update={"phone": rules.mask_phone(visit.phone), "id_last4": "", "created": created})


class LeavePublic(BaseModel):
    id: int
    exit_kind: ExitKind
    state: SlipState
    pupil: str
    class_name: str
    reason: str
    start: float
    until: float
    returns: bool
    collector: str
    issued_by: str
    issued_at: float
    out_at: float | None
    out_by: str
    returned_at: float | None
    returned_by: str
    created: bool = True

    @classmethod
    def of(cls, leave: Leave, created: bool = True) -> LeavePublic:
        return cls.model_validate(leave, from_attributes=True).model_copy(update={"created": created})


class VisitorFields(BaseModel):
    name: PlainText = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=1, max_length=20, description="a mobile (11 digits) or a landline with area code")
    organisation: PlainText = Field(default="", max_length=60)
    purpose: PlainText = Field(default="", max_length=120)
    party_size: int = Field(default=1, ge=1, le=50)
    plate: str = Field(default="", max_length=12, description="licence plate, e.g. 粤B12345 (empty: on foot)")

    def visit(self, host: str, id_type: IdType = IdType.NONE, id_last4: str = "") -> NewVisit:
        phone = rules.normal_phone(self.phone)
        if phone is None:
            raise FieldError("phone", "a mobile (11 digits) or a landline with its area code · 请填写正确的电话号码")
        plate = ""
        if self.plate.strip():
            found = rules.normal_plate(self.plate)
            if found is None:
                raise FieldError("plate", "not a licence plate (e.g. 粤B12345) · 车牌格式不正确")
            plate = found
        return NewVisit(self.name.strip(), phone, self.organisation.strip(), host, self.purpose.strip(),
                        self.party_size, plate, id_type, id_last4)


def _document(id_type: IdType, id_last4: str) -> tuple[IdType, str]:
    if id_type is IdType.NONE:
        return id_type, ""
    found = rules.normal_id_last4(id_last4)
    if found is None:
        raise FieldError("id_last4", "the document's last 4 characters only · 只填写证件号后4位")
    return id_type, found


class VisitorCreate(VisitorFields):
    host: str = Field(min_length=1, max_length=64, description="username of the account they come to see")
    id_type: IdType = Field(description="the document the gatekeeper looked at (none: not checked)")
    id_last4: str = Field(default="", max_length=8, description="its last 4 characters; never the whole number")
    request_key: RequestKey = None


class AgainCreate(BaseModel):
    host: str | None = Field(default=None, min_length=1, max_length=64, description="default: the earlier host")
    request_key: RequestKey = None


class InvitationCreate(VisitorFields):
    day: dt.date = Field(description="the day they are expected")
    request_key: RequestKey = None


class CheckIn(BaseModel):
    id_type: IdType | None = Field(default=None, description="default: as invited (none)")
    id_last4: str = Field(default="", max_length=8)


class Answer(BaseModel):
    allow: bool = Field(description="true: let them in; false: turn them away")


class SlipCreate(BaseModel):
    pupil: PlainText = Field(min_length=1, max_length=20)
    class_name: PlainText = Field(min_length=1, max_length=20, description="a class you head, e.g. 三年级2班")
    reason: PlainText = Field(default="", max_length=120)
    start: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False)
    until: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False)
    returns: bool = Field(default=True, description="false: not back today (no return is waited for)")
    collector: PlainText = Field(default="", max_length=40, description="who collects the pupil (name, relation)")
    request_key: RequestKey = None


class NoSlipCreate(BaseModel):
    pupil: PlainText = Field(min_length=1, max_length=20)
    class_name: PlainText = Field(min_length=1, max_length=20)
    reason: PlainText = Field(default="", max_length=120)
    request_key: RequestKey = None


class ClassesUpdate(BaseModel):
    classes: list[Annotated[PlainText, Field(min_length=1, max_length=20)]] = Field(max_length=30)


class ClassesPublic(BaseModel):
    username: str
    classes: list[str]


class TodayPublic(BaseModel):
    """What the gate works from: waiting at the gate, inside, expected today, pupils' slips."""

    waiting: list[VisitPublic]
    inside: list[VisitPublic]
    expected: list[VisitPublic]
    slips: list[LeavePublic]


def _any_host(user: User) -> bool:
    """The safety officer (and the admin) may answer for an absent host; the gatekeeper may not."""
    return user.role in (Role.SAFETY_OFFICER, Role.ADMIN)


def _today(book: VisitorBook) -> dt.date:
    return book.local_day(book.clock())


@router.get("/api/visitors/today")
def today(book: VisitorsDep, user: Gate) -> TodayPublic:
    return TodayPublic(waiting=[VisitPublic.of(v) for v in book.waiting()],
                       inside=[VisitPublic.of(v) for v in book.inside()],
                       expected=[VisitPublic.of(v) for v in book.expected(_today(book))],
                       slips=[LeavePublic.of(s) for s in book.open_slips()])


@router.get("/api/visitors/mine")
def my_visitors(book: VisitorsDep, user: CurrentUser) -> list[VisitPublic]:
    """The visits one hosts: waiting for one's answer, expected, inside (details: one is their host)."""
    return [VisitPublic.of(v, details=True) for v in book.hosted_by(user.username)]


@router.get("/api/visitors/search")
def search(book: VisitorsDep, user: Gate, q: Annotated[str, Query(min_length=4, max_length=20)]) -> list[VisitPublic]:
    """Earlier visitors by phone, its last 4 digits, or plate: their details to register them again."""
    return [VisitPublic.of(v) for v in book.find(q)]


@router.post("/api/visitors", status_code=201)
def register(book: VisitorsDep, user: Gate, request: VisitorCreate) -> VisitPublic:
    """A visitor without an invitation: they wait at the gate while the host is told and answers."""
    id_type, last4 = _document(request.id_type, request.id_last4)
    done = book.register(request.visit(request.host, id_type, last4), actor=user, request_key=request.request_key)
    return VisitPublic.of(done.record, details=True, created=done.created)


@router.post("/api/visitors/{visit_id}/again", status_code=201)
def register_again(book: VisitorsDep, user: Gate, visit_id: RowId, request: AgainCreate) -> VisitPublic:
    """A repeat visitor (a delivery driver, a contractor) registered from an earlier visit, found by phone or plate."""
    done = book.again(visit_id, actor=user, host=request.host, request_key=request.request_key)
    return VisitPublic.of(done.record, details=True, created=done.created)


@router.post("/api/visitors/invitations", status_code=201)
def invite(book: VisitorsDep, user: Inviter, request: InvitationCreate) -> VisitPublic:
    """Pre-register an expected visitor (a delivery, a parent meeting, a contractor): one is their host."""
    done = book.invite(request.visit(user.username), request.day, actor=user, request_key=request.request_key)
    return VisitPublic.of(done.record, details=True, created=done.created)


@router.get("/api/visitors/{visit_id}")
def visit_details(book: VisitorsDep, user: CurrentUser, visit_id: RowId) -> VisitPublic:
    """A visit's details: the gate, the safety officer and the host only (403 for anyone else)."""
    visit = book.visit(visit_id)
    if not book.may_see(visit, user, allows(user.role, Permission.VISITOR_REGISTER)):
        raise Forbidden("visit_id", "only the gate, the host and the safety officer see a visitor's details"
                                    " · 仅门卫、被访人和安全员可查看访客详情")
    return VisitPublic.of(visit, details=True)


@router.post("/api/visitors/{visit_id}/check-in")
def check_in(book: VisitorsDep, user: Gate, visit_id: RowId, request: CheckIn) -> VisitPublic:
    """An expected visitor arrives (one tap); one already inside is answered as stored (``created`` false)."""
    id_type, last4 = (None, "") if request.id_type is None else _document(request.id_type, request.id_last4)
    done = book.check_in(visit_id, actor=user, id_type=id_type, id_last4=last4)
    return VisitPublic.of(done.record, details=True, created=done.created)


@router.post("/api/visitors/{visit_id}/answer")
def answer(book: VisitorsDep, user: Host, visit_id: RowId, request: Answer) -> VisitPublic:
    """The host lets a waiting visitor in or turns them away (the safety officer may answer for them)."""
    done = book.answer(visit_id, request.allow, actor=user, any_host=_any_host(user))
    return VisitPublic.of(done.record, details=True, created=done.created)


@router.post("/api/visitors/{visit_id}/check-out")
def check_out(book: VisitorsDep, user: Gate, visit_id: RowId) -> VisitPublic:
    """One tap from the list of visitors inside; someone not inside: 409 with the reason."""
    return VisitPublic.of(book.check_out(visit_id, actor=user))


@router.get("/api/visitors/classes/{username}")
def classes(book: VisitorsDep, user: CurrentUser, username: Annotated[str, PathParam(max_length=64)]) -> ClassesPublic:
    """The classes an account heads (whose pupils it may issue leave slips for)."""
    return ClassesPublic(username=username, classes=book.classes_of(username))


@router.put("/api/visitors/classes/{username}")
def set_classes(book: VisitorsDep, user: Admin, username: Annotated[str, PathParam(max_length=64)],
                request: ClassesUpdate) -> ClassesPublic:
    """Which classes a teacher heads (班主任): replaces the list; audited with before and after."""
    return ClassesPublic(username=username, classes=book.set_classes(username, request.classes, actor=user))


@router.get("/api/leaves")
def leaves(book: VisitorsDep, user: CurrentUser) -> list[LeavePublic]:
    """Open slips: every one for the gate, one's own for a head teacher."""
    if allows(user.role, Permission.VISITOR_REGISTER):
        return [LeavePublic.of(s) for s in book.open_slips()]
    return [LeavePublic.of(s) for s in book.issued_by(user.username)]


@router.post("/api/leaves", status_code=201)
def issue_slip(book: VisitorsDep, user: HeadTeacher, request: SlipCreate) -> LeavePublic:
    """A leave slip (离校单) for a pupil of a class one heads (another class: 403)."""
    done = book.issue_slip(request.pupil, request.class_name, request.reason, request.start, request.until,
                           request.returns, request.collector, actor=user, request_key=request.request_key)
    return LeavePublic.of(done.record, done.created)


@router.post("/api/leaves/without-slip", status_code=201)
def without_slip(book: VisitorsDep, user: Gate, request: NoSlipCreate) -> LeavePublic:
    """A pupil who left without a slip: an exception the head teacher and the safety officer are told of."""
    done = book.pupil_without_slip(request.pupil, request.class_name, request.reason, actor=user,
                                   request_key=request.request_key)
    return LeavePublic.of(done.record, done.created)


@router.post("/api/leaves/{leave_id}/out")
def pupil_out(book: VisitorsDep, user: Gate, leave_id: RowId) -> LeavePublic:
    done = book.pupil_out(leave_id, actor=user)
    return LeavePublic.of(done.record, done.created)


@router.post("/api/leaves/{leave_id}/back")
def pupil_back(book: VisitorsDep, user: Gate, leave_id: RowId) -> LeavePublic:
    done = book.pupil_back(leave_id, actor=user)
    return LeavePublic.of(done.record, done.created)


def _file(data: bytes, fmt: str, name: str) -> Response:
    media = ("application/pdf" if fmt == "pdf"
             else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"',
                                                     "X-Content-Type-Options": "nosniff"})


Format = Annotated[str, Query(alias="format", pattern="^(pdf|xlsx)$")]


@router.get("/api/visitors/register/day", response_class=Response)
def day_register(book: VisitorsDep, settings: SettingsDep, user: Gate, date: dt.date, fmt: Format = "pdf"
                 ) -> Response:
    """The day's 门卫登记簿 as PDF or xlsx, personal data masked."""
    found = book.day_book(date, settings.rules.report.school)
    data = gatebook.day_pdf(found, settings.rules.samples.label_font) if fmt == "pdf" else gatebook.day_xlsx(found)
    return _file(data, fmt, f"gate-register-{date.isoformat()}")


@router.get("/api/visitors/register/month", response_class=Response)
def month_register(book: VisitorsDep, settings: SettingsDep, user: Gate,
                   month: Annotated[str, Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")], fmt: Format = "pdf"
                   ) -> Response:
    """The month's summary (visitors, after-hours visits, pupils out, exceptions) as PDF or xlsx."""
    first = dt.date.fromisoformat(f"{month}-01")
    found = book.month_book(first, settings.rules.report.school)
    data = (gatebook.month_pdf(found, settings.rules.samples.label_font) if fmt == "pdf"
            else gatebook.month_xlsx(found))
    return _file(data, fmt, f"gate-register-{month}")
