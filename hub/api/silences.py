"""Silences and maintenance windows: alarms are still recorded, but nobody is woken.

A silence set here always ends (``alerts.silence_max_s``, 7 days unless the safety
officer sets otherwise) and reaches only what its author is responsible for: the
canteen's cold chain (``silence.canteen``), the gate house (``silence.gate``), and
everything at once only with ``silence.all``.
"""

from __future__ import annotations

import time
from datetime import time as dt_time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from edge.wire import MAX_TS
from hub.alerts.builtin import describe
from hub.alerts.kinds import AlertKind, RuleKind
from hub.api.deps import AlertsDep, GateDep, LiveDep, RowId, SettingsDep, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission, allows
from hub.auth.users import User
from hub.errors import FieldError, NotFound
from hub.gate.monitor import GateMonitor
from hub.rules.silence import CANTEEN, GATE, DailyWindow, Silence, covers_everything, end_problem, reach
from hub.store.state import StateStore

router = APIRouter(prefix="/api", tags=["silences"], dependencies=[Depends(require(Permission.VIEW))])

SilenceEditor = Annotated[User, Depends(require(Permission.SILENCE_EDIT))]


class SilenceCreate(BaseModel):
    subject: str = Field(min_length=1, max_length=130, description="glob over 'device/sensor', e.g. canteen-1/*")
    #: Rule keys (``temperature_limits``): a misspelt one is refused rather than silencing nothing.
    rules: list[RuleKind] = Field(default_factory=list, max_length=20)
    # Finite and before 2100: NaN or Infinity would be stored as NULL, an endless silence.
    starts_at: float | None = Field(default=None, ge=0, le=MAX_TS, allow_inf_nan=False)
    ends_at: float | None = Field(default=None, ge=0, le=MAX_TS, allow_inf_nan=False)
    window_start: dt_time | None = Field(default=None, description="daily window, local time; may cross midnight")
    window_end: dt_time | None = None
    weekdays: list[int] | None = Field(default=None, description="0 = Monday")
    reason: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _shape(self) -> SilenceCreate:
        if (self.window_start is None) != (self.window_end is None):
            raise ValueError("window_start and window_end go together")
        if self.starts_at is not None and self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.weekdays is not None and any(d < 0 or d > 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return self


class DailyWindowPublic(BaseModel):
    start: str = Field(description="local time, HH:MM:SS")
    end: str
    weekdays: list[int] | None = Field(description="the weekdays it begins on (0 = Monday); null: every day")


class SilencePublic(BaseModel):
    subject: str
    rules: list[str] = Field(description="the rules it applies to, sorted; empty: all")
    starts_at: float | None
    ends_at: float | None
    window: DailyWindowPublic | None
    reason: str
    id: int | None = Field(description="null for a maintenance window from the config file (it cannot be ended here)")

    @classmethod
    def of(cls, silence: Silence) -> SilencePublic:
        window = silence.window
        return cls(subject=silence.subject, rules=sorted(silence.rules), starts_at=silence.starts_at,
                   ends_at=silence.ends_at, reason=silence.reason, id=silence.id,
                   window=DailyWindowPublic(start=window.start.isoformat(), end=window.end.isoformat(),
                                            weekdays=sorted(window.weekdays) if window.weekdays is not None
                                            else None) if window is not None else None)


@router.get("/silences")
def list_silences(engine: AlertsDep) -> list[SilencePublic]:
    """Silences in force or to come, including the maintenance windows from the config file (no id)."""
    return [SilencePublic.of(s) for s in engine.silences()]


#: Rules of the gate house's duty; the others are the canteen's (or the system's, which the canteen watches too).
GATE_RULES = frozenset(str(r) for r in RuleKind if describe(r).kind is AlertKind.GATE)
#: The permission each duty needs.
_SCOPE_PERMISSIONS = {CANTEEN: Permission.SILENCE_CANTEEN, GATE: Permission.SILENCE_GATE}


def _subjects(store: StateStore, gate: GateMonitor) -> tuple[set[str], set[str]]:
    """Known subjects of the gate house and of everything else: sensors, devices and recent alerts."""
    gate_devices = {s["device"] for s in gate.gate_sensors() if s["group"] is not None}
    gate_subjects = {s["key"] for s in gate.gate_sensors() if s["group"] is not None} | gate_devices
    other: set[str] = set()
    for sensor in store.sensors():
        (gate_subjects if sensor["device"] in gate_devices else other).add(sensor["key"])
    other |= {d["device"] for d in store.devices()} - gate_devices
    for alert in store.alerts(limit=500):
        (gate_subjects if alert.kind is AlertKind.GATE else other).add(alert.subject)
    return gate_subjects, other - gate_subjects


def _check_scope(silence: Silence, user: User, store: StateStore, gate: GateMonitor) -> None:
    """Refuse (403, naming ``subject``) a silence that reaches beyond what the user's role answers for."""
    if covers_everything(silence.subject):
        if not allows(user.role, Permission.SILENCE_ALL):
            raise FieldError("subject", f"role {user.role.value} may not silence everything; name the devices"
                                        " · 当前角色不能暂停全部设备的提醒，请填写具体设备", status=403)
        return
    gate_subjects, other = _subjects(store, gate)
    for duty in sorted(reach(silence, GATE_RULES, gate_subjects, other)):
        if not allows(user.role, _SCOPE_PERMISSIONS[duty]):
            what = "gates and doors of the gate house · 门岗" if duty == GATE else "the canteen's cold chain · 食堂冷链"
            raise FieldError("subject", f"role {user.role.value} may not silence {what}"
                                        f" · 当前角色无权暂停该范围的提醒", status=403)


@router.post("/silences", status_code=201)
def create_silence(store: StateDep, gate: GateDep, settings: SettingsDep, live: LiveDep, user: SilenceEditor,
                   request: SilenceCreate) -> SilencePublic:
    """Hold back notifications for a while; refused (422 ``ends_at``) without an end or beyond the maximum."""
    window = None
    if request.window_start is not None and request.window_end is not None:
        days = frozenset(request.weekdays) if request.weekdays is not None else None
        window = DailyWindow(request.window_start, request.window_end, days)
    silence = Silence(subject=request.subject, rules=frozenset(request.rules), starts_at=request.starts_at,
                      ends_at=request.ends_at, window=window, reason=request.reason)
    now = time.time()
    problem = end_problem(silence, now, settings.rules.alerts.silence_max_s)
    if problem is not None:
        raise FieldError("ends_at", problem)
    _check_scope(silence, user, store, gate)
    created = SilencePublic.of(store.add_silence(silence, user.username, now))
    live.on_silences_changed()
    return created


@router.delete("/silences/{silence_id}", status_code=204)
def remove_silence(store: StateDep, live: LiveDep, user: SilenceEditor, silence_id: RowId) -> None:
    if not store.remove_silence(silence_id, user.username, time.time()):
        raise NotFound("silence_id", f"no active silence {silence_id}")
    live.on_silences_changed()
