"""Probe calibration: each probe's standing, the guided check (live window, record, offset to the node), certificates.

Recording a check is the admin's (the installer's) work; every check, certificate and
offset sent is attributed to the signed-in person and written to the audit chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from edge.wire import ID_PATTERN, PlainText
from hub.api.deps import CalibrationDep, RowId
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.calibration import certificates, rules
from hub.calibration.kinds import Method, Standing
from hub.calibration.service import CheckInput, LiveWindow, Probe, Proposal
from hub.calibration.store import CheckRecord, OffsetChange
from hub.errors import NotFound
from hub.web import photos

router = APIRouter(prefix="/api", tags=["calibration"])

Viewer = Annotated[User, Depends(require(Permission.VIEW))]
Admin = Annotated[User, Depends(require(Permission.ADMIN))]
DeviceId = Annotated[str, PathParam(pattern=ID_PATTERN)]
Temperature = Annotated[float, Field(ge=rules.LOWEST_C, le=rules.HIGHEST_C, allow_inf_nan=False)]


class PointModel(BaseModel):
    reference: Temperature = Field(description="the reference thermometer (or 0.0 in ice water), °C")
    probe: Temperature = Field(description="what the probe showed at the same time (offset in force), °C")


class CheckCreate(BaseModel):
    method: Method
    points: list[PointModel] = Field(min_length=1, max_length=rules.MAX_POINTS)
    certificate_no: PlainText = Field(default="", max_length=64,
                                      description="the reference thermometer's certificate (method reference)")
    note: PlainText = Field(default="", max_length=500)


class CheckPublic(BaseModel):
    id: int
    device: str
    sensor: str
    hardware_id: str
    checked_at: float
    checked_by: str
    method: Method
    certificate_no: str
    note: str
    tolerance: float
    points: list[PointModel]
    old_offset: float = Field(description="the offset in force when the probe was read")
    correction: float = Field(description="mean of reference − probe")
    offset: float = Field(description="the offset this check sets (old offset + correction)")
    residual: float
    passed: bool
    reason: str
    next_due: float
    offset_sent: bool
    certificate_url: str | None = None

    @classmethod
    def of(cls, check: CheckRecord) -> CheckPublic:
        url = f"/api/calibration/checks/{check.id}/certificate" if check.certificate else None
        return cls.model_validate(check, from_attributes=True).model_copy(update={"certificate_url": url})


class CheckRecorded(BaseModel):
    check: CheckPublic
    sent: bool = Field(description="the new offset went to the node now (else when it next reports in)")


class ProbePublic(BaseModel):
    device: str
    sensor: str
    name: str
    profile: str
    hardware_id: str
    offset: float | None = Field(description="the offset the node reported in force")
    offset_source: str = Field(description="config (the node's YAML) or hub (a recorded check)")
    standing: Standing
    next_due: float | None
    last_check: CheckPublic | None
    replaced_at: float | None
    replaced_id: str

    @classmethod
    def of(cls, probe: Probe) -> ProbePublic:
        last = CheckPublic.of(probe.last_check) if probe.last_check else None
        return cls.model_validate(probe, from_attributes=True).model_copy(update={"last_check": last})


class OffsetPublic(BaseModel):
    since: float
    offset: float | None
    source: str
    calibration_id: int | None
    hardware_id: str

    @classmethod
    def of(cls, change: OffsetChange) -> OffsetPublic:
        return cls.model_validate(change, from_attributes=True)


class ProbeHistoryPublic(BaseModel):
    probe: ProbePublic
    checks: list[CheckPublic] = Field(description="newest first, of every probe the sensor had")
    offsets: list[OffsetPublic] = Field(description="the offsets in force, oldest first: a reading carries the"
                                                    " latest one at or before its time")


class LivePublic(BaseModel):
    device: str
    sensor: str
    latest: float | None
    latest_ts: float | None
    average: float | None = Field(description="mean of the probe's readings over the window")
    count: int
    window_s: float
    complete: bool = Field(description="the readings span the window: the average may be recorded")
    offset: float | None
    offset_source: str

    @classmethod
    def of(cls, live: LiveWindow) -> LivePublic:
        return cls(device=live.device, sensor=live.sensor, latest=live.latest, latest_ts=live.latest_ts,
                   average=live.average, count=live.count, window_s=live.window_s, complete=live.complete,
                   offset=live.offset, offset_source=live.offset_source)


class ProposalPublic(BaseModel):
    live: LivePublic
    point: PointModel = Field(description="the reference against the probe's average over the window")
    old_offset: float
    correction: float = Field(description="reference − probe average")
    offset: float = Field(description="the offset the check would set")
    residual: float
    passed: bool
    reason: str
    sendable: bool = Field(description="the node would apply the offset (within ±5 °C)")

    @classmethod
    def of(cls, proposal: Proposal) -> ProposalPublic:
        found = proposal.assessment
        return cls(live=LivePublic.of(proposal.window),
                   point=PointModel(reference=proposal.point.reference, probe=proposal.point.probe),
                   old_offset=found.old_offset, correction=found.correction, offset=found.offset,
                   residual=found.residual, passed=found.passed, reason=found.reason,
                   sendable=rules.sendable(found.offset, found.residual))


@router.get("/calibration")
def list_probes(service: CalibrationDep, _user: Viewer) -> list[ProbePublic]:
    """Every temperature probe with its last check, the offset in force and where it stands."""
    return [ProbePublic.of(p) for p in service.probes()]


@router.get("/calibration/{device}/{sensor}")
def probe_history(service: CalibrationDep, _user: Viewer, device: DeviceId, sensor: DeviceId) -> ProbeHistoryPublic:
    probe = service.probe(device, sensor)
    checks, offsets = service.history(device, sensor)
    return ProbeHistoryPublic(probe=ProbePublic.of(probe), checks=[CheckPublic.of(c) for c in checks],
                              offsets=[OffsetPublic.of(o) for o in offsets])


@router.get("/calibration/{device}/{sensor}/live")
def live(service: CalibrationDep, _user: Admin, device: DeviceId, sensor: DeviceId) -> LivePublic:
    """The probe's latest reading and its average over the check's window (``calibration.window_s``)."""
    return LivePublic.of(service.live(device, sensor))


@router.get("/calibration/{device}/{sensor}/proposal")
def proposal(service: CalibrationDep, _user: Admin, device: DeviceId, sensor: DeviceId,
             reference: Annotated[float, Query(ge=rules.LOWEST_C, le=rules.HIGHEST_C, allow_inf_nan=False)],
             ) -> ProposalPublic:
    """The offset a check would set: ``reference`` against the probe's average over the window (422 until full)."""
    return ProposalPublic.of(service.propose(device, sensor, reference))


