"""The measurements: ingest, its ceilings, alarm latency and queries — one run each.

Each function starts what it needs from nothing (a fresh broker, fresh hub state) and
returns plain numbers; ``bench.__main__`` repeats them and takes medians.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from bench.harness import (
    BASE_TS,
    HUB_USER,
    PROBE_DEVICE,
    SITE,
    BenchError,
    BrokerEnv,
    CLoad,
    HubWorker,
    cache_dir,
    cpu_seconds,
    device_name,
    finish_subscriber,
    sensor_infos,
    start_subscriber,
    telemetry_payloads,
    workers,
)
from edge import wire
from edge.link import close_client
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import StateStore


def _count(db: Path, query: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        (value,) = conn.execute(query).fetchone()
    return int(value)


def _handled(counters: dict[str, Any]) -> int:
    return int(counters.get("stored_messages", 0)) + int(counters.get("duplicates", 0))


# -- profiling ------------------------------------------------------------------------------------


class PySpy:
    """``py-spy record`` on a worker for the measured window (raw collapsed stacks)."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        executable = Path(sys.executable).parent / "py-spy"
        if not executable.exists():
            raise BenchError("py-spy is not installed in the venv: `.venv/bin/pip install py-spy`")
        self.process = subprocess.Popen(
            [str(executable), "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--threads",
             "--output", str(output), "--duration", "600", "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- ingest ---------------------------------------------------------------------------------------


@dataclass
class _Throughput:
    messages: int
    readings: int
    seconds: float

    @property
    def msg_rate(self) -> float:
        return self.messages / self.seconds

    @property
    def reading_rate(self) -> float:
        return self.readings / self.seconds


@dataclass
class IngestRun(_Throughput):
    stored_rows: int
    seen: int
    duplicates: int
    dead_letters: int
    hub_cpu_s: float

    @property
    def lost(self) -> int:
        return self.readings - self.stored_rows


def _influx_count(url: str, database: str) -> int:
    import httpx  # noqa: PLC0415  (only for the InfluxDB store)

    response = httpx.get(f"{url}/query", params={"db": database, "q": 'SELECT count("value") FROM "reading"'},
                         timeout=60.0)
    response.raise_for_status()
    series = response.json()["results"][0].get("series") or [{"values": [[0, 0]]}]
    return int(series[0]["values"][0][1])


def preload_seen(state_db: Path, count: int) -> None:
    """Give a fresh hub a history: ``count`` message ids already stored (the hub never prunes them)."""
    StateStore(state_db).close()  # the hub's schema, exactly
    with contextlib.closing(sqlite3.connect(state_db, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO seen (device, boot_id, seq, received) VALUES (?, ?, ?, 0)",
                         ((device_name(i % 50), "history", i) for i in range(count)))
        conn.execute("COMMIT")


def run_ingest(binary: Path, root: Path, messages: int, per_message: int, devices: int = 4,
               profile_to: Path | None = None, store: str = "sqlite", history: int = 0) -> IngestRun:
    """Publish ``messages`` telemetry messages as fast as the broker takes them; time until all are stored.

    ``history``: message ids the hub has already seen before the run (its dedup table's size).
    """
    names = [device_name(i) for i in range(devices)]
    per_device = messages // devices
    total = per_device * devices
    with contextlib.ExitStack() as stack:
        store_env: dict[str, str] = {"XIAOAN_STORE": store}
        influx_url = ""
        if store == "influxdb":
            from hub.influx_server import InfluxServer  # noqa: PLC0415  (only for the InfluxDB store)

            influx = stack.enter_context(InfluxServer(root / "influx"))
            influx_url = influx.url
            store_env |= {"XIAOAN_INFLUX_URL": influx_url, "XIAOAN_INFLUX_DATABASE": "bench"}
        env = stack.enter_context(BrokerEnv(root, devices))
        load = CLoad(binary, env, root)
        files = {d: load.write(d, telemetry_payloads(d, per_device, per_message)) for d in names}
        worker = HubWorker(env, root / "hub", "bench-hub", extra_env=store_env)
        if history:
            preload_seen(worker.state_db, history)
        with workers(worker.start()):
            env.announce(names, sensor_infos(per_message))
            if worker.wait_for(lambda c: c["received"] >= devices, 15) is None:
                raise BenchError("the hub did not receive the devices' status messages")
            cpu_before = cpu_seconds(worker.pid)
            profiler = PySpy(worker.pid, profile_to) if profile_to else None
            t0 = time.time()
            load.start(files)
            try:
                t_end = worker.wait_for(lambda c: _handled(c) >= total, 120 + total / 500)
                cpu_after = cpu_seconds(worker.pid)
            finally:
                if profiler is not None:
                    profiler.stop()
            load.wait()
            if t_end is None:
                raise BenchError(f"the hub stored {_handled(worker.snapshot()[0])} of {total} messages in time")
            counters, _ = worker.snapshot()
        if store == "influxdb":
            rows = _influx_count(influx_url, "bench")
        else:
            rows = _count(worker.readings_db, "SELECT count(*) FROM readings")
        seen = _count(worker.state_db, "SELECT count(*) FROM seen") - history
    return IngestRun(total, total * per_message, t_end - t0, rows, seen, int(counters["duplicates"]),
                     int(counters["dead_letters"]), cpu_after - cpu_before)


# -- ceilings -------------------------------------------------------------------------------------


def run_ceiling(binary: Path, root: Path, messages: int, per_message: int, kind: str, devices: int = 4) -> float:
    """Messages/s from the same C publishers to a C (``kind="c"``) or bare paho subscriber."""
    names = [device_name(i) for i in range(devices)]
    per_device = messages // devices
    total = per_device * devices
    with BrokerEnv(root, devices) as env:
        load = CLoad(binary, env, root)
        files = {d: load.write(d, telemetry_payloads(d, per_device, per_message)) for d in names}
        broker, password = env.broker, env.accounts[HUB_USER].password
        topic = f"{wire.TOPIC_ROOT}/{wire.WIRE_VERSION}/{SITE}/+/telemetry"
        timeout = 60 + total / 1000
        if kind == "c":
            command = [str(binary), "sub", broker.host, str(broker.hub_port), HUB_USER, password,
                       f"ceiling-c-{time.monotonic_ns()}", topic, str(total), str(timeout)]
        else:
            command = [sys.executable, "-m", "bench.paho_sub", broker.host, str(broker.hub_port), HUB_USER, password,
                       topic, str(total), str(timeout)]
        subscriber = start_subscriber(command)
        t0 = time.time()
        load.start(files)
        try:
            result = finish_subscriber(subscriber, timeout + 10)
        finally:
            load.wait()
    if result["received"] < total:
        raise BenchError(f"{kind} subscriber received {result['received']} of {total} messages")
    return total / (float(result["t_last"]) - t0)


# -- alarm latency --------------------------------------------------------------------------------


@dataclass
class LatencyRun:
    #: Door event published → the notification arrives at the channel's endpoint (the figure).
    hub_ms: list[float] = field(default_factory=list)
    #: Door event published → the alert engine hands the alert to its listeners (where the time goes).
    engine_ms: list[float] = field(default_factory=list)
    broker_ms: list[float] = field(default_factory=list)
    missed: int = 0
    probes: int = 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


#: Every route of the default escalation policies, all to the bench's channel.
_ROUTES = ("canteen", "canteen_manager", "safety_officer", "gatekeeper", "admin")


class ChannelEndpoint:
    """A local HTTP endpoint standing in for a group bot: the hub's Apprise ``json://`` channel posts here.

    Each POST is kept with its arrival time; the notification has then been handed to
    the channel and sent by it, the whole path a real alarm takes up to the network.
    """

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: PLC0415

        self.posts: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8", "replace")
                with endpoint.lock:
                    endpoint.posts.append((arrived, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def first_after(self, since: float, text: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [t for t, body in self.posts if t >= since and text in body]
            if found:
                return found[0]
            time.sleep(0.0005)
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alarm_configs(root: Path, port: int) -> dict[str, str]:
    """A door rule that alarms at once, and one notification channel posting to ``port``."""
    rules = root / "rules.yaml"
    rules.write_text("alerts:\n  defaults:\n    door_open_max_s: {door: 0}\n", encoding="utf-8")
    notify = root / "notify.yaml"
    notify.write_text(
        "group_window_s: 0\n"
        f"channels:\n  bench: {{type: apprise, urls: [\"json://127.0.0.1:{port}/\"]}}\n"
        "routes:\n" + "".join(f"  {route}: {{fallback: [bench]}}\n" for route in _ROUTES), encoding="utf-8")
    return {"XIAOAN_CONFIG": str(rules), "XIAOAN_NOTIFY_CONFIG": str(notify)}


def run_latency(binary: Path, root: Path, background_rate: float, probes: int, probe_interval_s: float = 0.1,
                warmup_s: float = 1.0) -> LatencyRun:
    """A door-open event → the notification at the channel, under background load.

    The hub's config gives doors a zero open-time limit, so the event alarms at once;
    the notification goes through the hub's dispatcher to an Apprise ``json://``
    channel posting to ``ChannelEndpoint``. The background is telemetry from two
    devices at ``background_rate`` messages/s in total. A bare paho subscriber on the
    probe's topic gives the broker's own delivery latency under the same load (the ceiling).
    """
    devices = 2
    names = [device_name(i) for i in range(devices)]
    duration = warmup_s + probes * (probe_interval_s + 0.05) + 10
    per_device = max(10, int(background_rate / devices * duration))
    run = LatencyRun(probes=probes)
    endpoint = ChannelEndpoint()
    try:
        with BrokerEnv(root, devices) as env:
            load = CLoad(binary, env, root)
            files = {d: load.write(d, telemetry_payloads(d, per_device, 1)) for d in names}
            worker = HubWorker(env, root / "hub", "bench-hub", extra_env=alarm_configs(root, endpoint.port))
            with workers(worker.start()):
                env.announce(names, sensor_infos(1))
                env.announce([PROBE_DEVICE], sensor_infos(10, "p"))
                if worker.wait_for(lambda c: c["received"] >= devices + 1, 15) is None:
                    raise BenchError("the hub did not receive the devices' status messages")
                _probe_doors(env, load, files, worker, endpoint, run, background_rate, probes, probe_interval_s,
                             warmup_s)
    finally:
        endpoint.close()
    return run


def _probe_doors(env: BrokerEnv, load: CLoad, files: dict[str, Path], worker: HubWorker, endpoint: ChannelEndpoint,
                 run: LatencyRun, background_rate: float, probes: int, probe_interval_s: float,
                 warmup_s: float) -> None:
    arrivals: dict[int, float] = {}

    def on_probe(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        arrivals[int(json.loads(message.payload)["seq"])] = time.time()

    probe_topic = wire.topic(SITE, PROBE_DEVICE, wire.Channel.EVENT)
    observer = env.client(HUB_USER, "bench-observer")
    observer.on_message = on_probe
    observer.subscribe(probe_topic, qos=1)
    probe = env.client(PROBE_DEVICE, "bench-probe")
    load.start(files, rate_per_device=background_rate / len(files))
    time.sleep(warmup_s)
    published: dict[int, float] = {}
    try:
        for i in range(probes):
            slot = time.monotonic() + probe_interval_s
            sensor = f"p{i % 10}"
            subject = f"{PROBE_DEVICE}/{sensor}"
            for seq, state in ((2 * i, "open"), (2 * i + 1, "closed")):
                with worker.lock:
                    mark = len(worker.alerts)
                event = wire.Event(device=PROBE_DEVICE, boot_id="probe", seq=seq, ts=time.time(), sensor=sensor,
                                   kind="door", state=state)
                t_pub = time.time()
                probe.publish(probe_topic, wire.encode(event), qos=1)
                published[seq] = t_pub
                alarm = "firing" if state == "open" else "resolved"
                fired = _wait_alert(worker, mark, subject, alarm, 5.0)
                if state != "open":
                    continue
                sent = endpoint.first_after(t_pub, subject, 5.0)
                if fired is None or sent is None:
                    run.missed += 1
                    continue
                run.engine_ms.append((fired - t_pub) * 1000)
                run.hub_ms.append((sent - t_pub) * 1000)
            time.sleep(max(0.0, slot - time.monotonic()))
    finally:
        load.kill()
        for client in (probe, observer):
            close_client(client)
    run.broker_ms = [(arrivals[s] - t) * 1000 for s, t in published.items() if s in arrivals and s % 2 == 0]


def _wait_alert(worker: HubWorker, mark: int, subject: str, state: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with worker.lock:
            found = [a for a in worker.alerts[mark:] if a["alert"] == subject and a["state"] == state]
        if found:
            return float(found[0]["t"])
        time.sleep(0.0005)
    return None


def _poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for ``condition``; a timeout is an error, never a figure computed from half the data."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise BenchError(f"timed out after {timeout:.0f} s waiting until {what}")


# -- queries --------------------------------------------------------------------------------------


@dataclass
class QueryRun:
    rows: int
    sparkline_ms: list[float]
    sparkline_points: int
    week_single_s: float
    week_per_sensor_s: float
    week_two_threads_s: float
    week_groups: int


def week_db(sensors: int, days: float, step_s: float, log: Callable[[str], None]) -> Path:
    """A readings DB in the hub's own schema, generated once and cached (12M rows ≈ 1 minute)."""
    path = cache_dir() / f"readings-{sensors}x{days:g}d-{step_s:g}s.sqlite3"
    done = path.with_suffix(".done")
    if path.exists() and done.exists():
        return path
    cache_dir().mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"), done):
        stale.unlink(missing_ok=True)
    SqliteSeriesStore(path).close()  # the hub's schema, exactly
    points = int(days * 86400 / step_s)
    log(f"generating {sensors * points:,} readings into {path} (cached for later runs)…")
    started = time.monotonic()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        base_ms = round(BASE_TS * 1000)
        step_ms = round(step_s * 1000)
        for s in range(sensors):
            key = f"{device_name(s // 10)}/t{s % 10}"
            conn.executemany(
                "INSERT INTO readings (sensor, ts_ms, value, fault, synced) VALUES (?, ?, ?, NULL, 1)",
                ((key, base_ms + i * step_ms, 2.0 + ((i * 7 + s * 13) % 60) / 10) for i in range(points)))
        conn.execute("COMMIT")
    done.write_text(f"{sensors * points}\n")
    log(f"generated in {time.monotonic() - started:.0f}s")
    return path


_WEEK_SQL = ("SELECT sensor, ts_ms / 3600000 AS hour, min(value), max(value), avg(value), count(*)"
             " FROM readings WHERE ts_ms >= ? AND ts_ms < ? GROUP BY sensor, hour")


def _hourly(db: Path, sensors: list[str], since: float, until: float) -> int:
    """The weekly report's read: the hub store's own ``hourly`` per sensor."""
    store = SqliteSeriesStore(db)
    try:
        return sum(len(store.hourly(sensor, since, until)) for sensor in sensors)
    finally:
        store.close()


def run_queries(db: Path, sensors: int, days: float, sparklines: int = 20) -> QueryRun:
    keys = [f"{device_name(s // 10)}/t{s % 10}" for s in range(sensors)]
    end = BASE_TS + days * 86400
    rows = _count(db, "SELECT count(*) FROM readings")
    store = SqliteSeriesStore(db)
    try:
        store.readings(keys[0], end - 86400, end)  # first touch: open, schema, cache
        spark_ms = []
        points = 0
        for i in range(sparklines):
            started = time.perf_counter()
            points = len(store.readings(keys[(i * 37) % sensors], end - 86400, end))
            spark_ms.append((time.perf_counter() - started) * 1000)
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        started = time.perf_counter()
        conn.execute(_WEEK_SQL, (round(BASE_TS * 1000), round(end * 1000))).fetchall()
        single = time.perf_counter() - started
    started = time.perf_counter()
    groups = _hourly(db, keys, BASE_TS, end)
    per_sensor = time.perf_counter() - started
    # sqlite3 releases the GIL while it steps, so two connections scan on two cores.
    started = time.perf_counter()
    threads = [threading.Thread(target=_hourly, args=(db, keys[k::2], BASE_TS, end)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    two = time.perf_counter() - started
    return QueryRun(rows, spark_ms, points, single, per_sensor, two, groups)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
