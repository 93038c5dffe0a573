"""Readings per second each series store takes from the hub, and the weekly report's query time on each.

Run: ``python -m bench.store_write`` (``--sensors``, ``--interval``, ``--messages``; ``--write-doc`` updates
the "Stores" section of docs/performance.md). A private influxd (Debian's 1.6.7) and a
private PostgreSQL 15 cluster (fsync on) are started on free loopback ports; nothing else is needed.

1. *Hub write path*: telemetry messages (4 readings each, like a canteen Pi with
   four probes) through ``IngestPipeline.process`` in 500-message batches — validation,
   deduplication, the store write, the state commit and the rules, as the MQTT
   writer thread runs them (MQTT itself excluded: see BASELINES.md).
2. *Bulk*: ``store.write`` alone with 5,000-reading batches (what ``xiaoan store copy`` does).
3. *Week report*: hourly min/max/mean of every sensor over the last 7 days
   (``store.hourly`` per sensor), on a week of readings at ``--interval``; then again
   after the hub's hourly maintenance has run once (``downsample_and_prune``: SQLite
   rolls closed hours up, PostgreSQL vacuums, so an hour is read from the index alone;
   InfluxDB has none of the hub's: its second figure is the same report again, warm).
4. *Card writes* (``--card``): bytes the hub's SQLite state directory asks its disk to
   write per stored reading, on an ext4 loop device of its own (``bench.harness.card``),
   for messages committed one at a time (a school's trickle: each arrives alone) and in
   500-message batches (a backlog drain). A hub on a Raspberry Pi writes to an SD card too.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import card
from edge import wire
from hub.influx_server import InfluxServer
from hub.ingest import Inbound
from hub.pg.server import PostgresServer
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import HOUR_S, Maintained, SeriesStore, StoredReading

SITE = "bench"
#: (store, hub write path readings/s, bulk readings/s, week report s, the same after the hourly maintenance s).
Result = tuple[str, float, float, float, float]
PER_DEVICE = 4
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def _hub(home: Path, store: dict[str, object]) -> Hub:
    """A hub without MQTT whose series store the ``store`` settings name."""
    return Hub(HubSettings(home=home, **store), connect_mqtt=False)  # type: ignore[arg-type]


def _sensors(count: int) -> list[tuple[str, str]]:
    return [(f"dev-{i // PER_DEVICE:03d}", f"t{i % PER_DEVICE}") for i in range(count)]


def hub_write_rate(hub: Hub, sensors: int, messages: int, batch: int = 500, first_seq: int = 0) -> float:
    devices = sorted({d for d, _ in _sensors(sensors)})
    hub.pipeline.process([Inbound(wire.topic(SITE, d, wire.Channel.STATUS), json.dumps({
        "state": "online", "boot_id": "b", "ts": time.time(),
        "sensors": [{"sensor": f"t{i}", "kind": "temperature", "unit": "°C", "profile": "fridge"}
                     for i in range(PER_DEVICE)]}).encode(), 0, 1, 0.0) for d in devices])
    t0 = time.time() - 2 * 86_400
    inbound = []
    for n in range(messages):
        device = devices[n % len(devices)]
        seq = first_seq + n // len(devices)
        ts = t0 + seq * 10.0
        inbound.append(Inbound(wire.topic(SITE, device, wire.Channel.TELEMETRY), json.dumps({
            "device": device, "boot_id": "b", "seq": seq, "readings": [
                {"sensor": f"t{i}", "kind": "temperature", "value": 4.0 + (seq % 7) * 0.1, "unit": "°C", "ts": ts}
                for i in range(PER_DEVICE)]}).encode(), n, 1, 0.0))
    started = time.perf_counter()
    for start in range(0, len(inbound), batch):
        hub.pipeline.process(inbound[start:start + batch])
    return messages * PER_DEVICE / (time.perf_counter() - started)


def card_bytes_per_reading(sensors: int, messages: int, batch: int) -> float:
    """Bytes written to the hub's disk (journal and checkpoints included) per reading stored."""
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-card-") as tmp, \
            card(Path(tmp)) as (home, card_bytes, counted):
        hub = _hub(home / "hub", {"store": "sqlite"})
        try:
            hub_write_rate(hub, sensors, messages // 10, batch)  # warm-up: the WAL reaches its working size
            written0 = card_bytes()
            hub_write_rate(hub, sensors, messages, batch, first_seq=messages)
            written = card_bytes() - written0
        finally:
            hub.stop()
    if not written:
        raise RuntimeError(f"no card figure: {counted} (the loop mount needs root)")
    return written / (messages * PER_DEVICE)


def load_week(store: SeriesStore, sensors: int, interval_s: float, now: float) -> tuple[float, int]:
    """A week of readings for every sensor; returns (readings/s, count)."""
    keys = [f"{d}/{s}" for d, s in _sensors(sensors)]
    start = (int(now) // HOUR_S - 7 * 24) * HOUR_S
    steps = int(7 * 86_400 / interval_s)
    total, elapsed = 0, 0.0
    pending: list[StoredReading] = []
    for step in range(steps):
        ts = start + step * interval_s
        pending.extend(StoredReading(k, ts, 4.0 + ((step + i) % 40) * 0.1) for i, k in enumerate(keys))
        if len(pending) >= 5000 or step == steps - 1:
            began = time.perf_counter()
            store.write(pending, [])
            elapsed += time.perf_counter() - began
            total += len(pending)
            pending = []
    return total / elapsed, total


def week_report(store: SeriesStore, sensors: int, now: float) -> float:
    start = (int(now) // HOUR_S - 7 * 24) * HOUR_S
    began = time.perf_counter()
    for device, sensor in _sensors(sensors):
        rows = store.hourly(f"{device}/{sensor}", start, start + 7 * 86_400)
        assert len(rows) == 7 * 24, (device, sensor, len(rows))
    return time.perf_counter() - began


def run(sensors: int, interval_s: float, messages: int) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-") as tmp, InfluxServer(Path(tmp) / "influxd") as influx, \
            PostgresServer() as postgres:
        stores: tuple[tuple[str, dict[str, object]], ...] = (
            ("SQLite", {"store": "sqlite"}),
            ("InfluxDB 1.6", {"store": "influxdb", "influx_url": influx.url, "influx_database": "bench"}),
            ("PostgreSQL 15", {"store": "postgresql", "postgres_dsn": postgres.create_database("bench")}))
        for name, store in stores:
            hub = _hub(Path(tmp) / name, store)
            try:
                hub_rate = hub_write_rate(hub, sensors, messages)
                now = time.time()
                bulk_rate, _ = load_week(hub.series, sensors, interval_s, now)
                report_s = week_report(hub.series, sensors, now)
                maintained_s = report_s
                if isinstance(hub.series, Maintained):
                    hub.series.downsample_and_prune(now)  # the hub's hourly maintenance (rollups; a VACUUM)
                    maintained_s = week_report(hub.series, sensors, now)
            finally:
                hub.stop()
            results.append((name, hub_rate, bulk_rate, report_s, maintained_s))
    return results


def table(results: list[Result], sensors: int, interval_s: float) -> str:
    readings = sensors * int(7 * 86_400 / interval_s)
    lines = ["| store | hub write path, readings/s | bulk `write`, readings/s |"
             f" week report ({sensors} sensors × 168 h, {readings / 1e6:.1f} M readings), s |"
             " the same after the hourly maintenance, s |",
             "|---|---|---|---|---|"]
    lines += [f"| {name} | {hub:,.0f} | {bulk:,.0f} | {report:.2f} | {maintained:.2f} |"
              for name, hub, bulk, report, maintained in results]
    return "\n".join(lines)


def write_doc(text: str, path: Path = DOC) -> None:
    """Replace (or append) this benchmark's own section; other sections belong to other benchmarks."""
    section = f"## Stores\n\n{text}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    pattern = re.compile(r"^## Stores\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _m: section + "\n", old, count=1) if pattern.search(old) else \
        old.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_write", description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=200)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between readings in the week")
    parser.add_argument("--messages", type=int, default=20_000, help="telemetry messages through the hub")
    parser.add_argument("--write-doc", action="store_true", help="update docs/performance.md")
    parser.add_argument("--card", action="store_true",
                        help="only the card writes per stored reading (SQLite; needs root for the loop mount)")
    args = parser.parse_args(argv)
    if args.card:
        for batch in (1, 500):
            per_reading = card_bytes_per_reading(args.sensors, 2_000 if batch == 1 else args.messages, batch)
            out(f"SQLite hub, {batch}-message commits: {per_reading:,.0f} B written per reading"
                f" ({per_reading * PER_DEVICE / 1024:.1f} KiB per {PER_DEVICE}-reading message)")
        return 0
    results = run(args.sensors, args.interval, args.messages)
    text = table(results, args.sensors, args.interval)
    out(text)
    if args.write_doc:
        write_doc(text + "\n\nMeasured with `python -m bench.store_write` on the project's 2-core machine"
                  " (loopback; influxd or PostgreSQL, the hub and the generator share both cores);"
                  f" {args.messages:,} telemetry messages of {PER_DEVICE} readings in 500-message batches for the hub"
                  f" write path, a week at one reading per {args.interval:g} s per sensor for the bulk load and the"
                  " report. The report asks each sensor's hours one sensor at a time, right after the load, then"
                  " again after one run of the hub's hourly maintenance (SQLite's rollups; PostgreSQL's VACUUM,"
                  " after which an hour is read from the index alone; InfluxDB has none of the hub's, so its"
                  " second figure is the same report again, warm). The weekly report itself asks for all"
                  " sensors at once (`hourly_many`).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