@router.post("/calibration/{device}/{sensor}/checks", status_code=201)
def record_check(service: CalibrationDep, user: Admin, device: DeviceId, sensor: DeviceId,
                 body: CheckCreate) -> CheckRecorded:
    """Record a check by the signed-in person; send the offset it sets to the node (when the rules allow)."""
    given = CheckInput(method=body.method, points=tuple(rules.Point(p.reference, p.probe) for p in body.points),
                       certificate_no=body.certificate_no, note=body.note)
    recorded = service.record(device, sensor, given, user.username)
    return CheckRecorded(check=CheckPublic.of(recorded.check), sent=recorded.sent)


@router.post("/calibration/checks/{check_id}/certificate", status_code=201)
async def upload_certificate(service: CalibrationDep, user: Admin, check_id: RowId,
                             certificate: UploadFile) -> CheckPublic:
    """Keep the check's certificate: a PDF, or a JPEG, PNG or WebP photo of it (at most 8 MB; 413 beyond)."""
    data = await certificate.read(photos.MAX_BYTES + 1)
    return CheckPublic.of(service.attach_certificate(check_id, data, user.username))


@router.get("/calibration/checks/{check_id}/certificate", response_class=FileResponse)
def get_certificate(service: CalibrationDep, _user: Viewer, check_id: RowId) -> FileResponse:
    check = service.check(check_id)
    path = certificates.path_of(service.certificate_root, check_id, check.certificate)
    if path is None:
        raise NotFound("check_id", f"no certificate kept for check {check_id}")
    return FileResponse(path, media_type=certificates.MEDIA_TYPES[path.suffix[1:]], filename=f"calibration-{check_id}"
                        f"{path.suffix}", headers={"X-Content-Type-Options": "nosniff"})
