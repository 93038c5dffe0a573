"""The benchmark harness stays runnable: a tiny run through a real broker and hub loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main

pytestmark = [pytest.mark.slow, pytest.mark.broker]


def test_tiny_bench_runs_and_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--runs", "1", "--only", "ingest,latency,scaleout,queries", "--json", str(out)]) == 0
    raw = json.loads(out.read_text())
    table = capsys.readouterr().out
    assert "hub ingest end to end, SQLite, 1 reading/msg" in table

    for key in ("ingest_sqlite_1", "ingest_sqlite_10"):
        (run,) = raw[key]
        assert run["stored_rows"] == run["readings"] > 0, key
        assert run["seen"] == run["messages"] and run["dead_letters"] == 0, key
    (latency,) = raw["latency_100"]
    assert latency["missed"] == 0 and len(latency["hub_ms"]) == len(latency["engine_ms"]) == latency["probes"]
    (scale,) = raw["scaleout"]
    assert scale["lost"] == 0 and scale["stored_twice"] == 0 and scale["replay_stored_twice"] == 0
    assert sum(scale["share"]) == scale["messages"]
    assert scale["ruled_readings"] == scale["readings"] + scale["replayed"]
    assert scale["sensors_known"] == scale["sensors_total"]
    (failover,) = raw["failover"]
    assert failover["distinct_stored"] == failover["messages"] and failover["stored_twice"] == 0
    assert failover["ruled_readings"] == failover["messages"]
    (queries,) = raw["queries"]
    assert queries["sparkline_points"] > 0 and queries["week_groups"] > 0
