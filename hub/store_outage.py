"""A store that cannot write (a full disk, an I/O error, a file system gone read-only, a database server away).

The ingest writer already acknowledges nothing it could not commit (hub.ingest): no
PUBACK, no ``stored`` confirmation, so every edge keeps its rows and the broker keeps
the hub's queue. This module adds what a full disk needs beyond a failed batch:

* ``write_refusal`` tells a refused write (SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY,
  ENOSPC, EIO, EROFS, InfluxDB's "no space left on device", a PostgreSQL or InfluxDB
  server that does not answer) from any other error;
* ``WriteOutage`` holds, in memory, since when the stores refuse to write and why —
  ``/api/health`` answers 503 from it at the first refused batch, ``/metrics`` shows it;
* ``StoreAlarm`` (a scheduler duty) raises the ``store_cannot_write`` alarm **from
  memory**: the alert engine records every alarm in ``hub.sqlite3`` before notifying,
  which a full disk refuses, so this alarm goes straight to the notification routes of
  the hub's escalation policy (the delivery log is best effort) and escalates on the
  policy's tiers. When a batch commits again the outage is over; the alarm is then
  written to the record as an alert that fired and resolved, with both steps in the
  audit log, and the routes it reached are told it is over.

Nothing here restarts anything: the writer keeps retrying its batch (at most
``RETRY_MAX_S`` apart while the disk refuses), so the hub resumes on its own when space
returns, and what the edges kept arrives then — deduplicated, so exactly once.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from hub.alerts.builtin import describe
from hub.alerts.config import AlertsConfig
from hub.alerts.kinds import AlertState, RuleKind
from hub.rules.escalation import due_tiers
from hub.store.base import SeriesUnreachable
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)

#: The longest wait between two attempts at a batch while the disk refuses (a refused write costs nothing).
RETRY_MAX_S = 5.0
#: The alarm's subject: the hub itself (it has no buzzer of its own; see docs/reliability.md).
SUBJECT = "hub"

_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY = 13, 10, 8
_REFUSALS = {
    _SQLITE_FULL: "disk full",
    _SQLITE_IOERR: "disk I/O error",
    _SQLITE_READONLY: "file system read-only",
}
_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk full",
    errno.EIO: "disk I/O error",
    errno.EROFS: "file system read-only",
}
#: The series store's server (PostgreSQL, InfluxDB) does not answer.
UNREACHABLE = "database unreachable"
#: What the text of an error says when it carries no code (InfluxDB's answer to a write, say).
_TEXTS = (
    ("database or disk is full", "disk full"),
    ("no space left on device", "disk full"),
    ("disk quota exceeded", "disk full"),
    ("disk i/o error", "disk I/O error"),
    ("input/output error", "disk I/O error"),
    ("read-only file system", "file system read-only"),
)


def write_refusal(error: BaseException) -> str | None:
    """"disk full", "disk I/O error" or "file system read-only" when the disk refused a write,
    "database unreachable" when the series store's server did not answer; else None.

    Looks through the error's causes, since a store may wrap what SQLite or the OS raised.
    A server that does not answer is no blip either: while it lasts no reading reaches the
    rules (a batch is evaluated once it is stored), so people must hear of it.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SeriesUnreachable):
            return UNREACHABLE
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if isinstance(code, int) and (code & 0xFF) in _REFUSALS:
                return _REFUSALS[code & 0xFF]
        if isinstance(current, OSError) and current.errno in _ERRNOS:
            return _ERRNOS[current.errno]
        text = str(current).lower()
        for fragment, refusal in _TEXTS:
            if fragment in text:
                return refusal
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True)
class Episode:
    """One stretch of time during which the stores refused to write."""

    since: float
    reason: str
    #: The last error's text, for the log and the alarm (no paths of a person's data: the file names only).
    error: str
    refused_batches: int
    ended: float | None = None


