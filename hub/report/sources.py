"""The small queries the report engine needs, over the hub's stores (or any stores the bench opens).

Everything the report reads goes through here, so the engine itself only computes:
the series store (hourly aggregates, raw readings in short spans, door events), the
state store (sensors, devices, alarms, the audit chain's head), the food-sample and
gate-duty registers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hub.alerts.kinds import ACTIVE_STATES
from hub.alerts.limits import limits_for, profile_of
from hub.alerts.playbooks import Step, playbook_for, steps, worst_value
from hub.calibration.store import CalibrationStore
from hub.checks.store import CheckStore
from hub.gate.store import GateStore, Sweep
from hub.rules.silence import Silence
from hub.samples.store import SampleRecord, SampleStore
from hub.settings import HubConfig
from hub.store.base import HOUR_S, HourlyAggregate, ManySensors, SeriesStore, TimedValues
from hub.store.state import Alert, LimitProposal, StateStore
from hub.visitors.store import VisitorStore

#: Door states that count as open (edge door sources report ``open``/``closed``).
OPEN_STATES = frozenset({"open", "opened"})
#: Most raw readings read for one excursion span (a whole week at 1 s is 604,800).
SPAN_LIMIT = 1_000_000
#: How far back the reading before a period is looked for.
LOOKBACK_S = 86_400.0


@dataclass
class ReportSource:
    series: SeriesStore
    state: StateStore
    config: HubConfig
    tz: ZoneInfo
    samples: SampleStore | None = None
    gate: GateStore | None = None
    canteen_open: Callable[[dt.date], bool] = field(default=lambda _day: True)
    #: The checklists and work orders (``checks.sqlite3``), and the school days their schedules follow.
    checks: CheckStore | None = None
    school_day: Callable[[dt.date], bool] = field(default=lambda _day: True)
    #: The probes' calibration record (``calibration.sqlite3``): checks and the offsets in force.
    calibration: CalibrationStore | None = None
    #: The gate register (``visitors.sqlite3``): the report counts its visits and pupils out.
    visitors: VisitorStore | None = None

    # -- sensors -------------------------------------------------------------------------------

    def sensors(self) -> list[dict[str, Any]]:
        return self.state.sensors()

    def limits(self, sensor: dict[str, Any],
               as_at: dict[str, dict[str, Any] | None] | None = None) -> tuple[float | None, float | None] | None:
        """The limits in force, with what was set through the web app (the changes are listed apart).

        ``as_at`` (``edits_as_at``): the edits in force at a past time for the sensors changed since.
        """
        edits = self.state.limit_edits()
        key = sensor["key"]
        edit = as_at[key] if as_at is not None and key in as_at else edits.get(key)
        found = limits_for(sensor, self.config, edit)
        return (found.low, found.high) if found is not None else None

    def edits_as_at(self, at: float) -> dict[str, dict[str, Any] | None]:
        """Sensor → the web app's edit in force at ``at``, for each sensor whose limits changed after ``at``.

        Read back from the first later change's "before" (None: no edit, the configured limits):
        a period's report, a signed week's above all, reads the limits of its own time, not today's.
        """
        found: dict[str, dict[str, Any] | None] = {}
        for _ts, _who, detail in self.state.limit_edit_history(at, float("inf")):
            found.setdefault(str(detail["sensor"]), detail.get("before"))
        return found

    def configured_limits(self, sensor: dict[str, Any]) -> tuple[float | None, float | None] | None:
        """The limits from the config file and the edge, before any change made through the web app."""
        found = limits_for(sensor, self.config)
        return (found.low, found.high) if found is not None else None

    def limit_edits(self, since: float, until: float) -> list[tuple[float, str, dict[str, Any]]]:
        """Limit changes put in force in the period (the audit log's record of them)."""
        return self.state.limit_edit_history(since, until)

    def limit_proposals(self, until: float) -> list[LimitProposal]:
        """Limits beyond the band proposed before ``until`` and still waiting for approval at ``until``.

        A decision taken after ``until`` does not reach back: the period's report still shows it waiting.
        """
        return [p for p in self.state.limit_proposals(open_only=False)
                if p.proposed_at < until and (p.decided_at is None or p.decided_at >= until)]

    def silences(self, since: float, until: float) -> list[tuple[Silence, str, float, float | None]]:
        return self.state.silences_between(since, until)

    def name(self, sensor: dict[str, Any]) -> str:
        override = self.config.sensors.get(sensor["key"])
        return (override.name if override is not None and override.name else None) or sensor["name"] or sensor["key"]

    def door_of(self, key: str) -> str | None:
        return next((u.door for u in self.config.alerts.units if u.temperature == key), None)

    # -- series --------------------------------------------------------------------------------

    def hourly(self, key: str, since: float, until: float) -> list[HourlyAggregate]:
        return self.series.hourly(key, since, until)

    def hourly_many(self, keys: Sequence[str], since: float, until: float) -> dict[str, list[HourlyAggregate]]:
        """Hourly aggregates of many sensors: in as few queries as the store can."""
        if isinstance(self.series, ManySensors):
            return self.series.hourly_many(keys, since, until)
        return {key: self.series.hourly(key, since, until) for key in keys}

    def readings(self, key: str, since: float, until: float,
                 limit: int = SPAN_LIMIT) -> list[tuple[float, float | None]]:
        if isinstance(self.series, TimedValues):
            return self.series.values(key, since, until, limit)
        return [(r.ts, r.value) for r in self.series.readings(key, since, until, limit)]

    def first_valued(self, key: str, since: float, until: float) -> tuple[float, float] | None:
        """The first reading with a value in ``[since, until)`` (a log-sheet entry)."""
        for ts, value in self.readings(key, since, until, limit=50):
            if value is not None:
                return ts, value
        return None

    def first_valued_many(self, keys: Sequence[str], since: float,
                          until: float) -> dict[str, tuple[float, float]]:
        """``first_valued`` of many sensors (one log-sheet column of a day); sensors without one are left out."""
        if isinstance(self.series, ManySensors):
            return self.series.first_values(keys, since, until)
        found = {key: self.first_valued(key, since, until) for key in keys}
        return {key: value for key, value in found.items() if value is not None}

    def previous_value(self, key: str, before: float) -> float | None:
        """The last valued reading in the day before ``before`` (was an excursion already running?)."""
        hours = self.series.hourly(key, before - LOOKBACK_S, before)
        if not hours:
            return None
        last = hours[-1].hour
        found = [value for _ts, value in self.readings(key, max(last, before - LOOKBACK_S), before,
                                                        limit=100_000) if value is not None]
        return found[-1] if found else None

    def door_opens(self, door: str, since: float, until: float) -> list[float]:
        return [e.ts for e in self.series.events(since, until, sensor=door, limit=100_000)
                if e.state.lower() in OPEN_STATES]

    # -- records -------------------------------------------------------------------------------

    def alerts(self, since: float, until: float) -> list[Alert]:
        """Alarms active at any moment of ``[since, until)`` (started before and still open count)."""
        found = self.state.alerts(since=since - 30 * 86_400, until=until, limit=1_000_000)
        return sorted((a for a in found if (a.resolved_at or a.closed_at or until) >= since
                       or a.state in ACTIVE_STATES), key=lambda a: (a.started_at, a.id or 0))

    def playbook(self, alert: Alert) -> list[Step]:
        """The steps the alarm's card offered (to name the steps its interim actions ticked off)."""
        sensor = next((s for s in self.state.sensors() if s["key"] == alert.subject), None)
        profile = profile_of(sensor, self.config) if sensor is not None else ""
        found = playbook_for(alert.rule, profile, worst_value(alert), alert.threshold)
        return steps(self.config.alerts.playbooks, found, alert.threshold)

    def sample_records(self, since: float, until: float) -> list[SampleRecord]:
        return self.samples.between(since, until) if self.samples is not None else []

    def sweeps(self, since: float, until: float) -> list[Sweep]:
        return self.gate.sweeps(since=since, until=until, limit=100_000) if self.gate is not None else []

    def rounds(self, since: float, until: float) -> list[dict[str, Any]]:
        return self.gate.rounds(since, until) if self.gate is not None else []

    def devices(self) -> list[dict[str, Any]]:
        return self.state.devices()

    def audit_head(self) -> str:
        """The newest audit entry's hash: ids are dense from 1, so a doubling then halving search finds it."""
        def exists(entry_id: int) -> bool:
            return bool(self.state.audit_entries(after_id=entry_id - 1, limit=1))

        if not exists(1):
            return ""
        high = 1
        while exists(high * 2):
            high *= 2
        low, high = high, high * 2  # exists(low), not exists(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if exists(middle) else (low, middle)
        return self.state.audit_entries(after_id=low - 1, limit=1)[0].hash


def hour_floor(ts: float) -> float:
    return ts // HOUR_S * HOUR_S
