"""The district link as one component of the hub: its outbox, its sender, its listeners on what the hub stores.

Built only when the ``district`` settings slice enables it (off by default), so a
school without a district runs exactly as before. The ingest calls ``on_stored``
with each batch's new readings and events after writing them and before committing
their message ids as seen (``IngestPipeline.add_durable_listener``): a crash between
the two makes the edge send again and the hub store and put them again, so the
outbox misses nothing. Only the outbox's own I/O may fail the batch: a record that
breaks the district's bounds (an edge event's ``detail`` may hold 64 × 4,096
characters, the district takes 16,384) is parked at once with the reason and counted
(``counters.parked``), and the batch is stored, alarmed on and confirmed as any other.
``tick`` is a duty on the hub's scheduler, and raises the link's own warning
(``RuleKind.DISTRICT_LINK``) when sends have failed for ``alarm_after_s`` or the district
refuses the school's token.

Alarm changes and the audit log are not pushed by listeners: the state store appends
each change of an alarm to ``alert_changes`` in the save's own transaction, every write
of the hub's services (checklists, work orders, samples, limits, sign-offs …) appends to
the audit log, and ``tick`` reads both on from the outbox's cursors, putting the entries
and the new cursor in one commit. A crash between an alarm's save and its forwarding
loses nothing (a listener called after the save was lost with the process), and no
service needs to know that a district exists.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser
from hub.audit import AuditEntry
from hub.district.wire import ForwardedRecord, RecordKind
from hub.forward.outbox import ForwardOutbox, Unsendable
from hub.forward.records import (
    HOUR_S,
    alarm_snapshot_key,
    alarm_snapshot_record,
    audit_key,
    audit_record,
    event_key,
    event_record,
    hour_of,
    hourly_record,
    reading_key,
    reading_record,
)
from hub.forward.sender import Forwarder, HttpTransport, Transport, link_down
from hub.forward.settings import DistrictLink, ReadingsForward
from hub.store.base import StoredEvent, StoredReading

_LOGGER = logging.getLogger(__name__)
#: The outbox's file in the hub's database directory.
OUTBOX_FILE = "district-outbox.sqlite3"

_Stored = TypeVar("_Stored", StoredReading, StoredEvent, AuditEntry, dict[str, Any])
#: The outbox's cursors into the hub's audit log and its log of alarm changes.
AUDIT_FEED = "audit"
ALARM_FEED = "alarms"
#: Entries read into the outbox per tick and log, at most: a first link after years of log catches up in steps.
PER_TICK = 1000
#: An hour is summed up this long after it ended: the readings of its last seconds have reached the hub by then.
HOUR_SETTLE_S = 300.0
#: Readings of one sensor in one hour, at most read back (one a second is 3,600).
HOUR_READINGS_MAX = 36_000


class HubLogs(Protocol):
    """The hub's own logs as the district link reads them (hub.store.state.StateStore)."""

    def audit_entries(self, after_id: int = 0, limit: int | None = None) -> list[AuditEntry]: ...

    def alert_changes(self, after_seq: int = 0, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]: ...


class HubReadings(Protocol):
    """The hub's series as the link reads an hour back from it (hub.store.base.SeriesStore)."""

    def readings(self, sensor: str, since: float, until: float, limit: int = 10_000) -> list[StoredReading]: ...


def _reason(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors(include_url=False))


#: The district link's alarm: one per school hub.
LINK_SUBJECT = "district"


def link_message(locale: str, credentials_refused: bool, hours: float, waiting: int) -> str:
    """What the link's warning says: why, and that nothing is lost meanwhile."""
    if locale == "en":
        why = ("the district refuses this school's token" if credentials_refused
               else f"no confirmation for {hours:.1f} h")
        return f"Link to the district down: {why}; {waiting:,} records wait in the outbox, kept until sent"
    why = "区县平台拒绝本校令牌，请联系区县管理员" if credentials_refused else f"已 {hours:.1f} 小时未能上报"
    return f"区县平台连接中断：{why}；{waiting:,} 条记录在本地待发，不会丢失"


