"""Edge fixtures: serial null modems over pseudo-terminals, 1-wire sysfs trees, gpiozero mock pins."""

from __future__ import annotations

import json
import os
import select
import sqlite3
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubSettings


class NullModem:
    """Two serial ports wired to each other, like two USB adapters with crossed TX/RX.

    Each end is the slave side of its own pty; a thread copies bytes between the two
    masters. ``corrupt`` may rewrite bytes travelling from ``a`` to ``b`` (noise on the bus).
    """

    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        self.paths: list[str] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing: a serial line, not a terminal
            self._masters.append(master)
            self._slaves.append(slave)
            self.paths.append(os.ttyname(slave))
        self.corrupt: Callable[[bytes], bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    @property
    def a(self) -> str:
        return self.paths[0]

    @property
    def b(self) -> str:
        return self.paths[1]

    def _relay(self) -> None:
        first, second = self._masters
        while not self._stop.is_set():
            ready, _, _ = select.select([first, second], [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == first and self.corrupt is not None:
                    data = self.corrupt(data)
                os.write(second if fd == first else first, data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in self._masters + self._slaves:
            os.close(fd)


class PtyPort:
    """One pty: the code under test opens ``path``; the test writes what the device would send."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def null_modem() -> Iterator[NullModem]:
    modem = NullModem()
    yield modem
    modem.close()


@pytest.fixture
def pty_port() -> Iterator[PtyPort]:
    port = PtyPort()
    yield port
    port.close()


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """A gpiozero mock pin factory, passed explicitly (no global default is changed)."""
    factory = MockFactory()
    yield factory
    factory.close()
    Device.pin_factory = None


W1_OK = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t={milli}\n"


def write_probe(base: Path, probe_id: str, text: str) -> None:
    """Write a probe's ``w1_slave`` as the w1_therm driver would."""
    (base / probe_id).mkdir(parents=True, exist_ok=True)
    (base / probe_id / "w1_slave").write_text(text, encoding="ascii")


# -- a broker of the test's own (it gets stopped and restarted), a hub and an observer on it ---------


@pytest.fixture
def own_broker(tmp_path: Path, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "own-broker", list(accounts.values()))
    broker.write_files()
    yield broker
    broker.stop()


def start_hub(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account]) -> Hub:
    """A hub with a persistent session on ``broker`` (which must be running)."""
    settings = HubSettings(home=tmp_path / "hub-home", mqtt_host=broker.host, mqtt_port=broker.port,
                           mqtt_username="hub", mqtt_password=accounts["hub"].password,
                           mqtt_client_id=f"hub-{tmp_path.name}", tick_s=0.2, hub_heartbeat_s=1.0)
    hub = Hub(settings, connect_mqtt=True)
    hub.start()
    assert hub.mqtt is not None and hub.mqtt.connected.wait(10), "hub did not connect"
    return hub


def hub_seen(hub: Hub) -> dict[str, set[int]]:
    """What the hub stored, as boot_id → seqs, read from its own database."""
    db = sqlite3.connect(hub.settings.db_dir / "hub.sqlite3")
    try:
        found: dict[str, set[int]] = {}
        for boot_id, seq in db.execute("SELECT boot_id, seq FROM seen"):
            found.setdefault(boot_id, set()).add(seq)
        return found
    finally:
        db.close()


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
        self.client.connect(broker.host, broker.port)
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
        self.client.disconnect()
        self.client.loop_stop()
