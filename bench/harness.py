"""The moving parts of a benchmark run: broker, device accounts, payloads, C load, hub workers.

Every scenario gets a fresh private Mosquitto (hub.broker.MosquittoBroker: the same
configuration the hub ships with) so queued sessions of one scenario cannot slow the
next. Load comes from ``mqttload`` (bench/mqttload.c, compiled here against
libmosquitto): cheap enough that the hub, not the load generator, is what is measured.
The payloads it sends are built with the wire contract's own models and encoder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge import wire
from edge.config import BrokerSettings
from edge.link import close_client, make_client
from hub.broker import Account, MosquittoBroker

SITE = "bench"
HUB_USER = "hub"
PROBE_DEVICE = "probe"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


def cache_dir() -> Path:
    """Where the compiled load generator and the generated query data live between runs."""
    return Path(os.environ.get("XIAOAN_BENCH_CACHE", REPO / "var" / "bench-cache"))
#: A base timestamp for generated query data (2024-01-01T00:00:00Z): fixed, so the cached DB is reusable.
BASE_TS = 1_704_067_200.0


def recent_base() -> float:
    """A base timestamp for ingested readings: two days ago, well inside the hub's raw retention."""
    return float(int(time.time()) - 2 * 86400)


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or misbehaved; the message says what."""


def compile_mqttload() -> Path:
    """Build bench/mqttload.c (once per source change) into the cache directory."""
    source = BENCH_DIR / "mqttload.c"
    binary = cache_dir() / "mqttload"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BenchError("no C compiler (cc): install Debian's build-essential")
    if not Path("/usr/include/mosquitto.h").exists():
        raise BenchError("libmosquitto headers missing: run `make deps` (installs Debian's libmosquitto-dev)")
    cache_dir().mkdir(parents=True, exist_ok=True)
    result = subprocess.run([compiler, "-O2", "-o", str(binary), str(source), "-lmosquitto"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"compiling mqttload.c failed:\n{result.stderr}")
    return binary


def device_name(index: int) -> str:
    return f"d{index:02d}"


def sensor_infos(count: int, prefix: str = "t") -> tuple[wire.SensorInfo, ...]:
    return tuple(wire.SensorInfo(sensor=f"{prefix}{i}", kind="temperature", unit="°C", profile="fridge")
                 for i in range(count))


def telemetry_payloads(device: str, count: int, per_message: int, boot_id: str = "bench",
                       start_seq: int = 0, base_ts: float | None = None, step_s: float = 0.01) -> list[bytes]:
    """``count`` telemetry messages of ``per_message`` in-range fridge readings, unique (sensor, ts).

    ``step_s`` apart (at least a millisecond: the store keys readings by the millisecond).
    """
    base_ts = recent_base() if base_ts is None else base_ts
    payloads = []
    for n in range(count):
        seq = start_seq + n
        ts = base_ts + seq * step_s
        readings = tuple(wire.Reading(sensor=f"t{j}", kind="temperature", value=2.0 + (seq + j) % 50 / 10,
                                      unit="°C", ts=ts) for j in range(per_message))
        payloads.append(wire.encode(wire.Telemetry(device=device, boot_id=boot_id, seq=seq, readings=readings)))
    return payloads


def status_payload(sensors: tuple[wire.SensorInfo, ...]) -> bytes:
    return wire.encode(wire.Status(state="online", boot_id="bench", version="bench", ts=time.time(),
                                   sensors=sensors))


@dataclass
class BrokerEnv:
    """A fresh broker with a hub account and ``devices`` device accounts (plus the probe)."""

    root: Path
    devices: int
    broker: MosquittoBroker = field(init=False)
    accounts: dict[str, Account] = field(init=False)

    def __post_init__(self) -> None:
        names = [device_name(i) for i in range(self.devices)] + [PROBE_DEVICE]
        found = [Account.generate(HUB_USER, role="hub")] + [Account.generate(n, site=SITE) for n in names]
        self.accounts = {a.username: a for a in found}
        self.broker = MosquittoBroker(self.root / "broker", found)

    def __enter__(self) -> BrokerEnv:
        self.broker.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.broker.stop()

    def settings(self, user: str) -> BrokerSettings:
        account = self.accounts[user]
        return BrokerSettings(host=self.broker.host, port=self.broker.port_for(user), username=user,
                              password=account.password)

    def client(self, user: str, client_id: str) -> mqtt.Client:
        """A connected paho client (loop running) for ``user``."""
        client = make_client(client_id, self.settings(user), self.accounts[user].password)
        connected = threading.Event()
        client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
        client.connect(self.broker.host, self.broker.port_for(user))
        client.loop_start()
        if not connected.wait(10):
            raise BenchError(f"{user} could not connect to the benchmark broker")
        return client

    def announce(self, devices: list[str], sensors: tuple[wire.SensorInfo, ...]) -> None:
        """Publish each device's retained online status, announcing its fridge-profile sensors."""
        for device in devices:
            client = self.client(device, f"announce-{device}")
            info = client.publish(wire.topic(SITE, device, wire.Channel.STATUS), status_payload(sensors),
                                  qos=1, retain=True)
            info.wait_for_publish(10)
            close_client(client)

    def hub_env(self, home: Path, client_id: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "XIAOAN_HOME": str(home), "XIAOAN_MQTT_HOST": self.broker.host,
            "XIAOAN_MQTT_PORT": str(self.broker.hub_port), "XIAOAN_MQTT_USERNAME": HUB_USER,
            "XIAOAN_MQTT_PASSWORD": self.accounts[HUB_USER].password, "XIAOAN_MQTT_CLIENT_ID": client_id,
            "XIAOAN_SITE": "+",
        })
        env.update(extra or {})
        return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


