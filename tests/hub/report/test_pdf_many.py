"""A report of any size renders: 200 sensors on one device, 400 excursions, an excursion with 150 alarms,
150 limit edits.

A device's sensors used to share one table cell; about 150 of them made that cell
taller than a page and reportlab gave up (LayoutError, a 500 from the API and a
failed Monday job). Every page is rendered with pdftoppm and read back with pypdf.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from edge.wire import SensorInfo
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.report import period
from hub.runtime import Hub
from hub.store.base import StoredReading
from hub.store.state import Alert
from tests.hub.report.conftest import TZ, WEEK, local, make_hub

SENSORS = 200
SCHOOL = "实验小学"
#: Limit edits on one cold unit: a table of its own longer than a page.
EDITS = 150
EDITED = 2
#: Sensor ids as long as installers write them: the completeness cell grew with their length.
PROBE = "cold-room-probe-{:03d}"
DEVICE = "coldroom"


def _key(index: int) -> str:
    return f"{DEVICE}/{PROBE.format(index)}"


@pytest.fixture(scope="module")
def big_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = make_hub(tmp_path_factory.mktemp("big-report"), school=SCHOOL)
    hub.state.record_status("test-site", DEVICE, "online", "boot-1", "1.0", local("2026-11-01 00:00"),
                            local("2026-11-01 00:00"),
                            [SensorInfo(sensor=PROBE.format(i), kind="temperature", profile="fridge",
                                        name=f"冷库探头{i}号") for i in range(SENSORS)])
    start = local("2026-11-16 00:00")
    rows = [StoredReading(_key(i), start + hour * 3600, 4.0) for i in range(SENSORS) for hour in range(7 * 24)]
    # Probe 0: 400 short excursions, one every 20 minutes.
    rows += [StoredReading(_key(0), start + 600 + k * 600, 12.0 if k % 2 == 0 else 4.0) for k in range(800)]
    # Probe 1: one excursion of a day, alarmed 150 times (a history cell longer than a page).
    rows += [StoredReading(_key(1), local("2026-11-18 00:00") + m * 60, 11.0) for m in range(24 * 60)]
    hub.series.write(rows, [])
    for n in range(150):
        at = local("2026-11-18 00:05") + n * 540
        hub.state.save_alert(Alert(
            rule=RuleKind.TEMPERATURE_LIMITS, subject=_key(1), kind=AlertKind.TEMPERATURE, severity=Severity.CRITICAL,
            state=AlertState.CLOSED, message="冷库探头1号 温度 11 °C，高于上限 8 °C", started_at=at,
            updated_at=at + 300,
            value=11.0, peak=11.0, threshold=8.0, fired_at=at, resolved_at=at + 240, acked_at=at + 60,
            acked_by="王师傅", closed_at=at + 300, closed_by="王师傅", action=f"第{n}次：关紧柜门并复查"),
            actor="system", action="alert.fired")
    for n in range(EDITS):  # tightening and relaxing within the band, one account per edit
        hub.state.save_limit_edit(_key(EDITED), {"low": 0.0, "high": 8.0 - (n % 3) * 0.5}, f"editor{n:03d}",
                                  local("2026-11-19 08:00") + n * 600)
    yield hub
    hub.stop()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
@pytest.mark.slow
def test_a_report_with_200_sensors_400_excursions_and_150_limit_edits_paginates(big_hub: Hub,
                                                                                tmp_path: Path) -> None:
    week = period.week(WEEK, TZ)
    report = big_hub.reports.build(week, now=week.end + 60)
    assert len(report.cold_units) == SENSORS
    assert sum(len(u.excursions) for u in report.cold_units) >= 400
    assert max(len(e.alarms) for u in report.cold_units for e in u.excursions) == 150
    (edited,) = [u for u in report.cold_units if u.key == _key(EDITED)]
    assert len(edited.limit_edits) == EDITS

    pdf = big_hub.reports.pdf(week, now=week.end + 60)  # raised LayoutError before
    (tmp_path / "big.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(tmp_path / "big.pdf"), str(tmp_path / "page")],
                   check=True, timeout=300)
    reader = PdfReader(io.BytesIO(pdf))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(reader.pages) > 50
    assert all(image.stat().st_size > 1000 for image in images)  # drawn, not blank
    texts = [re.sub(r"\s+", "", page.extract_text() or "") for page in reader.pages]
    for number, text in enumerate(texts, start=1):
        assert f"第{number}页" in text
        assert SCHOOL in text, f"page {number} does not say whose record it is"
        assert len(text) > 60, f"page {number} holds only its footer"
    whole = "".join(texts)
    for index in range(SENSORS):  # every sensor has its own row: its name, its id in small print
        assert f"{DEVICE}冷库探头{index}号{PROBE.format(index)}" in whole, index
        if index >= 2:  # hourly readings all week
            assert f"{DEVICE}冷库探头{index}号{PROBE.format(index)}168168小时100.0%" in whole, index
    assert "各传感器数据完整率" in whole and "200个" in whole
    assert "第0次：关紧柜门并复查" in whole and "第149次：关紧柜门并复查" in whole  # the split history cell
    # Nothing overflows a page or is cut: every excursion's row and every limit edit's row is there.
    for unit in report.cold_units:
        for e in unit.excursions:
            start = _when(e.start) + ("（之前已超标）" if e.started_before else "")
            row = f"{start}{_when(e.end) if e.end is not None else '未恢复'}{e.peak:g}°C"
            assert row in whole, (unit.key, row)
    for n, edit in enumerate(edited.limit_edits):
        assert f"{_when(edit.at)}editor{n:03d}" in whole, n
    assert whole.count("无需审批（法规范围内）") == EDITS
    assert "七、审核签字" in whole  # the report reaches its end


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, TZ).strftime("%m-%d%H:%M")