class DistrictForward:
    def __init__(self, link: DistrictLink, db_dir: Path, transport: Transport | None = None,
                 alarms: AlertRaiser | None = None, logs: HubLogs | None = None,
                 series: HubReadings | None = None) -> None:
        self.link = link
        self._alarms = alarms
        self._logs = logs
        #: Where an hour's readings are read back from (``district.readings: hourly``).
        self._series = series
        self._link_down: bool | None = None
        self._link_observed_at = float("-inf")
        self.outbox = ForwardOutbox(db_dir / OUTBOX_FILE)
        self.transport = transport or HttpTransport(link.urls, link.site, link.secret(), link.timeout_s)
        self.forwarder = Forwarder(self.outbox, self.transport, link.batch, link.retry_min_s, link.retry_max_s)

    def on_stored(self, readings: list[StoredReading], events: list[StoredEvent]) -> None:
        """A batch the hub stored, before it is committed as seen: an outbox failure fails the batch, so it is retried.

        What one record holds never does: a record that cannot be forwarded is parked.
        """
        records: list[ForwardedRecord] = []
        unsendable: list[Unsendable] = []
        if self.link.readings is ReadingsForward.RAW:
            for reading in readings:
                self._build(reading, reading_record, RecordKind.READING,
                            lambda r: reading_key(r.sensor, r.ts), records, unsendable)
        hours = {(r.sensor, hour_of(r.ts)) for r in readings} if self.link.readings is ReadingsForward.HOURLY else ()
        for event in events:
            self._build(event, event_record, RecordKind.EVENT, event_key, records, unsendable)
        self.outbox.put(records, unsendable, hours)

    def _build(self, stored: _Stored, build: Callable[[_Stored], ForwardedRecord | None], kind: RecordKind,
               key: Callable[[_Stored], str], records: list[ForwardedRecord], unsendable: list[Unsendable]) -> None:
        try:
            record = build(stored)
        except ValidationError as error:
            body = json.dumps(stored if isinstance(stored, dict) else dataclasses.asdict(stored), ensure_ascii=False,
                              default=str)
            ts = float(stored.get("updated_at") or 0.0) if isinstance(stored, dict) else float(stored.ts)
            self._park(kind, key(stored), ts, body, f"not forwardable as it is: {_reason(error)}", unsendable)
            return
        if record is not None:
            records.append(record)

    def _park(self, kind: RecordKind, key: str, ts: float, body: str, reason: str,
              unsendable: list[Unsendable]) -> None:
        unsendable.append(Unsendable(kind, key[:300], ts, body, reason))
        self.forwarder.counters.parked += 1
        _LOGGER.error("%s record %s cannot go to the district (%s): set aside in the outbox's parked records",
                      kind.value, key[:300], reason[:300])

    def forward_logs(self) -> int:
        """What the hub's logs gained since the last call, into the outbox with each log's cursor; returns how many.

        The alarm changes always (the district's view of the school's alarms); the audit log
        where ``district.audit`` is on.
        """
        if self._logs is None:
            return 0
        after = self.outbox.feed_cursor(ALARM_FEED)
        changes = self._logs.alert_changes(after_seq=after, limit=PER_TICK)
        records: list[ForwardedRecord] = []
        unsendable: list[Unsendable] = []
        for _seq, snapshot in changes:
            self._build(snapshot, alarm_snapshot_record, RecordKind.ALARM, alarm_snapshot_key, records, unsendable)
        if changes:
            self.outbox.put_feed(ALARM_FEED, changes[-1][0], records, unsendable)
        if not self.link.audit:
            return len(changes)
        after = self.outbox.feed_cursor(AUDIT_FEED)
        entries = self._logs.audit_entries(after_id=after, limit=PER_TICK)
        records, unsendable = [], []
        for entry in entries:
            self._build(entry, audit_record, RecordKind.AUDIT, audit_key, records, unsendable)
        if entries:
            assert entries[-1].id is not None  # read from the table: every entry has its id
            self.outbox.put_feed(AUDIT_FEED, entries[-1].id, records, unsendable)
        return len(changes) + len(entries)

    def forward_hours(self, now: float) -> int:
        """Sum up the marked hours that ended ``HOUR_SETTLE_S`` ago into the outbox; returns how many.

        Read back from the hub's own series, so an hour is whatever the school holds of it:
        readings that reach the hub later (an edge back from an outage) mark it again, and
        it is summed up again, with a higher count.
        """
        if self._series is None:
            return 0
        due = self.outbox.hours_due(now - HOUR_SETTLE_S, PER_TICK)
        records: list[ForwardedRecord] = []
        unsendable: list[Unsendable] = []
        for mark in due:
            readings = self._series.readings(mark.sensor, mark.hour, mark.hour + HOUR_S, limit=HOUR_READINGS_MAX)
            try:
                record = hourly_record(mark.sensor, mark.hour, readings)
            except ValidationError as error:  # a sensor key past the district's bounds: kept here, with why
                self._park(RecordKind.HOURLY, f"{mark.sensor}@{round(mark.hour * 1000)}", mark.hour,
                           json.dumps({"sensor": mark.sensor, "hour": mark.hour, "count": len(readings)}),
                           f"not forwardable as it is: {_reason(error)}", unsendable)
                continue
            if record is not None:
                records.append(record)
        if due:
            self.outbox.put_hours(due, records, unsendable)
        return len(due)

    def tick(self, now: float) -> None:
        # First, so what the hub logged since the last tick goes out in this one.
        try:
            self.forward_logs()
        except sqlite3.Error:
            # The hub's database busy or failing: what waits in the outbox goes on; the cursors have not moved,
            # so the entries are read next tick.
            _LOGGER.exception("reading the hub's logs for the district failed; tried again next tick")
        try:
            self.forward_hours(now)
        except Exception:
            # The series down (InfluxDB restarting, a full disk): the marks stay, and what waits goes on.
            _LOGGER.exception("summing up hours for the district failed; tried again next tick")
        self.forwarder.tick(now)
        if self._alarms is not None:
            self._observe_link(self._alarms, now)

    def _observe_link(self, alarms: AlertRaiser, now: float) -> None:
        """A link down long enough (or refusing the school's token) is a warning through the hub's channels.

        Told to the engine when it changes, and once a minute while it holds (not every tick: the
        message counts the outbox, and a week's outage is millions of rows).
        """
        c = self.forwarder.counters
        down = link_down(c, now, self.link.alarm_after_s)
        if down == self._link_down and now < self._link_observed_at + 60.0:
            return
        self._link_down, self._link_observed_at = down, now
        message = ""
        if down and c.failing_since is not None:
            message = link_message(alarms.locale, c.credentials_refused, (now - c.failing_since) / 3600.0,
                                   self.outbox.depth())
        alarms.observe(RuleKind.DISTRICT_LINK, LINK_SUBJECT, down, now, device="hub", kind=AlertKind.HUB,
                       severity=Severity.WARNING, message=message,
                       data={"error": (c.last_error or "")[:300]} if down else None)

    def close(self) -> None:
        self.transport.close()
        self.outbox.close()
