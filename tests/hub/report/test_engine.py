"""Every number of the report against the independent oracle, over a generated week with known excursions."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from hub.report import coldchain, period
from hub.report.model import ColdUnit, Report
from hub.runtime import Hub
from hub.store.base import HourlyAggregate
from tests.hub.report import oracle
from tests.hub.report.conftest import DOOR, FREEZER, FRIDGE, GAPPY, STEP_S, TZ, WEEK, Dataset, local

LIMITS = {FRIDGE: (0.0, 8.0), FREEZER: (None, -12.0), GAPPY: (0.0, 8.0)}


def _unit(report: Report, key: str) -> ColdUnit:
    return next(u for u in report.cold_units if u.key == key)


def _check_against_oracle(report: Report, data: Dataset, start: float, end: float) -> None:
    assert {u.key for u in report.cold_units} == set(LIMITS)
    for key, (low, high) in LIMITS.items():
        unit, truth = _unit(report, key), oracle.unit(data.readings[key], low, high, start, end)
        assert (unit.low, unit.high) == (low, high)
        assert unit.count == truth.count
        assert unit.min == truth.min and unit.max == truth.max
        assert unit.mean == pytest.approx(truth.mean, rel=1e-12)
        assert [(e.start, e.end, e.started_before) for e in unit.excursions] == \
            [(e.start, e.end, e.started_before) for e in truth.excursions], key
        assert [e.peak for e in unit.excursions] == pytest.approx([e.peak for e in truth.excursions]), key
        assert unit.monitored_s == truth.monitored_s
        assert unit.outside_s == pytest.approx(truth.outside_s)
        assert unit.within_s == pytest.approx(truth.monitored_s - truth.outside_s)


def test_week_is_monday_to_monday_in_beijing() -> None:
    week = period.week(WEEK, TZ)
    assert (week.first_day, week.last_day) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    # Monday 00:00 Beijing time is Sunday 16:00 UTC.
    assert week.start == dt.datetime(2026, 11, 15, 16, tzinfo=dt.UTC).timestamp()
    assert week.end - week.start == 7 * 86400
    assert period.week_of(dt.date(2026, 11, 22), TZ).label == WEEK
    assert period.week("2026-W53", TZ).label == "2026-W53"  # 2026 has 53 ISO weeks


@pytest.mark.parametrize(("call", "field"), [
    (lambda: period.week("2026-47", TZ), "week"), (lambda: period.week("2025-W53", TZ), "week"),
    (lambda: period.day("2026-02-30", TZ), "date"), (lambda: period.month("2026-13", TZ), "month"),
    (lambda: period.date_range("2026-11-20", "2026-11-01", TZ), "end"),
])
def test_bad_periods_name_their_field(call: object, field: str) -> None:
    with pytest.raises(period.PeriodError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


def test_weekly_numbers_equal_the_oracle(week_hub: tuple[Hub, Dataset]) -> None:
    hub, data = week_hub
    week = period.week(WEEK, TZ)
    report = hub.reports.build(week, now=week.end + 86400)
    _check_against_oracle(report, data, week.start, week.end)
    fridge = _unit(report, FRIDGE)
    # The known excursions, as generated: one carried over from the week before, one across midnight,
    # one still running when the week ended.
    first, tuesday, midnight, last = fridge.excursions
    assert first.started_before and first.start == week.start and first.end == local("2026-11-16 00:20")
    assert (tuesday.start, tuesday.end) == (local("2026-11-17 10:00"), local("2026-11-17 10:30"))
    assert tuesday.peak == pytest.approx(11.2) and tuesday.side == "high"
    assert (midnight.start, midnight.end) == (local("2026-11-18 23:50"), local("2026-11-19 00:40"))
    assert last.end is None and last.duration_s == 15 * 60
    gappy = _unit(report, GAPPY)
    assert [e.side for e in gappy.excursions] == ["low"]
    assert gappy.excursions[0].peak == pytest.approx(-1.5)
    # Ends with the first reading after the gap (16:00), and the gap hours are not monitored.
    assert gappy.excursions[0].end == local("2026-11-19 16:00")
    assert gappy.monitored_s == 604800 - 8 * 3600 - 1 * 3600


def test_alarm_history_and_door_marks(week_hub: tuple[Hub, Dataset]) -> None:
    hub, data = week_hub
    week = period.week(WEEK, TZ)
    report = hub.reports.build(week, now=week.end + 86400)
    fridge = _unit(report, FRIDGE)
    tuesday = fridge.excursions[1]
    (alarm,) = tuesday.alarms
    assert (alarm.id, alarm.acked_by, alarm.closed_by) == (data.alert_id, "王师傅", "王师傅")
    assert alarm.verified_by == "李安全员"
    assert alarm.action == "关紧柜门，食材转移至备用冷柜" and alarm.handled
    assert all(not e.alarms for e in fridge.excursions if e is not tuesday)
    assert fridge.door == DOOR and fridge.door_opens == data.door_opens
    # Summary: the handled alarm first in time among the week's items, and the unalarmed excursions.
    texts = [(item.text, item.handled) for item in report.summary]
    assert any("冷藏柜1" in text and handled is True for text, handled in texts)
    assert sum(1 for _text, handled in texts if handled is None and "未报警" in _text) == 6 - 1


def test_daily_and_monthly_use_the_same_engine(week_hub: tuple[Hub, Dataset]) -> None:
    hub, data = week_hub
    day = period.day("2026-11-19", TZ)  # the midnight excursion continues into this day
    daily = hub.reports.build(day, now=day.end + 3600)
    _check_against_oracle(daily, data, day.start, day.end)
    month = period.month("2026-11", TZ)
    monthly = hub.reports.build(month, now=local("2026-11-24 12:00"))
    _check_against_oracle(monthly, data, month.start, local("2026-11-24 12:00"))


def test_a_running_week_stops_at_now(week_hub: tuple[Hub, Dataset]) -> None:
    hub, data = week_hub
    week = period.week(WEEK, TZ)
    now = local("2026-11-18 09:30")
    report = hub.reports.build(week, now=now)
    _check_against_oracle(report, data, week.start, now)
    sheet = [row for row in report.log_sheet if row.key == FRIDGE]
    assert [c.value is None for c in sheet[3].cells] == [True, True]  # Thursday has not happened yet


def test_log_sheet_and_completeness(week_hub: tuple[Hub, Dataset]) -> None:
    hub, data = week_hub
    week = period.week(WEEK, TZ)
    report = hub.reports.build(week, now=week.end + 86400)
    assert report.log_slots == ["上午", "下午"]
    assert len(report.log_sheet) == 7 * 3
    for row in report.log_sheet:
        day = dt.date.fromisoformat(row.day)
        for cell, at in zip(row.cells, (dt.time(8), dt.time(14)), strict=True):
            assert cell.value == oracle.log_cell(data.readings[row.key], day, at, 30 * 60, TZ), (row.day, row.key)
    gappy_wed = next(r for r in report.log_sheet if r.key == GAPPY and r.day == "2026-11-18")
    assert gappy_wed.cells[0].value is None  # 08:00 fell in the gap
    by_key = {c.key: c for d in report.devices for c in d.sensors}
    for key in LIMITS:
        valued = sum(1 for ts, v in data.readings[key] if week.start <= ts < week.end and v is not None)
        assert by_key[key].received == valued
        assert by_key[key].interval_s == STEP_S
        assert by_key[key].completeness == pytest.approx(valued / (604800 / STEP_S))
    assert DOOR not in by_key  # a door sends events, not readings


def test_raw_spans_give_the_same_excursions_as_a_full_scan() -> None:
    """The hourly shortcut against a scan of every reading, on random walks across the limits."""
    rng = random.Random(47)
    for _ in range(30):
        readings: list[tuple[float, float | None]] = []
        value, ts = 4.0, 1_800_000_000.0 + rng.randrange(0, 3600)
        for _step in range(3000):
            ts += rng.choice((30.0, 30.0, 30.0, 600.0, 5000.0))
            value += rng.gauss(0, 0.6)
            readings.append((ts, None if rng.random() < 0.02 else round(value, 1)))
        since, until = readings[0][0] - rng.randrange(0, 4000), readings[-1][0] + 1
        hours: dict[int, list[float]] = {}
        for t, v in readings:
            if v is not None:
                hours.setdefault(int(t // 3600) * 3600, []).append(v)
        aggregates = [HourlyAggregate("s", float(h), min(vs), max(vs), sum(vs) / len(vs), len(vs))
                      for h, vs in sorted(hours.items())]
        spans = coldchain.raw_spans(aggregates, 0.0, 8.0, since, until)
        fast = [e for lo, hi in spans for e in coldchain.find_excursions(
            [(t, v) for t, v in readings if lo <= t < hi], 0.0, 8.0)]
        full = oracle.unit(readings, 0.0, 8.0, since, until).excursions
        assert [(e.start, e.end, e.peak) for e in fast] == [(e.start, e.end, e.peak) for e in full]
