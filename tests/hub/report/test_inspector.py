"""The report an inspector reads (issue 15, item 10): whose record it is, in Chinese, in names, honest about gaps.

Each test failed on the report as it was: no school name on the pages, English in every
table header, ``samples:2026-11-18:lunch`` in the text, "冷藏柜1：冷藏柜1 …" in the summary,
"范围内时间 100.0%" from five minutes of readings with "无需处置" beside a 2 % completeness,
and the days of a running week still to come printed as "—" as if readings were missing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from pypdf import PdfReader

from edge.wire import SensorInfo
from hub.alerts.config import AlertsConfig, UnitConfig
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.report import coldchain, period
from hub.report.config import ReportConfig
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.base import StoredReading
from hub.store.state import Alert
from tests.hub.report.conftest import DOOR, FRIDGE, TZ, WEEK, _store, generate, local, make_hub

SCHOOL, SITE = "实验小学", "东校区食堂"
#: A probe that appeared on Wednesday and sent five minutes of readings, then nothing.
BRIEF = "lab/probe"
BRIEF_NAME = "冷藏冰箱 1 号"
BRIEF_FROM, BRIEF_S, BRIEF_STEP = "2026-11-18 09:58", 300, 10.0
#: English table headers the report used to print beside (or instead of) the Chinese ones.
ENGLISH = ("Limits", "Min", "Max", "Mean", "Within", "Outside", "Readings", "Start", "End", "Peak", "Duration",
           "Alarm history", "When", "What went wrong", "Handled", "Date", "Unit", "Summary", "Cold units",
           "Temperature log sheet", "Food samples", "Gates", "Devices", "Sign-off", "No excursion", "Audit head",
           "No samples on record", "Nothing went wrong")


def _pages(pdf: bytes) -> list[str]:
    """Each page's text without whitespace (table cells wrap Chinese anywhere)."""
    return [re.sub(r"\s+", "", page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf)).pages]


def _add_brief_probe(hub: Hub) -> None:
    hub.state.record_status("test-site", "lab", "online", "boot-3", "1.0", local(BRIEF_FROM), local(BRIEF_FROM),
                            [SensorInfo(sensor="probe", kind="temperature", profile="fridge", name=BRIEF_NAME)])
    start = local(BRIEF_FROM)
    hub.series.write([StoredReading(BRIEF, start + i * BRIEF_STEP, 4.0) for i in range(int(BRIEF_S / BRIEF_STEP))],
                     [])


def _add_sample_alarm(hub: Hub) -> None:
    at = local("2026-11-18 13:00")
    hub.state.save_alert(Alert(
        rule=RuleKind.SAMPLE_MISSING, subject="samples:2026-11-18:lunch", kind=AlertKind.SAMPLE,
        severity=Severity.WARNING, state=AlertState.CLOSED, message="2026-11-18 午餐留样未登记", started_at=at,
        updated_at=at + 600, fired_at=at, resolved_at=at + 600, closed_at=at + 600, closed_by="王师傅",
        action="补登留样"), actor="system", action="alert.fired")


@pytest.fixture(scope="module")
def school_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = make_hub(tmp_path_factory.mktemp("inspector"), school=SCHOOL, site=SITE)
    _store(hub, generate(local("2026-11-14 00:00"), local("2026-11-25 00:00")))
    _add_brief_probe(hub)
    _add_sample_alarm(hub)
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def week_pdf(school_hub: Hub) -> list[str]:
    week = period.week(WEEK, TZ)
    return _pages(school_hub.reports.pdf(week, now=week.end + 60))


def test_the_school_and_its_site_are_on_every_page(week_pdf: list[str]) -> None:
    assert len(week_pdf) >= 2
    for number, text in enumerate(week_pdf, start=1):
        assert SCHOOL in text and SITE in text, f"page {number}"


def test_a_chinese_report_has_no_english_headers(week_pdf: list[str]) -> None:
    whole = "".join(week_pdf)
    for header in ("范围内时间", "超标时间", "报警与处置", "事项", "数据完整率", "摘要", "温度记录表"):
        assert header in whole, header
    found = [word for word in ENGLISH if re.search(rf"(?<![A-Za-z]){word.replace(' ', '')}(?![a-z])", whole)]
    assert found == []


def test_an_english_report_has_english_headers(tmp_path_factory: pytest.TempPathFactory) -> None:
    config = HubConfig(alerts=AlertsConfig(units=[UnitConfig(temperature=FRIDGE, door=DOOR)], locale="en"),
                       report=ReportConfig(school=SCHOOL))
    hub = Hub(HubSettings(home=tmp_path_factory.mktemp("english"), rules=config), connect_mqtt=False)
    try:
        _store(hub, generate(local("2026-11-16 00:00"), local("2026-11-17 00:00")))
        day = period.day("2026-11-16", TZ)
        whole = "".join(_pages(hub.reports.pdf(day, now=day.end + 60)))
    finally:
        hub.stop()
    for header in ("Withinlimits", "Readings", "Alarmhistory", "Completeness", "1.Summary"):
        assert header in whole, header
    assert "范围内时间" not in whole


