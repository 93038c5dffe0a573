"""``python -m bench`` (``make bench``): the hub pipeline benchmark, printed as one table.

Starts a private Mosquitto and the hub (a subprocess, so its CPU is its own), drives
them with C publishers sending wire-contract payloads at QoS 1 from device accounts,
and measures in the same run the ceilings each figure is judged against: a C
subscriber and a bare paho-mqtt subscriber on the same broker. Every measurement is
repeated (``--runs``, default 3) and the median is shown, because the machine is
shared. ``--tiny`` runs a few hundred messages (the smoke test); ``--profile`` adds a
py-spy profile of the hub during a 1-reading-per-message ingest run. ``attack``
(bench/http_attack.py) holds a real ``xiaoan hub`` with idle, slow-header and
live-stream connections at once and sends it 100 MB bodies without credentials:
health latency and the hub's memory meanwhile.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench import checks, http_attack, lanes, scenarios
from bench.harness import REPO, BenchError, compile_mqttload
from bench.profiling import summarise

T = TypeVar("T")


@dataclass(frozen=True)
class Scale:
    ingest_messages_1: int
    ingest_messages_10: int
    latency_rates: tuple[float, ...]
    latency_probes: int
    query_sensors: int
    query_days: float
    query_step_s: float
    history: int
    #: The drain under live doors (bench/lanes.py): edges, backlog messages per edge, readings per message.
    drain_edges: int = 100
    drain_backlog: int = 100
    drain_per_message: int = 20


FULL = Scale(60_000, 20_000, (100.0, 5_000.0), 100, 200, 7.0, 10.0, 1_000_000)
TINY = Scale(400, 200, (100.0,), 5, 10, 1.0, 60.0, 1_000, 10, 30, 5)


@dataclass
class Row:
    section: str
    name: str
    result: str
    ceiling: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _repeat(label: str, runs: int, work: Callable[[int], T]) -> list[T]:
    results = []
    for i in range(runs):
        _log(f"{label}: run {i + 1}/{runs}")
        results.append(work(i))
    return results


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _spread(values: list[float]) -> str:
    return f" ({min(values):,.0f}–{max(values):,.0f})" if len(values) > 1 else ""


def machine() -> dict[str, str]:
    import os  # noqa: PLC0415  (only here)
    import platform  # noqa: PLC0415

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "python": platform.python_version(), "kernel": platform.release()}


def influx_available() -> bool:
    """The InfluxDB store runs when the hub has it (``store`` setting) and Debian's influxd is installed."""
    import shutil  # noqa: PLC0415

    from hub.settings import HubSettings  # noqa: PLC0415

    here = Path(__file__).resolve().parent.parent
    return ((here / "hub" / "store" / "influx_series.py").exists() and "store" in HubSettings.model_fields
            and (here / "hub" / "influx_server.py").exists()
            and shutil.which("influxd", path="/usr/bin:/usr/sbin:/usr/local/bin") is not None)


def run(args: argparse.Namespace) -> dict[str, Any]:
    scale = TINY if args.tiny else FULL
    runs = args.runs if args.runs is not None else (1 if args.tiny else 3)
    only = set(args.only.split(",")) if args.only else {"ingest", "latency", "drain", "queries", "attack", "checks"}
    binary = compile_mqttload()
    rows: list[Row] = []
    raw: dict[str, Any] = {"machine": machine(), "runs": runs, "tiny": args.tiny}
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-") as tmp:
        base = Path(tmp)
        counter = iter(range(10_000))

        def fresh() -> Path:
            path = base / f"s{next(counter)}"
            path.mkdir()
            return path

        if "ingest" in only:
            _ingest(scale, runs, binary, fresh, rows, raw)
        if args.profile:
            _profile(scale, binary, fresh, raw)
        if "latency" in only:
            _latency(scale, runs, binary, fresh, rows, raw)
        if "drain" in only:
            _drain(_drain_size(scale, args), runs, binary, fresh, rows, raw)
    if "queries" in only:
        _queries(scale, runs, rows, raw)
    if "checks" in only:
        _checks(runs, rows, raw, args.tiny)
    if "attack" in only:
        with tempfile.TemporaryDirectory(prefix="xiaoan-bench-attack-") as tmp:
            size = http_attack.TINY if args.tiny else http_attack.FULL
            if args.attack_accounts is not None:
                size = dataclasses.replace(size, accounts=args.attack_accounts)
            _attack(size, runs, Path(tmp), rows, raw)
    raw["rows"] = [row.__dict__ for row in rows]
    return raw


