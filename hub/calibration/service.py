"""The calibration component: checks on record, offsets to the nodes, the live window, alarms and reminders.

Built from its settings slice, its store path and narrow ports: the directory of
sensors and the audit chain (``Record``), the alarm seam (``AlertRaiser``), the series
(for the probe's live readings), a command to a node and an announcement on a
notification route. It learns what each node applies from the nodes' status
(``on_status``), which the ingest pipeline hands it after storing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from edge import wire
from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser, AuditTrail, Directory
from hub.calibration import certificates, rules
from hub.calibration.config import CalibrationConfig
from hub.calibration.kinds import Method, OffsetSource, Standing, subject_of
from hub.calibration.rules import Point
from hub.calibration.store import CalibrationStore, CheckRecord, NewCheck, OffsetChange
from hub.errors import FieldError, NotFound
from hub.notify.base import Notification
from hub.store.base import SeriesStore, sensor_key

_LOGGER = logging.getLogger(__name__)

FAILED_RULE = RuleKind.CALIBRATION_FAILED
OVERDUE_RULE = RuleKind.CALIBRATION_OVERDUE
#: Sensors of these kinds are probes that are calibrated.
CALIBRATED_KINDS = frozenset({"temperature"})


@dataclass(frozen=True)
class Probe:
    """A temperature sensor as the calibration sees it: what it is, what it applies now, where it stands."""

    device: str
    sensor: str
    name: str
    profile: str
    hardware_id: str
    #: The offset the node reported in force, and where it comes from (``None``: not reported yet).
    offset: float | None
    offset_source: str
    #: The last check of the current probe (a replaced probe starts again).
    last_check: CheckRecord | None
    standing: Standing
    next_due: float | None
    #: When the current probe replaced another one under the same sensor (``None``: never replaced).
    replaced_at: float | None
    replaced_id: str

    @property
    def key(self) -> str:
        return sensor_key(self.device, self.sensor)


@dataclass(frozen=True)
class LiveWindow:
    """The probe's readings of the last ``window_s`` seconds, for the guided check."""

    device: str
    sensor: str
    latest: float | None
    latest_ts: float | None
    average: float | None
    count: int
    window_s: float
    #: The window is filled: the readings span most of it.
    complete: bool
    offset: float | None
    offset_source: str


@dataclass(frozen=True)
class Proposal:
    """The guided check's proposal: the probe's window average against the reference, assessed."""

    window: LiveWindow
    point: Point
    assessment: rules.Assessment


@dataclass(frozen=True)
class CheckInput:
    method: Method
    points: tuple[Point, ...]
    certificate_no: str = ""
    note: str = ""


@dataclass(frozen=True)
class Recorded:
    check: CheckRecord
    #: The new offset went to the node now (False: refused by the rules, or the broker is out of reach —
    #: it is sent again when the node's status shows another offset).
    sent: bool


class CalibrationError(FieldError):
    status = 422


