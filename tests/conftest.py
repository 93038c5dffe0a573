"""Shared fixtures: a real Mosquitto broker on a free loopback port, and hub/edge builders around it."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.config import BrokerSettings, EdgeSettings
from edge.link import close_client
from hub.broker import DYNSEC_ADMIN, Account, MosquittoBroker, find_dynsec_plugin
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings

if TYPE_CHECKING:
    from hub.pg.server import PostgresServer

SITE = "test-site"


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    found = [Account.generate("hub", role="hub")]
    found += [Account.generate(name, site=SITE) for name in ("dev-a", "dev-b", "dev-c", "dev-d")]
    return {a.username: a for a in found}


@pytest.fixture(scope="session")
def dynsec_admin() -> Account | None:
    """The dynamic security administrator (devices added from the admin page), where the plugin is installed."""
    return Account.generate(DYNSEC_ADMIN) if find_dynsec_plugin() is not None else None


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, accounts: dict[str, Account],
           dynsec_admin: Account | None) -> Iterator[MosquittoBroker]:
    """One broker for the session (tests use distinct client ids and devices)."""
    with MosquittoBroker(tmp_path_factory.mktemp("broker"), list(accounts.values()), admin=dynsec_admin) as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """Debian's postgresql-15 binaries, ``initdb`` into a temp dir, on a free loopback port (never the system one).

    Without fsync: the tests kill district workers and school hubs, never PostgreSQL itself.
    One cluster for the session, shared by the district tests and the hub's PostgreSQL store tests.
    """
    from hub.pg.server import PostgresServer  # noqa: PLC0415 — psycopg only where a test asks for PostgreSQL

    with PostgresServer(durable=False) as server:
        yield server


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_database(postgres: PostgresServer) -> str:
    """The DSN of a new empty database for this test."""
    return postgres.create_database(f"test_{next(_database_numbers)}")


def clear_retained(broker: MosquittoBroker, hub: Account) -> list[str]:
    """Delete every retained message under the topic root; return the topics cleared.

    Retained ``status`` messages outlive the test that published them: the next test's hub
    would receive them and see devices (online, offline) that test never started.
    """
    found: list[str] = []
    subscribed, synced = threading.Event(), threading.Event()
    marker = f"{wire.TOPIC_ROOT}/_tests/retained-sweep"

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == marker:
            synced.set()
        elif message.retain and message.payload:
            found.append(message.topic)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tests-retained-sweeper", protocol=mqtt.MQTTv311)
    client.username_pw_set(hub.username, hub.password)
    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(broker.host, broker.port_for(hub.username))
    client.loop_start()
    try:
        client.subscribe(f"{wire.TOPIC_ROOT}/#", qos=1)
        assert subscribed.wait(10), "retained sweep: no SUBACK"
        # The broker sends the retained messages while it handles SUBSCRIBE, so once a message
        # published after the SUBACK comes back, every retained one has arrived.
        client.publish(marker, b"sync", qos=1)
        assert synced.wait(10), "retained sweep: marker never came back"
        for topic in found:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        close_client(client)
    return found


@pytest.fixture(autouse=True)
def _keep_umask() -> Iterator[None]:
    """Commands run in-process (``main([...])``) set the umask to 077 as they should; give the next test its own."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(autouse=True)
def _no_retained_leftovers(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the session broker, clear what it left retained there."""
    if "broker" not in request.fixturenames:
        yield
        return
    broker: MosquittoBroker = request.getfixturevalue("broker")
    accounts: dict[str, Account] = request.getfixturevalue("accounts")
    yield
    if broker.process is not None and broker.process.poll() is None:
        clear_retained(broker, accounts["hub"])


def broker_settings(broker: MosquittoBroker, account: Account) -> BrokerSettings:
    return BrokerSettings(host=broker.host, port=broker.port_for(account.username), username=account.username,
                          password=account.password)


@pytest.fixture
def make_hub(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[Callable[..., Hub]]:
    """Build (and start) hubs with their state under tmp_path; stopped at teardown."""
    started: list[Hub] = []

    def build(rules: HubConfig | None = None, client_id: str | None = None, connect: bool = True,
              **extra: Any) -> Hub:
        settings = HubSettings(home=tmp_path / "hub-home", mqtt_host=broker.host, mqtt_port=broker.hub_port,
                               mqtt_username="hub", mqtt_password=accounts["hub"].password,
                               mqtt_client_id=client_id or f"hub-{tmp_path.name}", tick_s=0.2,
                               mqtt_device_port=broker.port,
                               mqtt_admin_password=broker.admin.password if broker.admin else None,
                               rules=rules or HubConfig(), **extra)
        hub = Hub(settings, connect_mqtt=connect)
        hub.start()
        started.append(hub)
        if connect:
            assert hub.mqtt is not None
            assert hub.mqtt.connected.wait(10), "hub did not connect to the broker"
        return hub

    yield build
    for hub in started:
        hub.stop()


def edge_settings(tmp_path: Path, broker: MosquittoBroker, account: Account, sources: list[dict[str, object]],
                  **extra: object) -> EdgeSettings:
    return EdgeSettings.model_validate({
        "site": SITE, "device": account.username,
        "broker": broker_settings(broker, account).model_dump(),
        "state_dir": str(tmp_path / f"edge-{account.username}"),
        "clock_sync_check": "assume", "heartbeat_s": 1, "sources": sources, **extra,
    })


def wait_for(condition: Callable[[], object], timeout: float = 15.0, interval: float = 0.05) -> None:
    """Poll until ``condition()`` is truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {getattr(condition, '__name__', condition)}")