def _ingest(scale: Scale, runs: int, binary: Path, fresh: Callable[[], Path], rows: list[Row],
            raw: dict[str, Any]) -> None:
    influx = influx_available()
    if not influx:
        _log("InfluxDB store not available (hub store setting or influxd missing): SQLite only")
    for per_message, messages in ((1, scale.ingest_messages_1), (10, scale.ingest_messages_10)):
        def c_run(_i: int, pm: int = per_message, n: int = messages) -> float:
            return scenarios.run_ceiling(binary, fresh(), n, pm, "c")

        def paho_run(_i: int, pm: int = per_message, n: int = messages) -> float:
            return scenarios.run_ceiling(binary, fresh(), n, pm, "paho")

        c_rates = _repeat(f"ceiling C→C, {per_message}/msg", runs, c_run)
        paho_rates = _repeat(f"ceiling C→paho, {per_message}/msg", runs, paho_run)
        c_med, paho_med = scenarios.median(c_rates), scenarios.median(paho_rates)
        tag = f"{per_message} reading{'s' if per_message > 1 else ''}/msg"
        rows.append(Row("ceiling", f"Mosquitto QoS 1, C pub → C sub, {tag}", f"{_rate(c_med)} msg/s"
                        + _spread(c_rates)))
        rows.append(Row("ceiling", f"same, C pub → bare paho sub (json.loads), {tag}",
                        f"{_rate(paho_med)} msg/s" + _spread(paho_rates), f"{_rate(c_med)} msg/s",
                        f"{paho_med / c_med:.0%}"))
        stores = [("SQLite", "sqlite")] + ([("InfluxDB", "influxdb")] if influx else [])
        for store, setting in stores:
            def ingest_run(_i: int, pm: int = per_message, n: int = messages,
                           st: str = setting) -> scenarios.IngestRun:
                return scenarios.run_ingest(binary, fresh(), n, pm, store=st)

            results = _repeat(f"hub ingest {store}, {per_message}/msg", runs, ingest_run)
            msg_med = scenarios.median([r.msg_rate for r in results])
            readings_med = scenarios.median([r.reading_rate for r in results])
            lost = sum(r.lost for r in results)
            cpu = scenarios.median([r.hub_cpu_s / r.readings * 1000 for r in results])
            raw[f"ingest_{store.lower()}_{per_message}"] = [r.__dict__ for r in results]
            raw[f"ceiling_{per_message}"] = {"c": c_rates, "paho": paho_rates}
            checks = (f"lost {lost}, duplicates {sum(r.duplicates for r in results)}, dead letters "
                      f"{sum(r.dead_letters for r in results)} over {sum(r.messages for r in results):,} msgs;"
                      f" hub CPU {cpu:.3f} s/1000 readings")
            if per_message == 1:
                # The performance issue's round two: 80 % of bare paho in the same run (round one asked 60 %).
                ok = msg_med >= 0.8 * paho_med and lost == 0
                rows.append(Row("ingest", f"hub ingest end to end, {store}, {tag}",
                                f"{_rate(msg_med)} msg/s = readings/s"
                                + _spread([r.msg_rate for r in results]),
                                f"{_rate(paho_med)} msg/s paho", f"{msg_med / paho_med:.0%} (C: {msg_med / c_med:.0%})",
                                "≥ 80 % of paho, nothing lost", _verdict(ok)))
            else:
                # Round two: 40 % of the readings bare paho takes in at 10 per message (round one: 50,000/s flat,
                # which moved with the machine rather than with the hub).
                ok = readings_med >= 0.4 * paho_med * per_message and lost == 0
                rows.append(Row("ingest", f"hub ingest end to end, {store}, {tag}",
                                f"{_rate(readings_med)} readings/s ({_rate(msg_med)} msg/s)"
                                + _spread([r.reading_rate for r in results]),
                                f"{_rate(paho_med * per_message)} readings/s paho",
                                f"{msg_med / paho_med:.0%} (C: {msg_med / c_med:.0%})",
                                "≥ 40 % of paho's readings, nothing lost", _verdict(ok)))
            rows.append(Row("ingest", f"  checks ({store}, {tag})", checks))
            if per_message == 1 and setting == "sqlite":
                _history(scale, runs, binary, fresh, rows, raw, paho_med)


