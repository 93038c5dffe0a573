"""How long the canteen page takes to render for a district-sized kitchen: 200 cold units, 24 h at 10 s.

Run: ``python -m bench.web_pages`` (``--sensors``, ``--interval``, ``--runs``).
A hub home is made in a temporary directory; its readings database gets the last 24 h
of every sensor straight in the hub's own schema (1.7 M rows at full size, ≈ 10 s), the
sensors are registered as an edge device's status would, and then ``GET /canteen`` is
timed through the real app (sign-in by API token, templates, every tile's sparkline
from the store's hourly aggregates): the first load, which reads every tile's 24 h,
and later loads, which read only the hour in progress (``hub.web.sparks``); and the
page's data without that cache (``hub.web.views.canteen``), what every load cost before.
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

from fastapi.testclient import TestClient

from edge.wire import SensorInfo
from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.sqlite_series import SqliteSeriesStore
from hub.web import photos, views

PER_DEVICE = 10


def _keys(sensors: int) -> list[str]:
    return [f"k{i // PER_DEVICE:03d}/t{i % PER_DEVICE}" for i in range(sensors)]


def _readings(keys: list[str], interval_s: float, end: float) -> Iterator[tuple[str, int, float]]:
    steps = int(86_400 / interval_s)
    start = end - steps * interval_s
    for index, key in enumerate(keys):
        for step in range(steps):
            yield key, round((start + step * interval_s) * 1000), 3.0 + ((step * 7 + index * 13) % 30) / 10


def fill(home: Path, keys: list[str], interval_s: float, end: float) -> None:
    """The last 24 h of every sensor, in the hub's own readings schema."""
    db = home / "hub" / "readings.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    SqliteSeriesStore(db).close()
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO readings (sensor, ts_ms, value, fault, synced) VALUES (?, ?, ?, NULL, 1)",
                         _readings(keys, interval_s, end))
        conn.execute("COMMIT")


def register(hub: Hub, keys: list[str]) -> None:
    for device in sorted({k.split("/")[0] for k in keys}):
        infos = [SensorInfo(sensor=k.split("/")[1], kind="temperature", profile="fridge", name=f"冷藏柜 {k}")
                 for k in keys if k.startswith(device + "/")]
        hub.state.record_status("bench", device, "online", "boot", "bench", time.time(), time.time(), infos)
    hub.engine.refresh_sensors()  # what ingest does after a status: the profiles' limits and names


def measure(hub: Hub, runs: int) -> tuple[float, list[float], list[float], int]:
    """Milliseconds for the first ``GET /canteen`` (nothing cached), later ones, and ``views.canteen`` with
    no cache (every tile's 24 h read again); the tiles shown."""
    cold, warm, uncached = 0.0, [], []
    tiles = 0
    token, _ = hub.accounts.create_token(hub.accounts.create_user("bench", "bench", Role.CANTEEN_MANAGER).id, "bench")
    with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.bench") as client:
        client.headers.update({"Authorization": f"Bearer {token}", "Accept": "text/html"})
        client.get("/login").raise_for_status()  # templates compiled before the clock starts
        began = time.perf_counter()
        client.get("/canteen").raise_for_status()
        cold = (time.perf_counter() - began) * 1000
        for _ in range(runs):
            began = time.perf_counter()
            tiles = len(views.canteen(hub.state, hub.engine, hub.series, hub.samples,
                                      photos.directory(hub.settings.db_dir), time.time())["tiles"])
            uncached.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            client.get("/canteen").raise_for_status()
            warm.append((time.perf_counter() - began) * 1000)
    return cold, warm, uncached, tiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between readings")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    keys = _keys(args.sensors)
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-web-") as tmp:
        home = Path(tmp)
        began = time.perf_counter()
        fill(home, keys, args.interval, time.time())
        print(f"generated {len(keys) * int(86_400 / args.interval):,} readings in"
              f" {time.perf_counter() - began:.0f} s", flush=True)
        hub = Hub(HubSettings(home=home), connect_mqtt=False)
        try:
            register(hub, keys)
            cold, warm, uncached, tiles = measure(hub, args.runs)
        finally:
            hub.stop()
    print(f"GET /canteen, {tiles} tiles (24 h at {args.interval:g} s each): first load {cold:.0f} ms;"
          f" later loads median {statistics.median(warm):.0f} ms ({min(warm):.0f}–{max(warm):.0f});"
          f" tiles' data without the hourly cache median {statistics.median(uncached):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
