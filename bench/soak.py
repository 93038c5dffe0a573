"""The hub held at 1,000 msg/s for an hour: does anything grow that should not, does the alarm path stay quick?

Run: ``python -m bench.soak`` (``--minutes 60 --rate 1000``; ``--minutes 10`` for a shorter look).
A private Mosquitto and a hub worker (``bench.hub_worker``, the MQTT ingest → store →
rules → alerts path, with its scheduler duties: retention, pruning of message ids and
dead letters) take telemetry from four devices at ``--rate`` messages/s in total, sent by
the C publishers a minute's worth at a time. Every ``--probe-every`` seconds a door opens
and closes on a fifth device; the door rule alarms at once and the notification goes to
a local endpoint standing in for a group bot. Sampled every 30 s: the hub's resident
memory (VmRSS) and the row count of every table of its databases.

Printed, with PASS/FAIL against the performance issue's targets: RSS growth after the
first 5 minutes (< 10 MB), door → channel p99 per 5-minute window (stable: the last
window's p99 within 2× of the first's, and < 250 ms), messages lost (sent and
acknowledged by the broker but not stored), and the tables that grew although retention
bounds them (everything but readings, events and the audit trail of the run's alarms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.harness import (
    PROBE_DEVICE,
    SITE,
    BenchError,
    BrokerEnv,
    CLoad,
    HubWorker,
    compile_mqttload,
    device_name,
    sensor_infos,
    telemetry_payloads,
    workers,
)
from bench.scenarios import ChannelEndpoint, alarm_configs, percentile
from edge import wire
from edge.link import close_client

DEVICES = 4
CHUNK_S = 60.0
SAMPLE_S = 30.0
WINDOW_S = 300.0
#: Tables that grow with the data itself: bounded by the retention days (readings, message ids
#: kept for deduplication, the rollups of each new hour), kept for good (audit, alarms, deliveries),
#: or written once (the rollups' two marks, at the first retention run).
GROWING_BY_DESIGN = {"readings", "events", "readings_rollup", "rollup_meta", "seen", "audit", "alerts",
                     "alert_changes", "notify_delivery_log"}
RSS_GROWTH_TARGET_MB = 10.0
P99_TARGET_MS = 250.0


@dataclass
class Sample:
    at: float
    rss_mb: float
    rows: dict[str, int]


@dataclass
class SoakRun:
    samples: list[Sample] = field(default_factory=list)
    #: (time after start, door → channel ms) of every probe that arrived.
    latencies: list[tuple[float, float]] = field(default_factory=list)
    missed: int = 0
    sent: int = 0
    acked: int = 0

    @property
    def stored(self) -> int:
        """Readings in the hub's store at the end: one per telemetry message sent."""
        return self.samples[-1].rows.get("readings:readings", 0) if self.samples else 0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


def table_rows(db_dir: Path) -> dict[str, int]:
    """Rows of every table of every database of the hub, as ``file:table``."""
    found: dict[str, int] = {}
    for path in sorted(db_dir.glob("*.sqlite3")):
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
            names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                              " AND name NOT LIKE 'sqlite_%'")]
            for name in names:
                found[f"{path.stem}:{name}"] = int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # noqa: S608 - names from sqlite_master
    return found


def soak(binary: Path, root: Path, minutes: float, rate: float, probe_every_s: float) -> SoakRun:
    run = SoakRun()
    names = [device_name(i) for i in range(DEVICES)]
    endpoint = ChannelEndpoint()
    try:
        with BrokerEnv(root, DEVICES) as env:
            worker = HubWorker(env, root / "hub", "soak-hub",
                               extra_env={**alarm_configs(root, endpoint.port), "BENCH_REPORT_S": "1.0",
                                          "BENCH_MAX_LIFETIME_S": str(minutes * 60 + 600)})
            with workers(worker.start()):
                env.announce(names, sensor_infos(1))
                env.announce([PROBE_DEVICE], sensor_infos(4, "p"))
                probe = env.client(PROBE_DEVICE, "soak-probe")
                try:
                    _drive(env, worker, endpoint, probe, run, names, binary, root, minutes, rate, probe_every_s)
                finally:
                    close_client(probe)
    finally:
        endpoint.close()
    return run