def _history(scale: Scale, runs: int, binary: Path, fresh: Callable[[], Path], rows: list[Row],
             raw: dict[str, Any], paho: float) -> None:
    """The same ingest when the hub has already stored ``scale.history`` messages (days of a district)."""
    results = _repeat(f"hub ingest SQLite, 1/msg, {scale.history:,} ids already seen", runs,
                      lambda _i: scenarios.run_ingest(binary, fresh(), scale.ingest_messages_1, 1,
                                                      history=scale.history))
    raw["ingest_sqlite_1_history"] = [r.__dict__ for r in results]
    rate = scenarios.median([r.msg_rate for r in results])
    lost = sum(r.lost for r in results)
    rows.append(Row("ingest", f"  same, hub already holding {scale.history:,} message ids (never pruned)",
                    f"{_rate(rate)} msg/s" + _spread([r.msg_rate for r in results]) + f"; lost {lost}",
                    f"{_rate(paho)} msg/s paho", f"{rate / paho:.0%}", "≥ 60 % of paho",
                    _verdict(rate >= 0.6 * paho and lost == 0)))


def _profile(scale: Scale, binary: Path, fresh: Callable[[], Path], raw: dict[str, Any]) -> None:
    out = REPO / "var" / "bench-profile.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    _log(f"profiling the hub with py-spy during a 1/msg ingest run → {out}")
    result = scenarios.run_ingest(binary, fresh(), scale.ingest_messages_1, 1, profile_to=out)
    profile = summarise(out)
    raw["profile"] = {"rate": result.msg_rate, "lines": profile.lines()}
    print("\n".join([f"profiled run: {result.msg_rate:,.0f} msg/s (slower under the profiler)", *profile.lines()]),
          file=sys.stderr)


def _latency(scale: Scale, runs: int, binary: Path, fresh: Callable[[], Path], rows: list[Row],
             raw: dict[str, Any]) -> None:
    for rate in scale.latency_rates:
        def latency_run(_i: int, r: float = rate) -> scenarios.LatencyRun:
            return scenarios.run_latency(binary, fresh(), r, scale.latency_probes)

        results = _repeat(f"alarm latency at {rate:g} msg/s", runs, latency_run)
        p50 = scenarios.median([scenarios.percentile(r.hub_ms, 50) for r in results])
        p99 = scenarios.median([scenarios.percentile(r.hub_ms, 99) for r in results])
        worst = max(max(r.hub_ms, default=float("nan")) for r in results)
        b99 = scenarios.median([scenarios.percentile(r.broker_ms, 99) for r in results])
        b50 = scenarios.median([scenarios.percentile(r.broker_ms, 50) for r in results])
        e50 = scenarios.median([scenarios.percentile(r.engine_ms, 50) for r in results])
        e99 = scenarios.median([scenarios.percentile(r.engine_ms, 99) for r in results])
        missed = sum(r.missed for r in results)
        limit = 50.0 if rate <= 100 else 250.0
        raw[f"latency_{rate:g}"] = [r.__dict__ for r in results]
        rows.append(Row("latency", f"alarm: door-open event → notification at the channel, {rate:,.0f} msg/s"
                        " background",
                        f"p50 {p50:.1f} / p99 {p99:.1f} / max {worst:.1f} ms; missed {missed}",
                        f"broker p50 {b50:.2f} / p99 {b99:.2f} ms", f"p99 {p99 / b99:.0f}×" if b99 > 0 else "",
                        f"p99 < {limit:g} ms", _verdict(p99 < limit and missed == 0)))
        rows.append(Row("latency", "  of which event → alert engine's listeners",
                        f"p50 {e50:.1f} / p99 {e99:.1f} ms"))


@dataclass(frozen=True)
class DrainSize:
    edges: int
    backlog: int
    per_message: int


def _drain_size(scale: Scale, args: argparse.Namespace) -> DrainSize:
    return DrainSize(args.drain_edges or scale.drain_edges, args.drain_backlog or scale.drain_backlog,
                     args.drain_per_message or scale.drain_per_message)


