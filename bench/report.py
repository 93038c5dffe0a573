"""The weekly report on a district-sized week: 200 sensors read every 10 s (12,096,000 readings).

Run: ``python -m bench.report`` (``--store sqlite|influxdb``, ``--sensors``, ``--interval``, ``--runs``).
The week (ISO week 2026-W47, Monday to Sunday Beijing time) is generated once with the
hub's own schema and cached under ``var/bench-cache/`` for SQLite; for InfluxDB it is
written through the store into a private influxd (``hub.influx_server``), which takes
minutes at full size. Every sensor has the ``fridge`` profile (0–8 °C) and two
20-minute excursions to 9–10 °C during the week, so the report reads raw readings for
about 800 candidate hours, as a real week with problems would.

Timed: ``ReportService.build`` (the whole model: hourly aggregates, exact excursions,
time within limits, the log sheet, completeness) and, separately, the PDF.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import cache_dir
from edge.wire import SensorInfo
from hub.influx_server import InfluxServer
from hub.report import pdf, period
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import StoredReading
from hub.store.sqlite_series import SqliteSeriesStore

PER_DEVICE = 10
WEEK = "2026-W47"


def _keys(sensors: int) -> list[str]:
    return [f"d{i // PER_DEVICE:03d}/t{i % PER_DEVICE}" for i in range(sensors)]


def _value(sensor: int, step: int, steps: int) -> float:
    """4–6 °C, with two 20-minute excursions per sensor at sensor-specific times."""
    per_day = steps // 7
    for day in (1 + sensor % 3, 4 + sensor % 3):
        start = day * per_day + (sensor * 37 % per_day) // 2
        if start <= step < start + per_day // 72:  # 20 minutes of a day
            return 9.0 + (step % 10) / 10
    return 4.0 + ((step * 7 + sensor * 13) % 20) / 10


def _readings(sensors: int, interval_s: float, start: float) -> Iterator[tuple[str, int, float]]:
    steps = int(7 * 86_400 / interval_s)
    for index, key in enumerate(_keys(sensors)):
        for step in range(steps):
            yield key, round((start + step * interval_s) * 1000), _value(index, step, steps)


def sqlite_home(sensors: int, interval_s: float, start: float) -> Path:
    """A hub home whose readings database holds the week (generated once, then cached)."""
    home = cache_dir() / f"report-home-{sensors}x{interval_s:g}s"
    db = home / "hub" / "readings.sqlite3"
    done = db.with_suffix(".done")
    if db.exists() and done.exists():
        return home
    db.parent.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    SqliteSeriesStore(db).close()  # the hub's schema
    print(f"generating {sensors * int(7 * 86_400 / interval_s):,} readings into {db} (cached)…", flush=True)
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO readings (sensor, ts_ms, value, fault, synced) VALUES (?, ?, ?, NULL, 1)",
                         _readings(sensors, interval_s, start))
        conn.execute("COMMIT")
    done.write_text("ok\n")
    return home


def _register(hub: Hub, sensors: int) -> None:
    keys = _keys(sensors)
    for device in sorted({k.split("/")[0] for k in keys}):
        infos = [SensorInfo(sensor=k.split("/")[1], kind="temperature", profile="fridge", name=f"冷藏柜 {k}")
                 for k in keys if k.startswith(device + "/")]
        hub.state.record_status("bench", device, "online", "boot", "bench", 0.0, 0.0, infos)


def _load_influx(hub: Hub, sensors: int, interval_s: float, start: float) -> None:
    batch: list[StoredReading] = []
    for key, ts_ms, value in _readings(sensors, interval_s, start):
        batch.append(StoredReading(key, ts_ms / 1000, value))
        if len(batch) >= 5000:
            hub.series.write(batch, [])
            batch = []
    hub.series.write(batch, [])


def measure(hub: Hub, runs: int) -> tuple[list[float], list[float], int, int]:
    week = period.week(WEEK, hub.tz)
    now = week.end + 3600
    builds, pdfs = [], []
    excursions = readings = 0
    for _ in range(runs):
        began = time.perf_counter()
        report = hub.reports.build(week, now)
        builds.append(time.perf_counter() - began)
        began = time.perf_counter()
        pdf.render(report)
        pdfs.append(time.perf_counter() - began)
        excursions = sum(len(u.excursions) for u in report.cold_units)
        readings = sum(u.count for u in report.cold_units)
    return builds, pdfs, excursions, readings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "influxdb"), default="sqlite")
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between readings")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    week = period.week(WEEK, ZoneInfo("Asia/Shanghai"))
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-report-") as tmp, contextlib.ExitStack() as stack:
        if args.store == "sqlite":
            hub = Hub(HubSettings(home=sqlite_home(args.sensors, args.interval, week.start)), connect_mqtt=False)
        else:
            server = stack.enter_context(InfluxServer(Path(tmp) / "influxd"))
            hub = Hub(HubSettings(home=Path(tmp) / "home", store="influxdb", influx_url=server.url,
                                  influx_database="bench_report"), connect_mqtt=False)
            began = time.perf_counter()
            _load_influx(hub, args.sensors, args.interval, week.start)
            print(f"loaded in {time.perf_counter() - began:.0f} s", flush=True)
        try:
            _register(hub, args.sensors)
            builds, pdfs, excursions, readings = measure(hub, args.runs)
        finally:
            hub.stop()
    print(f"weekly report, {args.store}, {args.sensors} sensors × 7 d at {args.interval:g} s ({readings:,} readings,"
          f" {excursions} excursions): model median {statistics.median(builds):.2f} s"
          f" ({min(builds):.2f}–{max(builds):.2f}), PDF median {statistics.median(pdfs):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
