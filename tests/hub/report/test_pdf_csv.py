"""The PDF rendered to images (pdftoppm) and its text; the CSV of raw readings, streamed."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from hub.alerts.kinds import AlertKind
from hub.report import period
from hub.report.pdf import section_name
from hub.rules.silence import Silence
from hub.runtime import Hub
from tests.hub.report.conftest import FREEZER, FRIDGE, TZ, WEEK, Dataset, local


def _text(pdf: bytes) -> str:
    """The PDF's text without whitespace: table cells wrap Chinese anywhere."""
    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages))


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (pdftoppm) is not installed")
def test_pdf_pages_render_and_say_what_the_model_says(fresh_hub: tuple[Hub, Dataset], tmp_path: Path) -> None:
    hub, _data = fresh_hub
    week = period.week(WEEK, TZ)
    hub.reports.sign(week, "li", "李安全员", "已复核，同意", now=week.end + 3600)
    report = hub.reports.build(week, now=week.end + 7200)
    pdf = hub.reports.pdf(week, now=week.end + 7200)
    (tmp_path / "report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "report.pdf"), str(tmp_path / "page")],
                   check=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    assert all(p.stat().st_size > 2000 for p in pages)  # drawn, not blank
    text = _text(pdf)
    for label in ("实验小学食品安全周报", "摘要", "冷藏冷冻设备", "温度记录表", "食品留样", "门岗", "设备",
                  "审核签字", "冷藏柜1", "冷冻柜", "库房冷藏", "之前已超标", "未恢复"):
        assert label in text, label
    fridge = next(u for u in report.cold_units if u.key == FRIDGE)
    assert f"{fridge.mean:.2f}" in text and f"{fridge.max:.1f}" in text
    assert "关紧柜门，食材转移至备用冷柜" in text and "李安全员" in text
    assert "已审核签字：李安全员（li）" in text and "已复核，同意" in text
    assert report.audit_head in text


def test_unsigned_pdf_leaves_lines_to_sign(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, _data = fresh_hub
    week = period.week(WEEK, TZ)
    text = _text(hub.reports.pdf(week, now=week.end + 60))
    assert "食品安全管理员（签字）" in text and "已审核签字" not in text


def test_csv_streams_every_raw_reading(fresh_hub: tuple[Hub, Dataset]) -> None:
    hub, data = fresh_hub
    day = period.week(WEEK, TZ)
    blocks = list(hub.reports.csv(day, FRIDGE))
    assert len(blocks) > 1  # streamed in blocks, not one string
    body = b"".join(blocks).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    expected = [(ts, v) for ts, v in data.readings[FRIDGE] if day.start <= ts < day.end]
    assert [(float(r["ts"]), float(r["value"]) if r["value"] else None) for r in rows] == expected
    assert rows[0]["local_time"].startswith("2026-11-16T00:00:00") and rows[0]["name"] == "冷藏柜1"
    fault = next(r for r in rows if float(r["ts"]) == local("2026-11-17 10:10"))
    assert fault["value"] == "" and fault["fault"] == "crc"


def test_cli_writes_pdf_csv_and_json(fresh_hub: tuple[Hub, Dataset], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.cli import main  # noqa: PLC0415 — the command under test

    hub, data = fresh_hub
    monkeypatch.setenv("XIAOAN_HOME", str(hub.settings.home))
    out = tmp_path / "out"
    out.mkdir()
    assert main(["report", "--date", "2026-11-17", "--pdf", str(out / "r.pdf"), "--csv", str(out / "r.csv"),
                 "--json", str(out / "r.json")]) == 0
    assert (out / "r.pdf").read_bytes().startswith(b"%PDF")
    day = period.day("2026-11-17", TZ)
    lines = (out / "r.csv").read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == 1 + sum(1 for rows in data.readings.values() for ts, _v in rows if day.start <= ts < day.end)
    assert '"kind": "daily"' in (out / "r.json").read_text(encoding="utf-8")
    assert main(["report", "--week", "2026-47", "--pdf", str(out / "x.pdf")]) == 2


def test_every_alert_kind_has_a_category_in_the_summary() -> None:
    """An alarm is filed under its kind: a channel failure or a discard notice read "hub" / "sample_notice"."""
    untranslated = [kind.value for kind in AlertKind if section_name(kind) == kind.value]
    assert untranslated == []
    assert [section_name(s) for s in ("cold_chain", "samples", "devices")] == ["冷链", "留样", "设备"]


def test_the_report_lists_every_limit_change_and_the_silences_of_the_period(fresh_hub: tuple[Hub, Dataset]) -> None:
    """Issue 15 items 1 and 4: who moved a unit's limits, from what to what, who approved; what was silenced."""
    hub, _data = fresh_hub
    state = hub.state
    state.save_limit_edit(FRIDGE, {"low": 1.0, "high": 6.0}, "王经理", local("2026-11-17 09:00"))
    proposal = state.propose_limits(FRIDGE, {"low": 0.0, "high": 12.0}, "压缩机维修", "王经理",
                                    local("2026-11-18 09:00"))
    state.decide_limits(proposal.id, True, "李安全员", local("2026-11-18 10:00"))
    state.propose_limits(FREEZER, {"low": None, "high": -8.0}, "除霜", "王经理", local("2026-11-19 09:00"))
    state.add_silence(Silence(subject="kitchen/fridge1", ends_at=local("2026-11-20 12:00"), reason="搬迁冷柜"),
                      "王经理", local("2026-11-19 12:00"))
    state.add_silence(Silence(subject="kitchen/*", ends_at=local("2026-11-10 12:00"), reason="上周的"),
                      "王经理", local("2026-11-09 12:00"))
    week = period.week(WEEK, TZ)
    report = hub.reports.build(week, now=week.end + 60)
    fridge = next(u for u in report.cold_units if u.key == FRIDGE)
    assert [(e.by, e.before, e.after, e.approved_by, e.pending) for e in fridge.limit_edits] == [
        ("王经理", "0 ~ 8 °C", "1 ~ 6 °C", None, False), ("王经理", "1 ~ 6 °C", "0 ~ 12 °C", "李安全员", False)]
    assert (fridge.low, fridge.high) == (0.0, 12.0)  # the limits in force, not the preset
    freezer = next(u for u in report.cold_units if u.key == FREEZER)
    assert [(e.after, e.pending) for e in freezer.limit_edits] == [("≤ -8 °C", True)]
    assert [s.reason for s in report.silences] == ["搬迁冷柜"]
    text = _text(hub.reports.pdf(week, now=week.end + 60))
    for label in ("限值修改记录", "0~8°C", "1~6°C", "0~12°C", "压缩机维修", "李安全员", "待审批（未生效）",
                  "本期暂停提醒", "搬迁冷柜"):
        assert label in text, label
    assert "上周的" not in text


def test_a_signed_weeks_limits_are_those_of_the_week_not_todays(fresh_hub: tuple[Hub, Dataset]) -> None:
    """A limit edit made after a week, or a decision on a proposal made in it, does not rewrite its report."""
    hub, _data = fresh_hub
    state = hub.state
    state.save_limit_edit(FRIDGE, {"low": 1.0, "high": 7.0}, "王经理", local("2026-11-17 09:00"))
    waiting = state.propose_limits(FREEZER, {"low": None, "high": -8.0}, "除霜", "王经理", local("2026-11-19 09:00"))
    week = period.week(WEEK, TZ)
    hub.reports.sign(week, "li-officer", "李老师（li-officer）", "已审核", now=week.end + 3600)
    signed = hub.reports.build(week, now=week.end + 7200)
    # After the week: the fridge loosened within the band, the freezer's proposal approved by another person.
    state.save_limit_edit(FRIDGE, {"low": 0.0, "high": 8.0}, "王经理", week.end + 86_400)
    state.decide_limits(waiting.id, True, "赵校长", week.end + 86_400)
    later = hub.reports.build(week, now=week.end + 2 * 86_400)
    for before, after in zip(signed.cold_units, later.cold_units, strict=True):
        assert (after.key, after.low, after.high) == (before.key, before.low, before.high)
        assert after.excursions == before.excursions and after.limit_edits == before.limit_edits
    fridge = next(u for u in later.cold_units if u.key == FRIDGE)
    assert (fridge.low, fridge.high) == (1.0, 7.0)  # in force at the week's end
    freezer = next(u for u in later.cold_units if u.key == FREEZER)
    assert [(e.after, e.pending) for e in freezer.limit_edits] == [("≤ -8 °C", True)]  # waiting at the week's end