def _drain(size: DrainSize, runs: int, binary: Path, fresh: Callable[[], Path], rows: list[Row],
           raw: dict[str, Any]) -> None:
    """Door events while every edge drains its backlog: unpaced, then offered at 2× what the hub ingests."""
    what = (f"{size.edges} edges × {size.backlog:,} backlog msgs ({size.per_message} readings/msg"
            f"{', a full day each' if size.backlog >= lanes.DAY_MESSAGES else ''})")

    def measure(label: str, rate_per_edge: float) -> tuple[list[lanes.DrainRun], list[lanes.DrainRun]]:
        def one(_i: int, probe: bool) -> lanes.DrainRun:
            return lanes.run_drain(binary, fresh(), size.edges, size.backlog, size.per_message, probe,
                                   rate_per_edge)

        alone = _repeat(f"drain {label}, no live load", runs, lambda i: one(i, False))
        loaded = _repeat(f"drain {label}, door events live", runs, lambda i: one(i, True))
        return alone, loaded

    unpaced_alone, unpaced_loaded = measure("as fast as the broker acknowledges", 0.0)
    capacity = scenarios.median([r.drain_rate for r in unpaced_alone])
    paced = 2 * capacity / size.edges
    paced_alone, paced_loaded = measure(f"offered at 2× the hub's {capacity:,.0f} msg/s", paced)
    for label, alone, loaded in (("as fast as the broker acknowledges", unpaced_alone, unpaced_loaded),
                                 (f"offered at 2× what the hub ingests ({2 * capacity:,.0f} msg/s)", paced_alone,
                                  paced_loaded)):
        p99 = scenarios.median([r.p99_ms for r in loaded])
        worst = max(r.max_ms for r in loaded)
        missed = sum(r.missed for r in loaded)
        probes = sum(r.probes for r in loaded)
        rows.append(Row("drain", f"alarm during a drain, {what}, {label}: door → channel",
                        f"p99 {p99:.0f} / max {worst:.0f} ms over {probes} doors, {missed} missed",
                        "", "", "p99 < 250 ms, max < 1 s", _verdict(p99 < 250 and worst < 1000 and missed == 0
                                                                      and probes > 0)))
        base = scenarios.median([r.drain_s for r in alone])
        with_load = scenarios.median([r.drain_s for r in loaded])
        backfill = min(r.backfill_received for r in (*alone, *loaded))
        rate = scenarios.median([r.drain_rate for r in loaded])
        rows.append(Row("drain", f"  drain time, {label}",
                        f"{with_load:.1f} s with the live doors ({rate:,.0f} msg/s); backfill lane carried"
                        f" {backfill:,} of {alone[0].total:,}",
                        f"{base:.1f} s alone", f"{with_load / base:.2f}×", "≤ 2× alone",
                        _verdict(with_load <= 2 * base and backfill >= alone[0].total)))
    raw["drain"] = {"size": size.__dict__, "capacity_msg_s": capacity,
                    "runs": {name: [{**r.__dict__, "p99_ms": r.p99_ms, "max_ms": r.max_ms} for r in results]
                             for name, results in (("unpaced_alone", unpaced_alone), ("unpaced_loaded", unpaced_loaded),
                                                   ("paced_alone", paced_alone), ("paced_loaded", paced_loaded))}}


def _queries(scale: Scale, runs: int, rows: list[Row], raw: dict[str, Any]) -> None:
    db = scenarios.week_db(scale.query_sensors, scale.query_days, scale.query_step_s, _log)
    results = _repeat("queries", runs, lambda _i: scenarios.run_queries(db, scale.query_sensors, scale.query_days))
    raw["queries"] = [r.__dict__ for r in results]
    spark = scenarios.median([scenarios.median(r.sparkline_ms) for r in results])
    spark_max = max(max(r.sparkline_ms) for r in results)
    first = results[0]
    rows.append(Row("queries", f"24 h sparkline, one sensor (hub.series.readings, {first.sparkline_points:,} points)",
                    f"median {spark:.1f} ms, max {spark_max:.1f} ms", "", "", "< 50 ms", _verdict(spark < 50)))
    label = f"{scale.query_sensors} sensors × {scale.query_days:g} d at {scale.query_step_s:g} s ({first.rows:,} rows)"
    for name, attr, judged in (("store.hourly() per sensor", "week_per_sensor_s", True),
                               ("store.hourly() per sensor, 2 threads", "week_two_threads_s", True),
                               ("one SQL GROUP BY sensor, hour (comparison only)", "week_single_s", False)):
        values = [float(getattr(r, attr)) for r in results]
        value = scenarios.median(values)
        rows.append(Row("queries", f"weekly hourly min/max/mean, {label}: {name}",
                        f"{value:.2f} s ({first.week_groups:,} groups)", "", "", "< 5 s" if judged else "",
                        _verdict(value < 5) if judged else ""))


