"""The calibration component: checks on record and audited, failed and overdue alarms, reminders, replacement,
and what the weekly report and its PDF say of each probe."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time

import pytest
from pypdf import PdfReader

from hub.alerts.kinds import ACTIVE_STATES, AlertState, RuleKind
from hub.calibration.kinds import Method, OffsetSource, Standing, subject_of
from hub.calibration.rules import Point
from hub.calibration.service import CalibrationError, CheckInput
from hub.report import period
from hub.runtime import Hub
from tests.hub.calibration.conftest import PROBE, SENSORS
from tests.hub.web.conftest import Feed

DAY = 86_400.0
SUBJECT = subject_of("dev-a", "fridge-1")


def _alerts(hub: Hub, rule: RuleKind) -> list[AlertState]:
    return [a.state for a in hub.state.alerts() if a.rule == rule and a.subject == SUBJECT]


def _check(hub: Hub, reference: float, probe: float, at: float, method: Method = Method.ICE_POINT) -> int:
    recorded = hub.calibration.record("dev-a", "fridge-1", CheckInput(method, (Point(reference, probe),),
                                                                       certificate_no="JL-2026-0815"), "installer", at)
    return recorded.check.id


def _pdf_text(pdf: bytes) -> str:
    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


def test_a_check_is_recorded_with_its_points_and_audited_under_the_person(hub: Hub, feed: Feed) -> None:
    now = 1_800_000_000.0
    check_id = _check(hub, 0.0, 0.3, now)
    check = hub.calibration.check(check_id)
    assert (check.checked_by, check.hardware_id, check.points) == ("installer", PROBE, (Point(0.0, 0.3),))
    assert check.offset == pytest.approx(-0.3) and check.passed
    assert check.next_due == pytest.approx(now + 182 * DAY)
    assert not check.offset_sent  # no broker here: sent when the node reports in
    entry = next(e for e in hub.state.audit_entries() if e.action == "calibration.check")
    assert entry.actor == "installer" and entry.subject == "dev-a/fridge-1"
    detail = json.loads(entry.detail)
    assert detail["offset"] == pytest.approx(-0.3) and detail["points"] == [[0.0, 0.3]]


def test_a_reference_check_needs_the_reference_thermometers_certificate(hub: Hub, feed: Feed) -> None:
    with pytest.raises(CalibrationError) as refused:
        hub.calibration.record("dev-a", "fridge-1", CheckInput(Method.REFERENCE, (Point(4.0, 4.2),)), "installer")
    assert refused.value.field == "certificate_no"


def test_a_failed_check_alarms_until_the_probe_is_checked_again_and_passes(hub: Hub, feed: Feed) -> None:
    now = 1_800_000_000.0
    _check(hub, 0.0, 1.4, now)
    assert hub.calibration.probe("dev-a", "fridge-1", now).standing is Standing.FAILED
    assert _alerts(hub, RuleKind.CALIBRATION_FAILED) == [AlertState.FIRING]
    hub.calibration.tick(now + 60)  # still failed: the same alarm, not a second one
    assert _alerts(hub, RuleKind.CALIBRATION_FAILED) == [AlertState.FIRING]
    _check(hub, 0.0, 0.1, now + 600)
    assert hub.calibration.probe("dev-a", "fridge-1", now + 600).standing is Standing.OK
    assert _alerts(hub, RuleKind.CALIBRATION_FAILED) == [AlertState.RESOLVED]


def test_a_failed_probe_that_is_replaced_ends_its_alarm_and_starts_a_new_history(hub: Hub, feed: Feed) -> None:
    now = 1_800_000_000.0
    _check(hub, 0.0, 1.4, now)
    feed.status([{**SENSORS[0], "hardware_id": "28-0316a2791e00"}, SENSORS[1]])
    hub.calibration.tick(now + 60)
    probe = hub.calibration.probe("dev-a", "fridge-1", now + 60)
    assert probe.standing is Standing.NEVER and probe.last_check is None
    assert probe.replaced_id == PROBE and probe.replaced_at is not None
    assert [s for s in _alerts(hub, RuleKind.CALIBRATION_FAILED) if s in ACTIVE_STATES] == []
    checks, offsets = hub.calibration.history("dev-a", "fridge-1")
    assert len(checks) == 1 and [o.hardware_id for o in offsets] == [PROBE, "28-0316a2791e00"]


def test_due_soon_reminds_the_admin_and_the_canteen_manager_once_then_overdue_warns(hub: Hub, feed: Feed) -> None:
    now = 1_800_000_000.0
    _check(hub, 0.0, 0.1, now)
    due = now + 182 * DAY
    hub.calibration.tick(due - 20 * DAY)
    assert [n for n in hub.notifications.web_notices.recent() if n.incident_key.startswith("calibration")] == []
    hub.calibration.tick(due - 10 * DAY)
    hub.calibration.tick(due - 9 * DAY)
    reminders = [n for n in hub.notifications.web_notices.recent() if n.incident_key.startswith("calibration:due")]
    assert sorted(n.tier for n in reminders) == ["admin", "canteen_manager"]
    assert "1号冷藏柜" in reminders[0].title
    assert _alerts(hub, RuleKind.CALIBRATION_OVERDUE) == []
    hub.calibration.tick(due + DAY)
    assert _alerts(hub, RuleKind.CALIBRATION_OVERDUE) == [AlertState.FIRING]
    overdue = next(a for a in hub.state.alerts() if a.rule == RuleKind.CALIBRATION_OVERDUE)
    assert "逾期" in overdue.message and overdue.kind == "sensor"


def test_offsets_reported_by_the_node_are_kept_once_per_change(hub: Hub, feed: Feed) -> None:
    feed.status(SENSORS)  # the same again (a reconnect): nothing new
    feed.status([{**SENSORS[0], "offset": -0.3, "offset_source": "hub", "calibration": 7}, SENSORS[1]])
    _checks, offsets = hub.calibration.history("dev-a", "fridge-1")
    assert [(o.offset, o.source, o.calibration_id) for o in offsets] == [(0.0, OffsetSource.CONFIG, None),
                                                                         (-0.3, OffsetSource.HUB, 7)]


def test_the_weekly_pdf_states_each_probes_check_and_flags_overdue_failed_and_replaced(
        hub: Hub, feed: Feed) -> None:
    other = Feed(hub, "dev-b")
    other.status([{**SENSORS[0], "name": "留样冰箱", "hardware_id": "28-00000000aaaa"}])
    week = period.week("2027-W10", hub.tz)
    # dev-a's probe was checked 7 months before the week: overdue; dev-b's failed in the week.
    _check(hub, 0.0, 0.2, week.start - 210 * DAY)
    hub.calibration.record("dev-b", "fridge-1", CheckInput(Method.REFERENCE, (Point(4.0, 5.1),),
                                                           certificate_no="JL-2026-0815"), "installer",
                           week.start + DAY)
    report = hub.reports.build(week, now=week.end + 60)
    entries = {e.key: e for e in report.calibration or []}
    assert entries["dev-a/fridge-1"].standing == Standing.OVERDUE
    assert entries["dev-b/fridge-1"].standing == Standing.FAILED
    assert entries["dev-b/fridge-1"].correction == pytest.approx(-1.1)
    summary = [i.text for i in report.summary if i.section == "calibration"]
    assert "1号冷藏柜：校准逾期" in summary and "留样冰箱：校准不合格" in summary
    text = _pdf_text(hub.reports.pdf(week, now=week.end + 60))
    assert "探头校准" in text and "逾期未校准" in text and "不合格（偏差-1.10°C）" in text
    assert "冰点法" in text and "证书JL-2026-0815" in text


def test_a_probe_replaced_in_the_week_and_its_offset_changes_are_flagged_in_the_report(hub: Hub, feed: Feed) -> None:
    week = period.week_of(dt.datetime.fromtimestamp(time.time(), hub.tz).date(), hub.tz)
    feed.status([{**SENSORS[0], "offset": -0.3, "offset_source": "hub", "calibration": 1}, SENSORS[1]])
    feed.status([{**SENSORS[0], "hardware_id": "28-0316a2791e00"}, SENSORS[1]])
    report = hub.reports.build(week, now=time.time() + 1)
    (entry,) = report.calibration or []
    assert entry.replaced_id == PROBE and entry.hardware_id == "28-0316a2791e00" and entry.replaced_at is not None
    assert [(c.offset, c.source) for c in entry.changes] == [(0.0, "config"), (-0.3, "hub"), (0.0, "config")]
    assert any("更换探头" in i.text for i in report.summary if i.section == "calibration")
    text = _pdf_text(hub.reports.pdf(week, now=time.time() + 1))
    assert "本期修正值变更" in text and "此前后的读数来自不同探头" in text
