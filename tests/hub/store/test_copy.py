"""`xiaoan store copy`: SQLite history into InfluxDB, interrupted and resumed, nothing doubled."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.store.base import HOUR_S, StoredEvent, StoredReading
from hub.store.copy import copy_history
from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore
from tests.hub.store.influx_fixtures import ADMIN


class Interrupted(Exception):
    pass


def test_copy_resumes_and_reads_back_the_same(tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    t0 = (int(time.time()) // HOUR_S - 24 * 10) * HOUR_S
    sqlite = SqliteSeriesStore(tmp_path / "readings.sqlite3", raw_retention_s=9 * 86_400.0)
    sensors = ["dev-a/fridge-1", "dev-a/fridge-2", "dev-b/freezer-1"]
    sqlite.write([StoredReading(s, t0 + i * 300, -18.0 + (i % 13) * 0.5 + n)
                  for n, s in enumerate(sensors) for i in range(24 * 12 * 10)],
                 [StoredEvent("dev-c", "b1", seq, t0 + seq * 600, "dev-c/gate", "door", "open") for seq in range(50)])
    sqlite.downsample_and_prune(t0 + 10 * 86_400)  # the first day is aggregates only now
    checkpoint = tmp_path / "progress.json"
    calls = 0

    def interrupt_once(_line: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        copy_history(sqlite, influx_store, checkpoint, batch=1000, report=interrupt_once)
    progress = copy_history(sqlite, influx_store, checkpoint, batch=1000, report=lambda _line: None)
    assert progress.readings == 3 * 24 * 12 * 9
    copy_history(sqlite, influx_store, checkpoint, batch=1000, report=lambda _line: None)  # done: a no-op

    until = t0 + 10 * 86_400
    for sensor in sensors:
        assert influx_store.readings(sensor, t0, until, limit=100_000) == sqlite.readings(sensor, t0, until, 100_000)
        want, got = sqlite.hourly(sensor, t0, until), influx_store.hourly(sensor, t0, until)
        assert len(want) == 240
        assert [(a.hour, a.min, a.max, a.count) for a in got] == [(a.hour, a.min, a.max, a.count) for a in want]
    assert influx_store.events(t0, until) == sqlite.events(t0, until)
    sqlite.close()


def test_cli_store_copy(tmp_path: Path, influx_store: InfluxSeriesStore, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main  # noqa: PLC0415

    home = tmp_path / "home"
    sqlite = SqliteSeriesStore(home / "hub" / "readings.sqlite3")
    now = time.time()
    sqlite.write([StoredReading("dev-a/fridge-1", now - i * 60, 4.0) for i in range(100)], [])
    sqlite.close()
    for key, value in {"XIAOAN_HOME": str(home), "XIAOAN_INFLUX_URL": influx_store.http.url,
                       "XIAOAN_INFLUX_DATABASE": influx_store.http.database, "XIAOAN_INFLUX_USERNAME": ADMIN[0],
                       "XIAOAN_INFLUX_PASSWORD": ADMIN[1]}.items():
        monkeypatch.setenv(key, value)
    assert main(["store", "copy"]) == 0
    assert "copied 100 readings" in capsys.readouterr().out
    assert len(influx_store.readings("dev-a/fridge-1", now - 7200, now + 1)) == 100


def test_the_time_range_covers_every_sensor_of_a_batch(tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    """Sensors with different spans in one batch: the range to backfill is their union, not the batch's ends."""
    base = round(time.time() - 3 * HOUR_S)  # whole seconds: the store keeps milliseconds
    source = SqliteSeriesStore(tmp_path / "r.sqlite3")
    source.write([StoredReading("a/early", base, 1.0), StoredReading("a/early", base + 1009.0, 1.0),
                  StoredReading("b/late", base + 4.0, 2.0), StoredReading("b/late", base + 1000.0, 2.0)], [])
    progress = copy_history(source, influx_store, tmp_path / "copy.json", batch=10, report=lambda _: None)
    assert (progress.first_ts, progress.last_ts) == (base, base + 1009.0)
    source.close()
