"""Real processes for the fault tests: edge agents and hubs as `xiaoan` subprocesses, a hub in process,
a recording observer, and the figures every fault test writes to ``test-artifacts/faults.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.link import close_client
from hub.broker import Account, MosquittoBroker, free_port
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.sqlite_series import SqliteSeriesStore
from tests.conftest import SITE, wait_for
from tests.faults.oracle import EdgeLedger, Report, account, read_edge, read_hub

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
#: The node's one probe: every telemetry message carries exactly one reading of it, which lets the oracle
#: count reading rows against messages. (Probes sharing an interval are not always read in the same tick.)
SENSORS = ("fridge-1",)


def node_config(state_dir: Path, broker: MosquittoBroker, account: Account, interval_s: float = 0.05,
                **extra: Any) -> dict[str, Any]:
    """A simulated canteen node: a fridge probe, and a door that opens and closes (events)."""
    return {
        "site": SITE, "device": account.username,
        "broker": {"host": broker.host, "port": broker.port, "username": account.username,
                   "password": account.password},
        "state_dir": str(state_dir), "clock_sync_check": "assume", "heartbeat_s": 1,
        # The hub's heartbeat comes every second here (hub_settings): a row the hub has not confirmed
        # 2 s after sending, with the hub heard since, is sent again.
        "outbox": {"window": 50, "confirm_timeout_s": 2},
        "sources": [
            *({"kind": "simulated_temperature", "sensor": s, "interval_s": interval_s, "noise": 0.5}
              for s in SENSORS),
            {"kind": "simulated_door", "sensor": "back-door", "interval_s": interval_s, "repeat_every_s": 0.6,
             "schedule": [{"at_s": 0.1, "state": "open"}, {"at_s": 0.4, "state": "closed"}]},
        ],
        **extra,
    }


def stop_process(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float = 30) -> None:
    if process.poll() is None:
        os.kill(process.pid, sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ChildProcess:
    """A child process a fault test kills (SIGKILL: a crash, a power cut) or stops (SIGTERM)."""

    process: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGKILL)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM)
            self.process = None


class EdgeProcess(ChildProcess):
    """``xiaoan edge --config`` as a child process: started, SIGKILLed (a power cut) or stopped."""

    def __init__(self, directory: Path, broker: MosquittoBroker, account: Account, *,
                 wrap: Callable[[list[str]], list[str]] | None = None, state_dir: Path | None = None,
                 **extra: Any) -> None:
        self.device = account.username
        self.state_dir = state_dir or directory / f"edge-{self.device}"
        #: Runs the agent in another context (a small disk's mount namespace: tests/faults/small_disk.py).
        self.wrap = wrap
        self.config = directory / f"{self.device}.yaml"
        self.config.write_text(yaml.safe_dump(node_config(self.state_dir, broker, account, **extra),
                                              allow_unicode=True), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox.sqlite3"

    def start(self) -> None:
        argv = [sys.executable, "-m", "hub.cli", "edge", "--config", str(self.config)]
        self.process = subprocess.Popen(self.wrap(argv) if self.wrap else argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def ledger(self) -> EdgeLedger:
        return read_edge(self.device, self.outbox)

    def integrity(self) -> str:
        db = sqlite3.connect(self.outbox)
        try:
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            db.close()


def hub_settings(home: Path, broker: MosquittoBroker, accounts: dict[str, Account], client_id: str,
                 **extra: Any) -> HubSettings:
    return HubSettings(home=home, mqtt_host=broker.host, mqtt_port=broker.hub_port, mqtt_username="hub",
                       mqtt_password=accounts["hub"].password, mqtt_client_id=client_id, tick_s=0.2,
                       hub_heartbeat_s=1.0, **extra)


def start_hub(settings: HubSettings) -> Hub:
    """A hub in this process, with its persistent session on the broker (which must be running)."""
    hub = Hub(settings, connect_mqtt=True)
    hub.start()
    assert hub.mqtt is not None and hub.mqtt.connected.wait(15), "hub did not subscribe"
    return hub


class HubProcess(ChildProcess):
    """``xiaoan hub`` as a child process, configured through its XIAOAN_* environment like an installed hub."""

    def __init__(self, settings: HubSettings, wrap: Callable[[list[str]], list[str]] | None = None,
                 **env: str) -> None:
        self.settings = settings
        #: Runs the hub in another context (a small disk's mount namespace: tests/faults/small_disk.py).
        self.wrap = wrap
        self.http_port = free_port()
        self.env = {**os.environ, "XIAOAN_HOME": str(settings.home), "XIAOAN_HTTP_PORT": str(self.http_port),
                    "XIAOAN_MQTT_HOST": settings.mqtt_host, "XIAOAN_MQTT_PORT": str(settings.mqtt_port),
                    "XIAOAN_MQTT_USERNAME": settings.mqtt_username, "XIAOAN_MQTT_PASSWORD": settings.password(),
                    "XIAOAN_MQTT_CLIENT_ID": settings.mqtt_client_id, "XIAOAN_TICK_S": str(settings.tick_s),
                    "XIAOAN_HUB_HEARTBEAT_S": str(settings.hub_heartbeat_s), **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start and wait until the hub reports its broker subscription (SUBACK) on /api/health."""
        argv = [sys.executable, "-m", "hub.cli", "hub"]
        self.process = subprocess.Popen(self.wrap(argv) if self.wrap else argv, cwd=ROOT, env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._subscribed, timeout=timeout)

    def _subscribed(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "the hub process exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/health", timeout=2) as response:
                return bool(json.load(response).get("mqtt_connected"))
        except OSError:
            return False

    def health(self) -> tuple[int, dict[str, Any]]:
        """``/api/health``: the status code and the report (503 is an answer here, not an error)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/api/health", timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def stored(self) -> int:
        """Messages stored so far, read from the hub's own database while it runs."""
        path = self.settings.db_dir / "hub.sqlite3"
        if not path.exists():
            return 0
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(db.execute("SELECT count(*) FROM seen").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
        finally:
            db.close()


def hub_stored(hub: Hub) -> int:
    db = sqlite3.connect(f"file:{hub.settings.db_dir / 'hub.sqlite3'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT count(*) FROM seen").fetchone()[0])
    finally:
        db.close()