class HubWorker:
    """``python -m bench.hub_worker`` in a subprocess, with its JSON-lines reports collected."""

    def __init__(self, env: BrokerEnv | None, home: Path, client_id: str,
                 extra_env: dict[str, str] | None = None) -> None:
        """``env`` None: ``extra_env`` is the whole environment (a test's own broker and settings)."""
        self.home = home
        self.client_id = client_id
        self._env = env.hub_env(home, client_id, extra_env) if env is not None else dict(extra_env or {})
        self.counters: dict[str, Any] = {}
        self.counters_at = 0.0
        self.alerts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> HubWorker:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.hub_worker"], cwd=REPO, env=self._env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise BenchError(f"hub worker {self.client_id} did not become ready within {timeout}s")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                with self.lock:
                    if "c" in item:
                        self.counters, self.counters_at = item["c"], item["t"]
                    elif "alert" in item:
                        self.alerts.append(item)
                if item.get("ready"):
                    self._ready.set()

    def snapshot(self) -> tuple[dict[str, Any], float]:
        with self.lock:
            return dict(self.counters), self.counters_at

    def wait_for(self, condition: Callable[[dict[str, Any]], bool], timeout: float) -> float | None:
        """The worker's own time of the first report meeting ``condition``, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counters, at = self.snapshot()
            if counters and condition(counters):
                return at
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(f"hub worker {self.client_id} exited with {self.process.returncode}")
            time.sleep(0.01)
        return None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._reader is not None:
            self._reader.join(5)
        self.process = None

    @property
    def readings_db(self) -> Path:
        return self.home / "hub" / "readings.sqlite3"

    @property
    def state_db(self) -> Path:
        return self.home / "hub" / "hub.sqlite3"


@dataclass
class LoadResult:
    sent: int
    acked: int
    t0: float
    t1: float


class CLoad:
    """C publishers, one process per device, each sending one payload file at QoS 1."""

    def __init__(self, binary: Path, env: BrokerEnv, work: Path) -> None:
        self.binary = binary
        self.env = env
        self.work = work
        self.processes: list[subprocess.Popen[str]] = []

    def write(self, device: str, payloads: list[bytes], name: str = "") -> Path:
        path = self.work / f"load-{device}{name}.jsonl"
        path.write_bytes(b"\n".join(payloads) + b"\n")
        return path

    def start(self, files: dict[str, Path], rate_per_device: float = 0.0, inflight: int = 200,
              lane: wire.Lane = wire.Lane.LIVE) -> None:
        broker = self.env.broker
        for device, path in files.items():
            account = self.env.accounts[device]
            self.processes.append(subprocess.Popen(
                [str(self.binary), "pub", broker.host, str(broker.port), device, account.password,
                 f"load-{device}-{time.monotonic_ns()}", wire.topic(SITE, device, wire.Channel.TELEMETRY, lane),
                 str(path), str(rate_per_device), str(inflight)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    def wait(self, timeout: float = 600.0) -> list[LoadResult]:
        results = []
        for process in self.processes:
            out, err = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raise BenchError(f"mqttload pub failed ({process.returncode}): {err.strip()}")
            data = json.loads(out.strip().splitlines()[-1])
            results.append(LoadResult(data["sent"], data["acked"], data["t0"], data["t1"]))
        self.processes = []
        return results

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.processes = []


def start_subscriber(command: list[str]) -> subprocess.Popen[str]:
    """Start a ceiling subscriber and wait for its ``ready`` line."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        _, err = process.communicate()
        raise BenchError(f"subscriber {command[0]} did not subscribe: {line.strip()} {err.strip()}")
    return process


def finish_subscriber(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    if not lines:
        raise BenchError(f"subscriber gave no result: {err.strip()}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@contextlib.contextmanager
def workers(*items: HubWorker) -> Iterator[tuple[HubWorker, ...]]:
    try:
        yield items
    finally:
        for worker in items:
            worker.stop()


@contextlib.contextmanager
def card(directory: Path, size_mb: int = 512) -> Iterator[tuple[Path, Callable[[], int], str]]:
    """A file system standing in for the SD card: (mount point, bytes written so far, how it is counted).

    An ext4 image on a loop device when this process may mount one; else ``directory``
    itself, counted by the agent's own ``write_bytes`` (the caller passes the pid).
    """
    image, mount = directory / "card.img", directory / "card"
    mount.mkdir()
    device = None
    if os.geteuid() == 0:
        with open(image, "wb") as handle:
            handle.truncate(size_mb * 1024 * 1024)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=False, capture_output=True)
        if made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(mount)],
                                                   check=False, capture_output=True).returncode == 0:
            listed = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mount)], check=False,
                                    capture_output=True, text=True)
            device = Path(listed.stdout.strip()).name
    try:
        if device:
            stat = Path(f"/sys/block/{device}/stat")
            yield mount, lambda: int(stat.read_text().split()[6]) * 512, f"sectors written to {device} (ext4)"
        else:
            yield mount, lambda: 0, "process write_bytes"
    finally:
        if device:
            subprocess.run(["umount", str(mount)], check=False, capture_output=True)
        image.unlink(missing_ok=True)