class CalibrationService:
    def __init__(self, config: CalibrationConfig, path: Path, directory: Directory, audit: AuditTrail,
                 alerts: AlertRaiser, series: SeriesStore, send_command: Callable[[str, wire.Command], None],
                 announce: Callable[[Notification], None], tz: ZoneInfo, certificate_root: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = CalibrationStore(path)
        self._directory = directory
        self._audit = audit
        self._alerts = alerts
        self._series = series
        self._send = send_command
        self._announce = announce
        self.tz = tz
        self.certificate_root = certificate_root
        self.clock = clock

    def close(self) -> None:
        self.store.close()

    # -- what the nodes apply --------------------------------------------------------------------

    def on_status(self, device: str, status: wire.Status, now: float) -> None:
        """Keep each offset a node reports in force when it changes; send again an offset the node lacks."""
        if status.state != "online":
            return
        latest = self.store.latest_checks()
        for info in status.sensors:
            if info.kind not in CALIBRATED_KINDS:
                continue
            # A node older than the offset fields says nothing of its offset: neither value nor source is known.
            source = info.offset_source or (OffsetSource.CONFIG if info.offset is not None else "")
            change = OffsetChange(device, info.sensor, now, info.offset, source,
                                  info.calibration if source == OffsetSource.HUB else None, info.hardware_id)
            if self.store.record_offset(change):
                _LOGGER.info("%s/%s: offset %s (%s) in force from now, probe %s", device, info.sensor, info.offset,
                             source, info.hardware_id or "-")
            check = latest.get((device, info.sensor, info.hardware_id))
            if (check is not None and rules.sendable(check.offset, check.residual)
                    and info.offset is not None and info.calibration != check.id):
                # The node missed the command (offline then): the record says which offset it should apply.
                self._send_offset(check)

    def _send_offset(self, check: CheckRecord) -> bool:
        command = wire.Command(action="set_offset", ts=round(self.clock(), 3), sensor=check.sensor,
                               offset=check.offset, calibration=check.id,
                               reason=f"calibration check {check.id}")
        try:
            self._send(check.device, command)
        except ConnectionError as error:
            _LOGGER.warning("offset of %s/%s not sent now (%s): sent when the node reports in", check.device,
                            check.sensor, error)
            return False
        self.store.mark_sent(check.id)
        return True

    # -- the probes ------------------------------------------------------------------------------

    def probes(self, now: float | None = None) -> list[Probe]:
        """Every temperature sensor the hub knows, with its calibration standing."""
        now = self.clock() if now is None else now
        history: dict[tuple[str, str], list[OffsetChange]] = {}
        for change in self.store.offsets():
            history.setdefault((change.device, change.sensor), []).append(change)
        latest = self.store.latest_checks()
        remind_s = self.config.remind_days * 86_400.0
        found = []
        for sensor in self._directory.sensors():
            if sensor["kind"] not in CALIBRATED_KINDS:
                continue
            device, name = str(sensor["device"]), str(sensor["sensor"])
            changes = history.get((device, name), [])
            current = changes[-1] if changes else None
            hardware_id = current.hardware_id if current is not None else ""
            replaced = rules.replaced([(c.since, c.hardware_id) for c in changes])
            check = latest.get((device, name, hardware_id))
            found.append(Probe(
                device=device, sensor=name, name=self._alerts.name(sensor_key(device, name)),
                profile=str(sensor.get("profile") or ""),
                hardware_id=hardware_id, offset=current.offset if current is not None else None,
                offset_source=current.source if current is not None else "", last_check=check,
                standing=rules.standing(check.passed if check else None, check.next_due if check else None, now,
                                        remind_s),
                next_due=check.next_due if check else None,
                replaced_at=replaced[0] if replaced else None, replaced_id=replaced[1] if replaced else ""))
        return found

    def probe(self, device: str, sensor: str, now: float | None = None) -> Probe:
        for found in self.probes(now):
            if found.device == device and found.sensor == sensor:
                return found
        raise NotFound("sensor", f"no temperature sensor {device}/{sensor} · 没有这个温度探头")

    def live(self, device: str, sensor: str, now: float | None = None) -> LiveWindow:
        """The probe's readings over the configured window: the latest and their average."""
        now = self.clock() if now is None else now
        probe = self.probe(device, sensor, now)
        window = self.config.window_s
        readings = [r for r in self._series.readings(probe.key, now - window, now + 1.0)
                    if r.value is not None and r.clock_synced]
        values = [r.value for r in readings if r.value is not None]
        latest = readings[-1] if readings else None
        complete = len(readings) >= 2 and readings[-1].ts - readings[0].ts >= window * 0.75
        return LiveWindow(device, sensor, latest.value if latest else None, latest.ts if latest else None,
                          rules.average(values), len(values), window, complete, probe.offset, probe.offset_source)

    def propose(self, device: str, sensor: str, reference: float, now: float | None = None) -> Proposal:
        """What a check would record with ``reference`` against the probe's average over the window (nothing kept)."""
        window = self.live(device, sensor, now)
        if window.average is None or not window.complete:
            raise CalibrationError("reference", f"the probe's readings do not span {window.window_s:g} s yet"
                                                f" · 请等待探头读数满 {window.window_s:g} 秒")
        point = Point(reference, window.average)
        old_offset = window.offset if window.offset is not None else 0.0
        return Proposal(window, point, rules.assess([point], old_offset, self.config.tolerance_c))

    # -- recording a check -----------------------------------------------------------------------

    def record(self, device: str, sensor: str, given: CheckInput, actor: str, now: float | None = None) -> Recorded:
        """Record a check by ``actor``, audit it, and send the new offset to the node when it may apply it."""
        now = self.clock() if now is None else now
        probe = self.probe(device, sensor, now)
        if not given.points:
            raise CalibrationError("points", "at least one reading · 至少一组读数")
        if given.method is Method.REFERENCE and not given.certificate_no.strip():
            raise CalibrationError("certificate_no", "the reference thermometer's certificate number"
                                                     " · 请填写标准温度计的校准证书编号")
        old_offset = probe.offset if probe.offset is not None else 0.0
        found = rules.assess(given.points, old_offset, self.config.tolerance_c)
        check = self.store.add_check(NewCheck(
            device=device, sensor=sensor, hardware_id=probe.hardware_id, checked_at=now, checked_by=actor,
            method=given.method, certificate_no=given.certificate_no.strip(), note=given.note.strip(),
            tolerance=self.config.tolerance_c, old_offset=old_offset, correction=found.correction,
            offset=found.offset, residual=found.residual, passed=found.passed, reason=found.reason,
            next_due=now + self.config.interval_s(probe.profile), points=tuple(given.points)))
        sent = rules.sendable(found.offset, found.residual) and self._send_offset(check)
        self._audit.append_audit(now, actor, "calibration.check", probe.key, {
            "check": check.id, "method": str(given.method), "certificate_no": check.certificate_no,
            "points": [[p.reference, p.probe] for p in given.points], "old_offset": old_offset,
            "offset": found.offset, "passed": found.passed, "reason": found.reason, "offset_sent": sent,
            "hardware_id": probe.hardware_id})
        self.tick(now)
        stored = self.store.check(check.id)
        assert stored is not None
        return Recorded(stored, sent)

    def check(self, check_id: int) -> CheckRecord:
        found = self.store.check(check_id)
        if found is None:
            raise NotFound("check_id", f"no calibration check {check_id}")
        return found

    def attach_certificate(self, check_id: int, data: bytes, actor: str, now: float | None = None) -> CheckRecord:
        """Keep the certificate (PDF or photo) of a check; one per check, a new one replaces it on record."""
        now = self.clock() if now is None else now
        check = self.check(check_id)
        name = certificates.save(self.certificate_root, check_id, data)
        self.store.set_certificate(check_id, name)
        self._audit.append_audit(now, actor, "calibration.certificate", sensor_key(check.device, check.sensor),
                                 {"check": check_id, "file": name, "bytes": len(data)})
        return self.check(check_id)

    def history(self, device: str, sensor: str) -> tuple[list[CheckRecord], list[OffsetChange]]:
        """A sensor's checks (newest first, every probe it had) and the offsets it had in force (oldest first)."""
        return self.store.checks(device, sensor), self.store.offsets(device, sensor)

    # -- due, overdue and failed -----------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Alarm on failed and overdue probes, clear what no longer holds, remind of checks due soon."""
        for probe in self.probes(now):
            subject = subject_of(probe.device, probe.sensor)
            failed = probe.standing is Standing.FAILED
            overdue = probe.standing is Standing.OVERDUE
            self._alerts.observe(FAILED_RULE, subject, failed, now, device=probe.device,
                                 message=self._failed_message(probe) if failed else "", kind=AlertKind.SENSOR)
            self._alerts.observe(OVERDUE_RULE, subject, overdue, now, device=probe.device,
                                 message=self._overdue_message(probe) if overdue else "", kind=AlertKind.SENSOR)
            check = probe.last_check
            if probe.standing in (Standing.DUE_SOON, Standing.OVERDUE) and check is not None \
                    and not self.store.reminded(check.id):
                self._remind(probe, check, now)

    def _failed_message(self, probe: Probe) -> str:
        check = probe.last_check
        assert check is not None
        when = _local_day(check.checked_at, self.tz)
        if self._alerts.locale == "en":
            return (f"{probe.name}: the calibration check of {when} failed ({check.reason}). Check it again or"
                    f" replace the probe.")
        return (f"{probe.name} 探头 {when} 校准不合格（偏差 {check.correction:+.2f} °C，"
                f"允许 ±{check.tolerance:g} °C）。请重新校准或更换探头。")

    def _overdue_message(self, probe: Probe) -> str:
        assert probe.next_due is not None
        due = _local_day(probe.next_due, self.tz)
        if self._alerts.locale == "en":
            return f"{probe.name}: calibration was due on {due}. Check the probe against a reference."
        return f"{probe.name} 探头应于 {due} 校准，已逾期。请用冰点法或标准温度计校准。"

    def _remind(self, probe: Probe, check: CheckRecord, now: float) -> None:
        due = _local_day(check.next_due, self.tz)
        title = f"探头校准到期提醒：{probe.name}"
        body = (f"{probe.name}（{probe.key}）上次校准 {_local_day(check.checked_at, self.tz)}，应于 {due} 前再次校准。"
                f"请在管理页“校准探头”中完成。 · Calibration of {probe.key} is due on {due}.")
        for route in self.config.remind_routes:
            self._announce(Notification(None, f"calibration:due:{check.id}", Severity.INFO, title, body, route, now))
        self.store.add_reminder(check.id, now)
        _LOGGER.info("calibration reminder for %s (due %s) sent to %s", probe.key, due,
                     ", ".join(self.config.remind_routes))


def _local_day(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")