class WriteOutage:
    """Since when the stores refuse to write, as the ingest writer found out; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Episode | None = None
        self._ended: list[Episode] = []
        #: Outages since the hub started (a counter for /metrics).
        self.outages = 0

    def failed(self, error: BaseException, now: float) -> str | None:
        """A batch failed: returns the refusal when the disk refused it (the outage begins or goes on)."""
        reason = write_refusal(error)
        if reason is None:
            return None
        text = f"{type(error).__name__}: {error}"[:300]
        with self._lock:
            current = self._current
            if current is None:
                self.outages += 1
                self._current = Episode(since=now, reason=reason, error=text, refused_batches=1)
                begun = True
            else:
                self._current = replace(current, reason=reason, error=text,
                                        refused_batches=current.refused_batches + 1)
                begun = False
        if begun:
            _LOGGER.critical("the hub's store cannot write (%s): nothing is confirmed to the edges until it can;"
                             " they keep their messages. %s", reason, text)
        return reason

    def stored(self, now: float) -> None:
        """A batch committed: an outage in progress is over (kept until ``take_ended`` records it)."""
        with self._lock:
            current = self._current
            if current is None:
                return
            self._current = None
            self._ended.append(replace(current, ended=now))
        _LOGGER.warning("the hub's store writes again after %.0f s (%s, %d batches refused); the edges' messages"
                        " kept meanwhile are arriving", now - current.since, current.reason, current.refused_batches)

    def current(self) -> Episode | None:
        with self._lock:
            return self._current

    def take_ended(self) -> list[Episode]:
        """Outages that are over and not yet recorded (the caller puts back what it could not record)."""
        with self._lock:
            ended, self._ended = self._ended, []
        return ended

    def put_back(self, episodes: list[Episode]) -> None:
        with self._lock:
            self._ended[:0] = episodes


#: ``deliver(alert, route, reason)``: the engine's notifier (hub.alerts.notifier), read at each call.
Deliver = Callable[[Alert, str, str], None]
#: Record an alarm that fired and resolved while it lived in memory (``AlertEngine.record_resolved``).
RecordResolved = Callable[[Alert], Alert]


class StoreAlarm:
    """The ``store_cannot_write`` alarm, kept in memory while the disk refuses and recorded when it writes again.

    ``tick`` is a scheduler duty; it neither reads nor writes a store while the outage
    lasts, so it keeps working on a full disk.
    """

    def __init__(self, outage: WriteOutage, alerts: AlertsConfig, deliver: Callable[[], Deliver],
                 record: RecordResolved, locale: str, clock: Callable[[], float] = time.time) -> None:
        self._outage = outage
        self._alerts = alerts
        self._deliver = deliver
        self._record = record
        self._locale = locale
        self._clock = clock
        self._lock = threading.Lock()
        #: The alarm of the outage in progress, and those over but not yet recorded, by their start.
        self._alarms: dict[float, Alert] = {}

    def alarm(self) -> Alert | None:
        """The alarm of the outage in progress (in memory, no id), if any."""
        current = self._outage.current()
        with self._lock:
            return self._alarms.get(current.since) if current is not None else None

    def tick(self, now: float) -> None:
        with self._lock:
            current = self._outage.current()
            if current is not None:
                self._escalate(current, now)
            self._record_ended()

    def record_ended(self) -> None:
        """Record the outages that are over; the hub calls it as it stops, after its last batch.

        An outage that ended after the last tick would otherwise leave no record at all: it
        lived in memory only, and a restart right after the database came back is common.
        """
        with self._lock:
            self._record_ended()

    def _alarm_for(self, episode: Episode, now: float) -> Alert:
        alert = self._alarms.get(episode.since)
        if alert is None:
            description = describe(RuleKind.STORE_CANNOT_WRITE)
            alert = Alert(rule=RuleKind.STORE_CANNOT_WRITE, subject=SUBJECT, kind=description.kind,
                          severity=description.severity, state=AlertState.FIRING, message="",
                          started_at=episode.since, updated_at=now, fired_at=episode.since,
                          data={"device": SUBJECT})
            self._alarms[episode.since] = alert
        return alert

    def _escalate(self, episode: Episode, now: float) -> None:
        alert = self._alarm_for(episode, now)
        alert.message = cannot_write_message(episode.reason, episode.refused_batches, self._locale)
        alert.data.update({"reason": episode.reason, "refused_batches": episode.refused_batches})
        policy = self._alerts.policy_for(alert.kind)
        for tier in due_tiers(policy, episode.since, False, alert.notified_tier, alert.last_notified_at, now):
            reason = "fire" if alert.notified_tier < 0 else ("escalate" if tier > alert.notified_tier else "repeat")
            try:
                self._deliver()(alert, policy.tiers[tier].route, reason)
            except Exception:
                _LOGGER.exception("the store alarm could not be handed to the notifications")
                continue
            alert.notified_tier = max(alert.notified_tier, tier)
            alert.last_notified_at = now
            alert.notify_count += 1

    def _record_ended(self) -> None:
        ended = self._outage.take_ended()
        unrecorded: list[Episode] = []
        for episode in ended:
            # Over before this duty saw it (a blip): recorded all the same, with nobody woken for it.
            alert = self._alarm_for(episode, episode.since)
            assert episode.ended is not None
            alert.message = cannot_write_message(episode.reason, episode.refused_batches, self._locale,
                                                 lasted_s=episode.ended - episode.since)
            alert.data.update({"reason": episode.reason, "refused_batches": episode.refused_batches,
                               "error": episode.error})
            alert.resolved_at = alert.updated_at = episode.ended
            try:
                self._record(alert)
            except Exception as error:
                # One transaction: nothing of it was written. The next tick tries again.
                if write_refusal(error) is None:
                    _LOGGER.exception("recording the store alarm failed")
                alert.id, alert.state = None, AlertState.FIRING
                unrecorded.append(episode)
                continue
            del self._alarms[episode.since]
        if unrecorded:
            self._outage.put_back(unrecorded)


def cannot_write_message(reason: str, refused: int, locale: str, lasted_s: float | None = None) -> str:
    """What the alarm says: what is wrong, what it means for the readings, what to do."""
    zh_reason = {"disk full": "磁盘已满", "disk I/O error": "磁盘读写错误",
                 "file system read-only": "文件系统只读", UNREACHABLE: "数据库服务器无法连接"}.get(reason, reason)
    if locale == "en":
        text = (f"The hub cannot write its database ({reason}): readings are not stored, and the hub raises no"
                " temperature or door alarm from them meanwhile (the nodes' own buzzers still sound); the nodes keep"
                f" them and send them when the hub can write again ({refused} batches refused so far).")
        text += (" Check that the database server is running and reachable (docs/postgresql.md, docs/influxdb.md)."
                 if reason == UNREACHABLE else " Free disk space on the hub (docs/operations.md, \"A full disk\").")
        if lasted_s is not None:
            text = (f"The hub could not write its database for {lasted_s:.0f} s ({reason}, {refused} batches"
                    " refused); it writes again and the readings the nodes kept are arriving.")
        return text
    if lasted_s is not None:
        return (f"中心服务器曾 {lasted_s:.0f} 秒无法写入数据库（{zh_reason}，{refused} 批被拒），现已恢复写入，"
                "各节点暂存的数据正在补传")
    advice = ("请检查数据库服务器是否在运行、网络是否连通" if reason == UNREACHABLE
              else "请清理服务器磁盘空间（见运维手册“磁盘已满”）")
    return (f"中心服务器无法写入数据库（{zh_reason}）：数据暂未入库，中心暂时无法据此发出温度和门禁报警"
            f"（节点本地蜂鸣器照常报警），各节点会保留并在恢复后补传（已有 {refused} 批被拒）。{advice}")
