"""The ``visitors:`` section of the hub config: retention, the gate whose hours count, who is told what."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class VisitorsConfig(BaseModel):
    """The gate register's settings (docs/gate.md, "The visitor book")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Days a visit, an invitation, a leave slip and a departure are kept (PIPL: no longer than needed).
    retention_days: int = Field(default=180, ge=1, le=3650)
    #: The door group of the school calendar whose windows are the gate's hours (``default``: the template's).
    gate_group: str = Field(default="default", min_length=1, max_length=64)
    #: An after-hours opening with no registration within this many seconds either side alarms.
    around_s: float = Field(default=900.0, ge=60.0, le=7200.0)
    #: The notification route a host's "visitor waiting" message goes on (with the host's mobile as recipient).
    host_route: str = Field(default="visitors", min_length=1, max_length=64)
    #: The route a pupil leaving without a slip is announced on (the safety officer's; the head teacher's
    #: mobile is added as a recipient).
    exception_route: str = Field(default="safety_officer", min_length=1, max_length=64)