def _checks(runs: int, rows: list[Row], raw: dict[str, Any], tiny: bool) -> None:
    """Issue 19's term of checklists and work orders: the board, the lists, the records (bench/checks.py)."""
    with tempfile.TemporaryDirectory(prefix="xiaoan-bench-checks-") as tmp:
        # The issue's term: 220 places' rounds + the defaults ≈ 20,000 checklists, 50,000 photos, 2,500 orders.
        places, days, orders, taken = (30, 5, 50, 100) if tiny else (220, 90, 2500, 50_000)
        figures = checks.measure(places, days, orders, max(runs, 3), Path(tmp), taken)
    raw["checks"] = figures.__dict__
    scale = (f"{figures.runs:,} checklists, {figures.photos:,} photos, {figures.orders:,} work orders"
             f" ({figures.open_orders:,} open)")
    for name, ms in figures.timings_ms.items():
        target = checks.TARGETS_MS.get(name)
        rows.append(Row("checks", f"{name}, {scale}", f"median {ms:.0f} ms", "", "",
                        f"< {target:g} ms" if target else "", _verdict(ms < target) if target else ""))


def _attack(size: http_attack.AttackSize, runs: int, base: Path, rows: list[Row], raw: dict[str, Any]) -> None:
    """Issue 16's combined attack on the hub's HTTP server, then 100 MB bodies without credentials."""
    results = _repeat("HTTP attack", runs, lambda i: http_attack.run_attack(base / f"a{i}", size, _log))
    raw["attack"] = [r.__dict__ | {"bodies": [b.__dict__ for b in r.bodies]} for r in results]
    p50 = scenarios.median([scenarios.percentile(r.health_ms, 50) for r in results])
    p99 = scenarios.median([scenarios.percentile(r.health_ms, 99) for r in results])
    worst = max(max(r.health_ms, default=float("nan")) for r in results)
    probes = sum(len(r.health_ms) + r.health_failed for r in results)
    failed = sum(r.health_failed for r in results)
    slow = sum(1 for r in results for ms in r.health_ms if ms >= 1000)
    held = f"{size.idle:,} idle + {size.slow} slow-header + {size.streams:,} /api/stream ({size.accounts} accounts)"
    rows.append(Row("http", f"/api/health on a new connection every {http_attack.PROBE_EVERY_S:g} s while {held}"
                    f" are held {size.seconds:g} s",
                    f"p50 {p50:.1f} / p99 {p99:.1f} / max {worst:.1f} ms; {failed + slow} of {probes} unanswered"
                    " or ≥ 1 s", "", "", "every answer < 1 s", _verdict(failed == 0 and slow == 0)))
    last = results[-1]
    rows.append(Row("http", "  connections the attacker held at once (it reconnects whenever the hub closes one)",
                    f"median {scenarios.median([r.held_median for r in results]):,.0f}, max"
                    f" {max(r.held_max for r in results):,}; hub's open files {last.hub_fds_idle} idle →"
                    f" {last.hub_fds_max:,}; CPU: hub {last.hub_cpu_s / last.attack_s:.0%} of a core, attacker"
                    f" {last.attacker_cpu_s / last.attack_s:.0%};"
                    f" {last.opened:,} opened, {last.closed_by_hub:,} closed by the hub,"
                    f" {last.refused_at_accept} refused at accept, {last.connect_errors} connect errors"))
    statuses = ", ".join(f"{n:,} × {s}" for s, n in sorted(last.stream_statuses.items()))
    rows.append(Row("http", "  live-stream requests (the caps answer 429 per account, 503 in total)",
                    f"{statuses}; at most {last.streams_held_max} streams open at once"))
    idle = scenarios.median([r.idle_rss_mb for r in results])
    peak = max(r.attack_peak_rss_mb - r.idle_rss_mb for r in results)
    rows.append(Row("http", "  hub memory (RSS): idle → peak during the attack → after",
                    f"{idle:.0f} → {scenarios.median([r.attack_peak_rss_mb for r in results]):.0f} MB (worst +"
                    f"{peak:.0f}) → {scenarios.median([r.after_rss_mb for r in results]):.0f} MB", "", "",
                    "≤ idle + 100 MB", _verdict(peak <= 100)))
    for n, first in enumerate(last.bodies):
        bodies = [r.bodies[n] for r in results]
        grow = max(b.peak_rss_mb - r.idle_rss_mb for b, r in zip(bodies, results, strict=True))
        ok = all(b.status == 413 for b in bodies) and grow <= 100
        rows.append(Row("http", f"{first.name}, no credentials",
                        f"{first.status} after {scenarios.median([b.sent_mb for b in bodies]):.1f} MB sent, in"
                        f" {scenarios.median([b.seconds for b in bodies]):.2f} s; hub peak RSS"
                        f" {scenarios.median([b.peak_rss_mb for b in bodies]):.0f} MB (worst +{grow:.0f} over idle)",
                        "", "", "413, ≤ idle + 100 MB", _verdict(ok)))


