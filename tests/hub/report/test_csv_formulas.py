"""``readings.csv``: device text (sensor names, fault texts) never opens as a formula; readings stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.wire import SensorInfo
from hub.report import period
from hub.runtime import Hub
from hub.store.base import StoredReading
from tests.hub.report.conftest import TZ, local, make_hub

#: Plain text as far as the wire is concerned (no control character), formulas to a spreadsheet.
NAME = "=HYPERLINK(\"http://evil.example\",\"冷藏柜\")"
FAULTS = ["-2+3+cmd|' /C calc'!A0", "@SUM(1+1)", "+1", "=1"]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    hub = make_hub(tmp_path / "home", school="实验小学")
    hub.state.record_status("test-site", "kitchen", "online", "boot-1", "1.0", local("2026-11-01 00:00"),
                            local("2026-11-01 00:00"),
                            [SensorInfo(sensor="freezer", kind="temperature", profile="freezer", name=NAME)])
    start = local("2026-11-16 08:00")
    readings = [StoredReading("kitchen/freezer", start, -18.5), StoredReading("kitchen/freezer", start + 60, 0.25)]
    readings += [StoredReading("kitchen/freezer", start + 120 + 60 * n, None, fault) for n, fault in enumerate(FAULTS)]
    hub.series.write(readings, [])
    yield hub
    hub.stop()


def test_names_and_faults_are_text_and_readings_are_numbers(hub: Hub) -> None:
    body = b"".join(hub.reports.csv(period.day("2026-11-16", TZ))).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(rows) == 2 + len(FAULTS)
    assert {r["name"] for r in rows} == {"'" + NAME}
    assert [r["value"] for r in rows[:2]] == ["-18.5", "0.25"]  # a negative reading is not neutralised
    assert [r["fault"] for r in rows[2:]] == ["'" + fault for fault in FAULTS]
    assert all(r["value"] == "" for r in rows[2:])
    assert all(not r[column].startswith(("=", "+", "@")) for r in rows for column in ("sensor", "name", "fault"))
