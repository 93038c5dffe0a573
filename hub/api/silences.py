"""Silences and maintenance windows: alarms are still recorded, but nobody is woken."""

from __future__ import annotations

import time
from datetime import time as dt_time
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field, model_validator

from edge.wire import MAX_TS
from hub.alerts.kinds import RuleKind
from hub.api.deps import AlertsDep, RowId, StateDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.errors import NotFound
from hub.rules.silence import DailyWindow, Silence

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
        if self.starts_at is None and self.ends_at is None and self.window_start is None:
            raise ValueError("a silence needs an end (ends_at) or a daily window: an endless silence hides alarms")
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


@router.post("/silences", status_code=201)
def create_silence(store: StateDep, user: SilenceEditor, request: SilenceCreate) -> SilencePublic:
    window = None
    if request.window_start is not None and request.window_end is not None:
        days = frozenset(request.weekdays) if request.weekdays is not None else None
        window = DailyWindow(request.window_start, request.window_end, days)
    silence = Silence(subject=request.subject, rules=frozenset(request.rules), starts_at=request.starts_at,
                      ends_at=request.ends_at, window=window, reason=request.reason)
    return SilencePublic.of(store.add_silence(silence, user.username, time.time()))


@router.delete("/silences/{silence_id}", status_code=204)
def remove_silence(store: StateDep, user: SilenceEditor, silence_id: RowId) -> None:
    if not store.remove_silence(silence_id, user.username, time.time()):
        raise NotFound("silence_id", f"no active silence {silence_id}")
