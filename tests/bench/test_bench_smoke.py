"""The benchmark harness stays runnable: a tiny run through a real broker and hub loses nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.__main__ import main

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def test_tiny_bench_runs_and_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--runs", "1", "--only", "ingest,latency,queries", "--json", str(out)]) == 0
    raw = json.loads(out.read_text())
    table = capsys.readouterr().out
    assert "hub ingest end to end, SQLite, 1 reading/msg" in table

    for key in ("ingest_sqlite_1", "ingest_sqlite_10"):
        (run,) = raw[key]
        assert run["stored_rows"] == run["readings"] > 0, key
        assert run["seen"] == run["messages"] and run["dead_letters"] == 0, key
    (latency,) = raw["latency_100"]
    assert latency["missed"] == 0 and len(latency["hub_ms"]) == len(latency["engine_ms"]) == latency["probes"]
    (queries,) = raw["queries"]
    assert queries["sparkline_points"] > 0 and queries["week_groups"] > 0


def test_tiny_http_attack_runs_and_the_caps_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The combined HTTP attack harness runs against a real ``xiaoan hub``; what it reports is coherent."""
    from bench.http_attack import TINY  # noqa: PLC0415
    from hub.settings import HubSettings  # noqa: PLC0415

    monkeypatch.setenv("XIAOAN_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--runs", "1", "--only", "attack", "--json", str(out)]) == 0
    (run,) = json.loads(out.read_text())["attack"]
    assert run["held_max"] == TINY.idle + TINY.slow + TINY.streams
    assert run["health_ms"] and len(run["health_at"]) == len(run["health_ms"])
    # The hub closed silent and slow connections (a 1 s header deadline in the tiny run) and they came back.
    assert run["closed_by_hub"] > 0 and run["opened"] > run["held_max"]
    # Each account holds at most its cap of streams; the rest were refused, with 429.
    per_account = HubSettings.model_fields["stream_max_per_account"].default
    assert run["streams_held_max"] == TINY.accounts * per_account
    assert run["stream_statuses"]["200"] >= run["streams_held_max"] and run["stream_statuses"]["429"] > 0
    assert [body["status"] for body in run["bodies"]] == [413, 413, 413, 413]


def test_tiny_checks_bench_fills_a_term_and_times_every_page(tmp_path: Path) -> None:
    out = tmp_path / "checks.json"
    assert main(["--tiny", "--runs", "1", "--only", "checks", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())["checks"]
    # 35 checklists a school day (30 rounds and the 5 defaults), the weekly and monthly ones once per period.
    assert figures["runs"] >= 5 * 32 and figures["orders"] == 50 and figures["open_orders"] == 10
    assert figures["photos"] == 100
    # The board, the lists, a place's history, the daily and weekly records, the minutes (PDF and xlsx), the duty.
    assert len(figures["timings_ms"]) == 10 and all(ms > 0 for ms in figures["timings_ms"].values())


def test_tiny_drain_bench_carries_every_backlog_message_on_the_backfill_lane(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--runs", "1", "--only", "drain", "--json", str(out)]) == 0
    assert "alarm during a drain" in capsys.readouterr().out
    drain = json.loads(out.read_text())["drain"]
    for name, runs in drain["runs"].items():
        (run,) = runs
        assert run["backfill_received"] == run["edges"] * run["backlog"], name
        assert run["missed"] == 0 and len(run["door_ms"]) == run["probes"], name


@pytest.mark.postgres
def test_tiny_district_bench_reads_every_school_at_a_glance_and_the_week(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.district import main as district_main  # noqa: PLC0415 - psycopg only where the district runs

    assert district_main(["--schools", "5", "--alarms", "20", "--audit", "14", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "5 schools, 100 alarms (10 open), 70 audit entries" in out and "all 5 schools at a glance" in out
    assert "the week's compliance table, 5 schools" in out and "FAIL" not in out


@pytest.mark.postgres
def test_tiny_district_ingest_bench_stores_every_reading_once(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.district_ingest import main as ingest_main  # noqa: PLC0415 - psycopg only where the district runs

    # The exit status also holds the live rate, which a 2-second window on a loaded machine does not measure.
    ingest_main(["--schools", "3", "--live-s", "2", "--backlog-days", "0.01", "--senders", "2"])
    out = capsys.readouterr().out
    assert "one school back with 0.01 days (4,300 readings)" in out and "lost 0, stored twice 0 (pass)" in out


@pytest.mark.postgres
@pytest.mark.slow
def test_tiny_district_ingest_bench_with_the_leader_killed_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.district_ingest import main as ingest_main  # noqa: PLC0415 - psycopg only where the district runs

    ingest_main(["--schools", "3", "--live-s", "6", "--backlog-days", "0.01", "--senders", "2", "--workers", "2",
                 "--kill"])
    out = capsys.readouterr().out
    # How soon another worker leads is the bench's figure (a loaded machine slows it); that it does, and that
    # nothing is lost or stored twice across the kill, holds anywhere.
    assert re.search(r"leader w[12] SIGKILLed while schools sent, .* another worker led after \d+\.\d s", out), out
    assert "lost 0, stored twice 0 (pass)" in out