#: Benchmarks other parts of the project own, run after the table (print only: docs are updated by hand).
COMPANIONS = {"edge_agent": ("Edge agent", []), "store_write": ("Stores", []),
              "report": ("Weekly report (SQLite, 12 M readings)", ["--runs", "1"]),
              "web_pages": ("Web pages (/canteen, 200 tiles)", []),
              "district": ("District: all schools at a glance and the week's table (500 schools, PostgreSQL)", []),
              "district_ingest": ("District ingest: 500 schools live, one back after 7 days", ["--tick", "10"]),
              "soak": ("Soak (1,000 msg/s for 60 minutes)", ["--minutes", "60"])}


def run_companions(names: list[str]) -> None:
    import subprocess  # noqa: PLC0415

    here = Path(__file__).resolve().parent
    for name in names:
        if not (here / f"{name}.py").exists():
            continue
        title, extra = COMPANIONS[name]
        _log(f"running python -m bench.{name} {' '.join(extra)} ({title})")
        result = subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=here.parent,
                                capture_output=True, text=True, timeout=5400, check=False)
        print(f"\n## {title} (python -m bench.{name}, exit {result.returncode})")
        print(result.stdout.rstrip() or result.stderr.strip()[-2000:])


def render(rows: list[Row]) -> str:
    header = ("what", "result (median of runs; range)", "ceiling, same run", "ratio", "target", "")
    table = [header, *((r.name, r.result, r.ceiling, r.ratio, r.target, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for n, line in enumerate(table):
        lines.append("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--tiny", action="store_true", help="a few hundred messages: checks the harness runs")
    parser.add_argument("--runs", type=int, default=None, help="repeats per measurement (default 3; tiny: 1)")
    parser.add_argument("--only", help="comma list of: ingest,latency,drain,queries,attack,checks")
    parser.add_argument("--drain-edges", type=int, default=None, help="edges draining at once (default 100)")
    parser.add_argument("--drain-backlog", type=int, default=None,
                        help=f"backlog messages per edge (default 100; a full day at 10 s: {lanes.DAY_MESSAGES})")
    parser.add_argument("--drain-per-message", type=int, default=None,
                        help="readings per backlog message (default 20: a node's 20 probes)")
    parser.add_argument("--attack-accounts", type=int, default=None,
                        help="accounts the attack's 1,000 stream requests use (default 4: the per-account cap"
                             " refuses; 25 or more: the total cap does)")
    parser.add_argument("--profile", action="store_true", help="also profile the hub with py-spy during ingest")
    parser.add_argument("--json", type=Path, help="also write every raw figure to this file")
    parser.add_argument("--no-companions", action="store_true",
                        help="skip bench/edge_agent.py and bench/store_write.py (run after the table when present)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        raw = run(args)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    info = raw["machine"]
    print(f"xiaoan hub pipeline benchmark — {info['nproc']} CPUs ({info['cpu']}), {info['memory']},"
          f" Python {info['python']}; median of {raw['runs']} run(s); {time.monotonic() - started:.0f} s")
    print(render([Row(**r) for r in raw["rows"]]))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    if not (args.tiny or args.no_companions or args.only):
        run_companions(list(COMPANIONS))
    failed = [r for r in raw["rows"] if r["verdict"] == "FAIL"]
    if failed:
        print(f"{len(failed)} target(s) missed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
