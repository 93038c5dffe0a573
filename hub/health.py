"""Can the hub store and alarm right now: the parts of ``/api/health`` and the verdict on them.

A watchdog or load balancer only looks at the status code, so the code must be
honest: 503 when the hub cannot do its job — the store failed its last batches
(readings pile up unacknowledged at the broker), or the alert engine's timer duty
has not run for many intervals or the scheduler stopped (delayed alarms, offline
devices and "still too warm" escalations would never fire). Everything that is
wrong but leaves storing and alarming working (broker connection lost, a duty
failing or overrunning, a notification channel failing) is ``degraded`` with a
200. The report names parts and duties, never a person, sensor, channel or alarm:
the route is open without credentials (a signed-in viewer also gets the devices that
sent dead letters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from hub.backup import BackupStatus
from hub.ingest import IngestCounters
from hub.notify.component import Notifications
from hub.scheduler import DutyStatus, Scheduler
from hub.store.state import StateStore
from hub.store_outage import Episode, WriteOutage

#: The alert engine's timer duty, registered under this name (hub.runtime): no timers, no alarms.
ALERT_TIMERS = "alert-timers"
#: Consecutive failed batches after which the hub counts as unable to store (one may be a blip).
STORE_FAILING_BATCHES = 2
#: The timer duty counts as stalled after this many of its intervals without a good run…
STALL_INTERVALS = 10
#: …and never sooner than this (a loaded Raspberry Pi can pause a thread for seconds).
STALL_FLOOR_S = 30.0

Status = Literal["ok", "degraded", "failing"]


class BrokerPart(BaseModel):
    ok: bool
    #: None: a hub built without an MQTT connection.
    connected: bool | None


class StorePart(BaseModel):
    ok: bool
    last_commit: float | None
    last_commit_age_s: float | None
    #: Batches that failed to store since the last one that was stored.
    failing_batches: int
    store_failures_total: int
    last_failure_age_s: float | None
    #: Why the disk refuses to write ("disk full", "disk I/O error", "file system read-only"); None: it writes.
    cannot_write: str | None = None
    #: Seconds since the disk first refused (None: it writes).
    cannot_write_for_s: float | None = None


class DutyPart(BaseModel):
    name: str
    interval_s: float
    last_run_age_s: float | None
    last_duration_s: float | None
    runs: int
    failures: int
    consecutive_failures: int
    overruns: int
    running_for_s: float | None
    failing: bool
    overrunning: bool


class SchedulerPart(BaseModel):
    ok: bool
    running: bool
    failing: list[str]
    overrunning: list[str]
    duties: list[DutyPart]


class AlarmPart(BaseModel):
    ok: bool
    #: Seconds since the alert engine's timers last ran without an error (None: not yet).
    timers_age_s: float | None
    detail: str


class NotificationsPart(BaseModel):
    ok: bool
    configured: bool
    channels: int
    failing_channels: int


class BackupPart(BaseModel):
    ok: bool
    #: False: no nightly backup (``XIAOAN_BACKUP_DIR`` is not set).
    configured: bool
    last_ok_age_s: float | None
    last_failure_age_s: float | None
    #: The last try failed (an alarm ``backup_failed`` is raised); the next one is within the hour.
    failing: bool
    #: Archives in the backup directory.
    kept: int


NO_BACKUP = BackupPart(ok=True, configured=False, last_ok_age_s=None, last_failure_age_s=None, failing=False, kept=0)


class DeviceDeadLetters(BaseModel):
    device: str
    kept: int
    dropped: int


class DeadLetterPart(BaseModel):
    """Messages that broke the wire contract: kept for reading (capped per device), and dropped past the cap or by age.

    ``devices`` names devices, so it is filled only for a signed-in viewer; the open
    report carries the totals.
    """

    kept: int
    dropped: int
    devices: list[DeviceDeadLetters] | None = None

    @classmethod
    def of(cls, kept: Mapping[str, int], dropped: Mapping[str, int], detail: bool) -> DeadLetterPart:
        devices = None
        if detail:
            devices = [DeviceDeadLetters(device=d, kept=kept.get(d, 0), dropped=dropped.get(d, 0))
                       for d in sorted(set(kept) | set(dropped))]
        return cls(kept=sum(kept.values()), dropped=sum(dropped.values()), devices=devices)


class GatesPart(BaseModel):
    """Gate duty's coverage: gates and doors no after-hours rule watches, and the default windows' standing."""

    ok: bool
    #: Gates and doors of the door kinds that no group (and no default group) watches.
    unwatched: int
    #: Some gate or door relies on the default group's windows, which no admin has confirmed yet.
    defaults_unconfirmed: bool


class HealthPublic(BaseModel):
    """``/api/health``: the verdict, the compatible summary keys, then each part."""

    status: Status
    mqtt_connected: bool | None
    uptime_s: float
    pipeline: dict[str, Any]
    #: Dead letters kept now (``dead_letters.kept``; the key older watchdogs read).
    dead_letters_total: int
    #: What makes the status what it is, in words (empty when ``ok``).
    problems: list[str]
    broker: BrokerPart
    store: StorePart
    alarms: AlarmPart
    scheduler: SchedulerPart
    notifications: NotificationsPart
    dead_letters: DeadLetterPart
    backup: BackupPart = NO_BACKUP
    gates: GatesPart


def _age(now: float, at: float | None) -> float | None:
    return None if at is None else round(now - at, 3)


def _duty(status: DutyStatus, now: float) -> DutyPart:
    return DutyPart(name=status.name, interval_s=status.interval_s, last_run_age_s=_age(now, status.last_run),
                    last_duration_s=status.last_duration_s, runs=status.runs, failures=status.failures,
                    consecutive_failures=status.consecutive_failures, overruns=status.overruns,
                    running_for_s=status.running_for_s, failing=status.failing, overrunning=status.overrunning)


def alarm_part(now: float, timers: DutyStatus | None, scheduler_started: float | None,
               scheduler_running: bool) -> AlarmPart:
    """Can this hub raise alarms: the engine's timer duty runs, on a running scheduler.

    Always judged: every hub runs its school's rules itself (docs/scale-out.md).
    """
    last_ok = timers.last_ok if timers is not None else None
    age = _age(now, last_ok)
    if scheduler_started is None:
        # Built but not started (a command-line tool, a test): nothing ticks yet, nothing is overdue.
        return AlarmPart(ok=True, timers_age_s=age, detail="the scheduler has not started")
    if not scheduler_running or timers is None:
        return AlarmPart(ok=False, timers_age_s=age, detail="no alarm timers run")
    stall_s = max(STALL_INTERVALS * timers.interval_s, STALL_FLOOR_S)
    if now - (last_ok if last_ok is not None else scheduler_started) > stall_s:
        return AlarmPart(ok=False, timers_age_s=age,
                         detail=f"the alert timers have not run for more than {stall_s:g}s")
    return AlarmPart(ok=True, timers_age_s=age, detail="alert timers run")


def assess(*, now: float, uptime_s: float, counters: Mapping[str, Any], mqtt_connected: bool | None,
           duties: Sequence[DutyStatus], scheduler_started: float | None, scheduler_running: bool,
           notify_configured: bool, channels: int, failing_channels: int,
           dead_letters: DeadLetterPart, outage: Episode | None = None,
           backup: BackupStatus | None = None, unwatched_gates: int = 0,
           defaults_unconfirmed: bool = False) -> tuple[HealthPublic, bool]:
    """The health report, and whether the hub can do its job (False: answer 503).

    A disk that refuses to write (``outage``) is 503 at its first refused batch: unlike a
    busy database, a full disk is no blip.
    """
    failing_batches = int(counters.get("failing_batches", 0))
    store = StorePart(ok=failing_batches < STORE_FAILING_BATCHES and outage is None,
                      last_commit=counters.get("last_commit"),
                      last_commit_age_s=_age(now, counters.get("last_commit")), failing_batches=failing_batches,
                      store_failures_total=int(counters.get("store_failures", 0)),
                      last_failure_age_s=_age(now, counters.get("last_failure")),
                      cannot_write=outage.reason if outage is not None else None,
                      cannot_write_for_s=_age(now, outage.since) if outage is not None else None)
    broker = BrokerPart(ok=mqtt_connected is not False, connected=mqtt_connected)
    alarms = alarm_part(now, next((d for d in duties if d.name == ALERT_TIMERS), None), scheduler_started,
                        scheduler_running)
    parts = [_duty(duty, now) for duty in duties]
    failing = [d.name for d in parts if d.failing]
    overrunning = [d.name for d in parts if d.overrunning]
    scheduler = SchedulerPart(ok=scheduler_running and not failing and not overrunning, running=scheduler_running,
                              failing=failing, overrunning=overrunning, duties=parts)
    notifications = NotificationsPart(ok=failing_channels == 0, configured=notify_configured, channels=channels,
                                      failing_channels=failing_channels)
    backup_part = NO_BACKUP if backup is None else BackupPart(
        ok=not backup.failing, configured=True, last_ok_age_s=_age(now, backup.last_ok),
        last_failure_age_s=_age(now, backup.last_failure), failing=backup.failing, kept=backup.kept)
    problems = []
    if outage is not None:
        problems.append(f"the store cannot write ({outage.reason}) for {now - outage.since:.0f}s: nothing is"
                        " confirmed to the edges, which keep their messages")
    elif not store.ok:
        problems.append(f"the store failed the last {failing_batches} batches")
    if not alarms.ok:
        problems.append(alarms.detail)
    if not broker.ok:
        problems.append("not connected to the broker")
    if not scheduler_running:
        problems.append("the scheduler is not running")
    problems.extend(f"duty {name} is failing" for name in failing)
    problems.extend(f"duty {name} is overrunning" for name in overrunning)
    if not notifications.ok:
        problems.append(f"{failing_channels} notification channel(s) failing")
    if not backup_part.ok:
        problems.append("the last backup failed")
    gates = GatesPart(ok=unwatched_gates == 0, unwatched=unwatched_gates, defaults_unconfirmed=defaults_unconfirmed)
    if not gates.ok:
        problems.append(f"{unwatched_gates} gate(s) or door(s) watched by no after-hours rule")
    can_work = store.ok and alarms.ok
    status: Status = "failing" if not can_work else "ok" if not problems else "degraded"
    report = HealthPublic(status=status, mqtt_connected=mqtt_connected, uptime_s=round(uptime_s, 1),
                          pipeline=dict(counters), dead_letters_total=dead_letters.kept, problems=problems,
                          broker=broker, store=store, alarms=alarms, scheduler=scheduler,
                          notifications=notifications, dead_letters=dead_letters, backup=backup_part,
                          gates=gates)
    return report, can_work


@dataclass(frozen=True)
class Vitals:
    """The running hub's parts that ``/api/health`` and ``/metrics`` read: a component, not the hub.

    ``mqtt_connected`` is None for a hub without a broker session (the report command,
    API tests).
    """

    counters: IngestCounters
    scheduler: Scheduler
    notifications: Notifications
    record: StateStore
    started_at: float
    mqtt_connected: Callable[[], bool | None]
    #: Whether the stores refuse to write (hub.store_outage), as the ingest writer found out.
    outage: WriteOutage
    #: The nightly backup's state (None: none configured).
    backup: Callable[[], BackupStatus | None] = lambda: None
    #: Gate duty's coverage: (gates and doors no rule watches, default windows in use but unconfirmed).
    gate_coverage: Callable[[], tuple[int, bool]] = lambda: (0, False)

    def health(self, now: float, detail: bool = False) -> tuple[HealthPublic, bool]:
        """The report and whether the hub can store and alarm (False: answer 503).

        ``detail``: the asker is signed in, and may see which devices sent dead letters.
        """
        notifications = self.notifications
        unwatched, unconfirmed = self.gate_coverage()
        return assess(
            now=now, uptime_s=now - self.started_at, counters=self.counters.snapshot(),
            mqtt_connected=self.mqtt_connected(), duties=self.scheduler.status(),
            scheduler_started=self.scheduler.started_at, scheduler_running=self.scheduler.running,
            notify_configured=notifications.configured,
            channels=len(notifications.channels), failing_channels=len(notifications.failing_channels()),
            dead_letters=DeadLetterPart.of(self.record.dead_letters_kept(), self.record.dead_letters_dropped(),
                                           detail),
            outage=self.outage.current(), backup=self.backup(), unwatched_gates=unwatched,
            defaults_unconfirmed=unconfirmed)
