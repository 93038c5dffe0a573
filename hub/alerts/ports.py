"""The narrow ports a feature gets from the alert side instead of the engine and the state store.

A feature (food samples, gate duty, what comes next) needs to raise and clear its own
alarms, to look up alarms it raised, to name a sensor the way the engine does, and to
put what people changed into the audit chain. These Protocols say exactly that, so a
feature module imports neither ``AlertEngine`` nor ``StateStore`` and a test can see
at a glance what a feature can do to the rest of the hub.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.store.state import Alert


class AlertRaiser(Protocol):
    """Raise or clear an alarm by its condition, through the engine's delay, lifecycle and escalation."""

    def observe(self, rule: RuleKind, subject: str, active: bool, at: float, *, device: str, message: str,
                kind: AlertKind | None = None, severity: Severity | None = None, delay_s: float = 0.0,
                incident: str | None = None, data: dict[str, Any] | None = None) -> Alert | None: ...

    def name(self, key: str) -> str: ...

    @property
    def locale(self) -> str: ...


class AlertHistory(Protocol):
    """Alarms on record, newest first (filters combine)."""

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 500, kind: str | None = None,
               subject: str | None = None, since: float | None = None, until: float | None = None) -> list[Alert]: ...


class AuditTrail(Protocol):
    """The hash-chained audit log: a change a person made that is not an alarm's own."""

    def append_audit(self, ts: float, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None: ...


class Directory(Protocol):
    """The devices and sensors the hub knows (as announced by the edges)."""

    def devices(self) -> list[dict[str, Any]]: ...

    def sensors(self) -> list[dict[str, Any]]: ...


class Record(AlertHistory, AuditTrail, Directory, Protocol):
    """What a feature reads and writes of the hub's record (the state store implements it)."""