def _drive(env: BrokerEnv, worker: HubWorker, endpoint: ChannelEndpoint, probe: mqtt.Client, run: SoakRun,
           names: list[str], binary: Path, root: Path, minutes: float, rate: float, probe_every_s: float) -> None:
    started = time.monotonic()
    end = started + minutes * 60
    next_sample = started
    next_probe = started + 5
    seq = 0
    chunk = 0
    topic = wire.topic(SITE, PROBE_DEVICE, wire.Channel.EVENT)
    while time.monotonic() < end:
        per_device = int(rate / len(names) * CHUNK_S)
        load = CLoad(binary, env, root)
        # Readings as far apart as the device sends them: a chunk's times end where the next chunk's begin,
        # so no reading shares its (sensor, millisecond) key with another chunk's and replaces it.
        files = {d: load.write(d, telemetry_payloads(d, per_device, 1, boot_id=f"soak-{chunk}", base_ts=time.time(),
                                                     step_s=max(0.001, len(names) / rate)), f"-{chunk}") for d in names}
        load.start(files, rate_per_device=rate / len(names))
        chunk_end = min(end, time.monotonic() + CHUNK_S)
        while time.monotonic() < chunk_end:
            now = time.monotonic()
            if now >= next_sample:
                run.samples.append(Sample(now - started, rss_mb(worker.pid), table_rows(worker.home / "hub")))
                next_sample += SAMPLE_S
            if now >= next_probe:
                sensor = f"p{seq // 2 % 4}"
                for state in ("open", "closed"):
                    event = wire.Event(device=PROBE_DEVICE, boot_id="soak", seq=seq, ts=time.time(), sensor=sensor,
                                       kind="door", state=state)
                    seq += 1
                    published = time.time()
                    probe.publish(topic, wire.encode(event), qos=1)
                    if state == "open":
                        arrived = endpoint.first_after(published, f"{PROBE_DEVICE}/{sensor}", 5.0)
                        if arrived is None:
                            run.missed += 1
                        else:
                            run.latencies.append((now - started, (arrived - published) * 1000))
                next_probe += probe_every_s
            time.sleep(0.05)
        results = load.wait(timeout=CHUNK_S * 3)
        run.sent += sum(r.sent for r in results)
        run.acked += sum(r.acked for r in results)
        for path in files.values():
            path.unlink(missing_ok=True)
        chunk += 1
    # Let the hub store what the broker still holds before the last count (status and door messages count too).
    worker.wait_for(lambda c: int(c.get("stored_messages", 0)) + int(c.get("duplicates", 0)) >= run.acked, 60)
    run.samples.append(Sample(time.monotonic() - started, rss_mb(worker.pid), table_rows(worker.home / "hub")))


def report(run: SoakRun, minutes: float, rate: float) -> int:
    after_warmup = [s for s in run.samples if s.at >= WINDOW_S] or run.samples
    growth = max(s.rss_mb for s in after_warmup) - after_warmup[0].rss_mb
    windows: dict[int, list[float]] = {}
    for at, ms in run.latencies:
        windows.setdefault(int(at // WINDOW_S), []).append(ms)
    p99s = [percentile(values, 99) for _, values in sorted(windows.items())]
    first, last = run.samples[0], run.samples[-1]
    # From the 5-minute sample, as RSS: rows made once early on (the door probe's rule state, at the first
    # probe) are the hub starting up, not a table growing.
    settled = after_warmup[0]
    grew = {t: (settled.rows.get(t, 0), n) for t, n in last.rows.items()
            if n > settled.rows.get(t, 0) and t.split(":", 1)[1] not in GROWING_BY_DESIGN}
    lost = run.acked - run.stored
    print(f"soak: {minutes:g} min at {rate:g} msg/s, {run.sent:,} sent, {run.acked:,} acknowledged by the broker,"
          f" {run.stored:,} readings stored; {len(run.latencies)} door probes, {run.missed} missed")
    print(f"hub RSS: {first.rss_mb:.1f} MB at start, {after_warmup[0].rss_mb:.1f} MB after 5 min,"
          f" max {max(s.rss_mb for s in run.samples):.1f} MB, last {last.rss_mb:.1f} MB")
    print("door → channel p99 per 5 min: " + ", ".join(f"{p:.0f}" for p in p99s) + " ms"
          + (f" (median of all {statistics.median(ms for _, ms in run.latencies):.0f} ms)" if run.latencies else ""))
    for table, (before, after) in sorted(grew.items()):
        print(f"  grew: {table} {before:,} → {after:,}")
    checks = [("RSS growth after the first 5 minutes", growth < RSS_GROWTH_TARGET_MB,
               f"{growth:.1f} MB (target < {RSS_GROWTH_TARGET_MB:g} MB)"),
              ("alarm p99 < 250 ms in every window", bool(p99s) and max(p99s) < P99_TARGET_MS,
               f"max {max(p99s, default=float('nan')):.0f} ms"),
              ("alarm p99 stable (last window within 2× of the first)", len(p99s) < 2 or p99s[-1] <= 2 * p99s[0],
               " → ".join(f"{p:.0f}" for p in (p99s[0], p99s[-1])) if p99s else "no probes"),
              ("nothing lost", lost <= 0 and run.missed == 0, f"lost {max(lost, 0)}, probes missed {run.missed}"),
              ("no table beyond retention grew after the first 5 minutes", not grew, f"{len(grew)} grew")]
    for what, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {what}: {detail}")
    return 0 if all(passed for _, passed, _ in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="telemetry messages per second, in total")
    parser.add_argument("--probe-every", type=float, default=5.0, help="seconds between door probes")
    parser.add_argument("--json", type=Path, help="write every sample and latency here")
    args = parser.parse_args(argv)
    binary = compile_mqttload()
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-soak-") as tmp:
        run = soak(binary, Path(tmp), args.minutes, args.rate, args.probe_every)
    if args.json:
        args.json.write_text(json.dumps({"samples": [s.__dict__ for s in run.samples], "latencies": run.latencies,
                                         "sent": run.sent, "acked": run.acked, "stored": run.stored}),
                             encoding="utf-8")
    return report(run, args.minutes, args.rate)


if __name__ == "__main__":
    raise SystemExit(main())
