"""The report's calibration section: each probe's last check, the offset in force, what changed in the period.

A reading is traced to the offset in force when it was taken by the offsets the node
reported (``offset_history``): every change in the period is listed, so an inspector
sees which readings carry which correction, and a replaced probe (a new 1-wire id under
the same sensor) is flagged — readings across the change come from two probes, and the
new one's calibration history starts again.
"""

from __future__ import annotations

from hub.calibration import rules
from hub.calibration.kinds import Standing
from hub.report.model import CalibrationEntry, OffsetEntry, SummaryItem
from hub.report.period import Period
from hub.report.sources import ReportSource

_STANDING_ZH = {Standing.OVERDUE: "校准逾期", Standing.FAILED: "校准不合格", Standing.NEVER: "从未校准"}


def calibration_section(source: ReportSource, period: Period, now: float) -> list[CalibrationEntry] | None:
    store = source.calibration
    if store is None:
        return None
    as_at = min(period.end, now)
    config = source.config.calibration
    entries = []
    for sensor in source.sensors():
        if sensor["kind"] != "temperature":
            continue
        device, name = str(sensor["device"]), str(sensor["sensor"])
        offsets = store.offsets(device, name, until=as_at)
        current = offsets[-1] if offsets else None
        hardware_id = current.hardware_id if current is not None else ""
        check = next((c for c in store.checks(device, name, until=as_at) if c.hardware_id == hardware_id), None)
        standing = rules.standing(check.passed if check else None, check.next_due if check else None, as_at,
                                  config.remind_days * 86_400.0)
        replaced = rules.replaced([(o.since, o.hardware_id) for o in offsets])
        in_period = replaced is not None and period.start <= replaced[0] < period.end
        entries.append(CalibrationEntry(
            key=str(sensor["key"]), name=source.name(sensor), hardware_id=hardware_id,
            offset=current.offset if current else None, offset_source=current.source if current else "",
            standing=str(standing), checked_at=check.checked_at if check else None,
            checked_by=check.checked_by if check else "", method=str(check.method) if check else "",
            certificate_no=check.certificate_no if check else "", passed=check.passed if check else None,
            correction=check.correction if check else None, next_due=check.next_due if check else None,
            changes=[OffsetEntry(o.since, o.offset, o.source, o.hardware_id) for o in offsets
                     if period.start <= o.since < period.end],
            replaced_at=replaced[0] if replaced and in_period else None,
            replaced_id=replaced[1] if replaced and in_period else ""))
    return entries


def calibration_summary(entries: list[CalibrationEntry] | None) -> list[SummaryItem]:
    """Overdue and failed probes, and probes replaced in the period, for the report's summary."""
    items = []
    for entry in entries or []:
        if entry.standing in (Standing.OVERDUE, Standing.FAILED):
            items.append(SummaryItem("calibration", None, f"{entry.name}：{_STANDING_ZH[Standing(entry.standing)]}",
                                     False, status=_STANDING_ZH[Standing(entry.standing)]))
        if entry.replaced_at is not None:
            change = f"{entry.replaced_id or '—'} → {entry.hardware_id or '—'}"
            items.append(SummaryItem("calibration", entry.replaced_at,
                                     f"{entry.name}：更换探头（{change}），前后读数来自不同探头", None))
    return items