def test_no_internal_ids_in_the_text(school_hub: Hub, week_pdf: list[str]) -> None:
    whole = "".join(week_pdf)
    assert "samples:" not in whole
    assert "2026-11-18午餐留样" in whole
    week = period.week(WEEK, TZ)
    report = school_hub.reports.build(week, now=week.end + 60)
    assert not [item.text for item in report.summary if "samples:" in item.text]
    # Sensors by name; the key appears at most as a small reference, never in the summary.
    assert not [item.text for item in report.summary if FRIDGE in item.text or BRIEF in item.text]


def test_no_doubled_names(school_hub: Hub, week_pdf: list[str]) -> None:
    week = period.week(WEEK, TZ)
    report = school_hub.reports.build(week, now=week.end + 60)
    alarm = next(item for item in report.summary if item.handled is True and "冷藏柜1" in item.text)
    assert alarm.text.count("冷藏柜1") == 1, alarm.text
    whole = "".join(week_pdf)
    assert "冷藏柜1：冷藏柜1" not in whole and "冷藏柜1（冷藏柜1）" not in whole
    assert f"{BRIEF_NAME}：{BRIEF_NAME}".replace(" ", "") not in whole


def test_five_minutes_of_readings_are_not_a_week_in_range(school_hub: Hub, week_pdf: list[str]) -> None:
    week = period.week(WEEK, TZ)
    report = school_hub.reports.build(week, now=week.end + 60)
    brief = next(u for u in report.cold_units if u.key == BRIEF)
    assert brief.within_share is not None and brief.within_share < 0.02  # was 100 %
    # Expected from its first reading (Wednesday 09:58) to the week's end, not the hours that hold a reading.
    assert brief.expected_s == pytest.approx(week.end - local(BRIEF_FROM))
    assert brief.insufficient
    completeness = next(c for d in report.devices for c in d.sensors if c.key == BRIEF)
    assert completeness.insufficient
    item = next(i for i in report.summary if BRIEF_NAME in i.text)
    assert item.handled is not None and item.status is not None and "数据不足" in item.status
    whole = "".join(week_pdf)
    assert re.search(r"100\.0%（1小时4分", whole) is None
    row = next(text for text in week_pdf if BRIEF_NAME.replace(" ", "") in text and "数据不足" in text)
    assert "无需处置" not in row.split(BRIEF_NAME.replace(" ", ""), 1)[1][:40]


def test_a_sensor_with_whole_data_is_judged_over_the_whole_week(school_hub: Hub) -> None:
    week = period.week(WEEK, TZ)
    report = school_hub.reports.build(week, now=week.end + 60)
    fridge = next(u for u in report.cold_units if u.key == FRIDGE)
    assert fridge.expected_s == week.end - week.start and not fridge.insufficient
    assert fridge.within_share == pytest.approx(fridge.within_s / (week.end - week.start))


def test_a_running_week_counts_only_the_part_that_has_passed() -> None:
    since, until = local("2026-11-16 00:00"), local("2026-11-23 00:00")
    now = local("2026-11-18 12:00")
    assert coldchain.expected_seconds(since, until, now, coldchain.expected_start(since, until, None, True)) == \
        now - since
    appeared = local("2026-11-18 09:58")
    start = coldchain.expected_start(since, until, appeared, False)
    assert start == appeared
    assert coldchain.expected_seconds(since, until, now, start) == now - appeared
    assert coldchain.expected_start(since, until, None, False) is None
    assert coldchain.expected_seconds(since, until, now, None) == 0.0
    assert coldchain.share(30, 5400) == pytest.approx(30 / 5400) and coldchain.share(5, 0) is None
    assert coldchain.insufficient(0.022, None) and not coldchain.insufficient(0.95, 0.99)


def test_future_days_of_a_running_week_are_not_yet_not_missing(school_hub: Hub) -> None:
    week = period.week(WEEK, TZ)
    now = local("2026-11-18 09:30")
    report = school_hub.reports.build(week, now=now)
    fridge = [row for row in report.log_sheet if row.key == FRIDGE]
    assert [c.future for c in fridge[2].cells] == [False, True]  # Wednesday: 08:00 done, 14:00 to come
    assert all(c.future for row in fridge[3:] for c in row.cells)
    assert not any(c.future for row in fridge[:2] for c in row.cells)
    pages = _pages(school_hub.reports.pdf(week, now=now))
    whole = "".join(pages)
    sheet = whole.split("温度记录表")[-1].split("食品留样")[0]
    thursday = sheet.split("2026-11-19", 1)[1][:40]
    assert "未到" in thursday and "—" not in thursday