def report(edges: list[EdgeLedger], hub: Hub | HubSettings, sensors: tuple[str, ...] = SENSORS) -> Report:
    """Run the oracle against a live hub, or against the files of a hub that ran as a process."""
    keys = [f"{edge.device}/{sensor}" for edge in edges for sensor in sensors]
    if isinstance(hub, Hub):
        return account(edges, read_hub(hub.settings.db_dir / "hub.sqlite3", hub.series, keys), sensors)
    series = SqliteSeriesStore(hub.db_dir / "readings.sqlite3")
    try:
        return account(edges, read_hub(hub.db_dir / "hub.sqlite3", series, keys), sensors)
    finally:
        series.close()


def settle(current: Callable[[], Report], timeout: float = 60) -> None:
    """Give the hub time to commit what the broker still holds for it; the caller then asserts the report.

    Not meeting it in time is not an error here: ``Report.assert_clean`` says what is missing.
    """
    with contextlib.suppress(AssertionError):
        wait_for(lambda: current().clean, timeout=timeout, interval=0.5)


def quiesce(hub: Hub) -> None:
    """Stop a hub in this process taking messages, before the oracle's last look (its stores stay open).

    The hub writes a batch's readings before it commits their ids as seen: the write is
    idempotent, so a crash between the two only repeats it. A look taken while a batch is
    between the two finds readings whose ids are not seen yet, and counts them as stored
    twice. ``settle`` can end on a clean look while the hub is still storing what the
    broker redelivers, so the last look is taken with the writer stopped.
    """
    assert hub.mqtt is not None, "quiesce is for a hub with its broker sessions"
    hub.mqtt.stop()
    assert not hub.mqtt.writing, "the hub's writer did not stop: the oracle would read a batch half-stored"


def final_report(current: Callable[[], Report], hub: Hub) -> Report:
    """``settle``, then the oracle's last look with the hub in this process no longer taking messages."""
    settle(current)
    quiesce(hub)
    return current()


def record_figures(test: str, figures: dict[str, Any], file: str = "faults.json") -> None:
    """Merge one test's figures into test-artifacts/{file} (docs/reliability.md and docs/security.md quote them)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / file
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data[test] = {**figures, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    print(f"\n{test}: {json.dumps({k: v for k, v in figures.items() if k != 'devices'}, ensure_ascii=False)}")


class Observer:
    """A second persistent subscriber recording the order messages arrive in (and their payloads)."""

    def __init__(self, broker: MosquittoBroker, password: str, client_id: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set("hub", password)
        self.client.on_connect = self._connected
        self.client.on_subscribe = self._subscribed
        self.client.on_message = self._message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(broker.host, broker.hub_port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _connected(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(wire.subscription(wire.Channel.TELEMETRY), 1), (wire.subscription(wire.Channel.EVENT), 1)])

    def _subscribed(self, *_: object) -> None:
        # Ready on SUBACK: a message published before the broker has the subscription reaches nobody.
        self.ready.set()

    def _message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(json.loads(message.payload))

    def arrivals(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        close_client(self.client)
