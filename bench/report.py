"""The weekly report on a district-sized week: 200 sensors read every 10 s (12,096,000 readings).

Run: ``python -m bench.report`` (``--store sqlite|influxdb``, ``--sensors``, ``--interval``, ``--runs``).
The week (ISO week 2026-W47, Monday to Sunday Beijing time) is generated once with the
hub's own schema and cached under ``var/bench-cache/`` for SQLite; for InfluxDB it is
written through the store into a private influxd (``hub.influx_server``), about a
minute at full size, and that influxd's directory is cached there too. Every sensor has
the ``fridge`` profile (0–8 °C) and two 20-minute excursions to 9–10 °C during the
week, so the report reads raw readings for about 800 candidate hours, as a real week with problems would.

Timed: ``ReportService.build`` (the whole model: hourly aggregates, exact excursions,
time within limits, the log sheet, completeness) and, separately, the PDF.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.harness import cache_dir
from edge.wire import SensorInfo
from hub.influx_server import InfluxServer
from hub.report import pdf, period
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import StoredReading
from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore

PER_DEVICE = 10
WEEK = "2026-W47"
INFLUX_DATABASE = "bench_report"
#: The report is built this long after the week ends.
BUILT_AFTER_S = 3600.0
#: The performance issue's targets (round two, item 4).
HOURLY_TARGET_S = 2.5
MODEL_TARGET_S = 2.5
MODEL_PDF_TARGET_S = 5.0


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


def _write_sensor(hub: Hub, index: int, key: str, interval_s: float, start: float) -> None:
    steps = int(7 * 86_400 / interval_s)
    hub.series.write([StoredReading(key, start + step * interval_s, _value(index, step, steps))
                      for step in range(steps)], [])


def _influx_settings(home: Path, url: str) -> HubSettings:
    return HubSettings(home=home, store="influxdb", influx_url=url, influx_database=INFLUX_DATABASE)


def influx_dir(sensors: int, interval_s: float, start: float, end: float) -> tuple[Path, float | None]:
    """An influxd data directory holding the week (loaded once through the store, then cached).

    Loaded the way a hub writes: ``InfluxSeriesStore.write`` (line protocol in 5,000-point
    requests), one sensor's week per call on two threads so encoding overlaps the server's
    work; then the hourly rollups the continuous query keeps, for the whole week at once
    (``backfill_hourly``, what the CQ has done hour by hour in a hub that ran that week).
    Returns the directory and the load time in seconds (None when it came from the cache).
    """
    directory = cache_dir() / f"report-influx-{sensors}x{interval_s:g}s"
    done = directory.parent / (directory.name + ".done")
    if directory.exists() and done.exists():
        return directory, None
    shutil.rmtree(directory, ignore_errors=True)
    print(f"loading {sensors * int(7 * 86_400 / interval_s):,} readings into influxd at {directory} (cached)…",
          flush=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-load-") as tmp, InfluxServer(directory) as server:
        hub = Hub(_influx_settings(Path(tmp), server.url), connect_mqtt=False)
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="load") as pool:
                for future in [pool.submit(_write_sensor, hub, index, key, interval_s, start)
                               for index, key in enumerate(_keys(sensors))]:
                    future.result()
            written = time.perf_counter()
            print(f"  raw readings written in {written - began:.0f} s", flush=True)
            for day in range(int((end - start) // 86_400) + 1):  # a day per statement keeps influxd's memory flat
                assert isinstance(hub.series, InfluxSeriesStore)
                hub.series.backfill_hourly(start + day * 86_400, min(end, start + (day + 1) * 86_400))
            print(f"  hourly rollups in {time.perf_counter() - written:.0f} s", flush=True)
        finally:
            hub.stop()
    loaded = time.perf_counter() - began
    done.write_text(f"{loaded:.0f} s\n")
    return directory, loaded


def hourly_one_thread(hub: Hub, sensors: int, since: float, until: float, runs: int) -> list[float]:
    """The week's hourly aggregates of every sensor, one after the other on one thread (issue 22, item 4)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        for key in _keys(sensors):
            hub.series.hourly(key, since, until)
        times.append(time.perf_counter() - began)
    return times


def measure(hub: Hub, runs: int) -> tuple[list[float], list[float], int, int]:
    week = period.week(WEEK, hub.tz)
    now = week.end + BUILT_AFTER_S
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
    loaded: float | None = None
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-report-") as tmp, contextlib.ExitStack() as stack:
        if args.store == "sqlite":
            hub = Hub(HubSettings(home=sqlite_home(args.sensors, args.interval, week.start)), connect_mqtt=False)
        else:
            directory, loaded = influx_dir(args.sensors, args.interval, week.start, week.end)
            # A fresh influxd on the cached files: the first build is the cold one.
            server = stack.enter_context(InfluxServer(directory))
            hub = Hub(_influx_settings(Path(tmp) / "home", server.url), connect_mqtt=False)
            # The store judges which hours are closed by its clock: the time the report is built at, not
            # today's (the bench's week may still be running).
            assert isinstance(hub.series, InfluxSeriesStore)
            hub.series.clock = lambda: week.end + BUILT_AFTER_S
        rolled: float | None = None
        try:
            _register(hub, args.sensors)
            if isinstance(hub.series, SqliteSeriesStore):
                # What the hourly duty has done over the week in a running hub: here all at once (a no-op
                # on a cached file that was rolled up before).
                began = time.perf_counter()
                hub.series.roll_up(week.end + BUILT_AFTER_S)
                rolled = time.perf_counter() - began
            hourly = hourly_one_thread(hub, args.sensors, week.start, week.end, args.runs)
            builds, pdfs, excursions, readings = measure(hub, args.runs)
        finally:
            hub.stop()
    warm = builds[1:] or builds
    model, both = statistics.median(builds), statistics.median(builds) + statistics.median(pdfs)
    print(f"hourly aggregates of {args.sensors} sensors for the week on one thread: median"
          f" {statistics.median(hourly):.2f} s ({min(hourly):.2f}–{max(hourly):.2f})"
          + (f"; rollups caught up in {rolled:.1f} s" if rolled is not None else ""))
    for what, value, target in (("hourly aggregates, one thread", statistics.median(hourly), HOURLY_TARGET_S),
                                ("report model", model, MODEL_TARGET_S), ("model + PDF", both, MODEL_PDF_TARGET_S)):
        print(f"  {'PASS' if value < target else 'FAIL'}  {what}: {value:.2f} s (target < {target:g} s)")
    print(f"weekly report, {args.store}, {args.sensors} sensors × 7 d at {args.interval:g} s ({readings:,} readings,"
          f" {excursions} excursions): model median {statistics.median(builds):.2f} s"
          f" ({min(builds):.2f}–{max(builds):.2f}; first run {builds[0]:.2f} s, later runs median"
          f" {statistics.median(warm):.2f} s), PDF median {statistics.median(pdfs):.2f} s"
          + (f"; loaded in {loaded:.0f} s" if loaded is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
