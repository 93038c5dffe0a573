"""Shared fixtures: a real Mosquitto broker on a free loopback port, and hub/edge builders around it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.config import BrokerSettings, EdgeSettings
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings

SITE = "test-site"


@pytest.fixture(scope="session")
def accounts() -> dict[str, Account]:
    found = [Account.generate("hub", role="hub")]
    found += [Account.generate(name, site=SITE) for name in ("dev-a", "dev-b", "dev-c", "dev-d")]
    return {a.username: a for a in found}


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    """One broker for the session (tests use distinct client ids and devices)."""
    with MosquittoBroker(tmp_path_factory.mktemp("broker"), list(accounts.values())) as running:
        yield running


def broker_settings(broker: MosquittoBroker, account: Account) -> BrokerSettings:
    return BrokerSettings(host=broker.host, port=broker.port, username=account.username, password=account.password)


@pytest.fixture
def make_hub(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[Callable[..., Hub]]:
    """Build (and start) hubs with their state under tmp_path; stopped at teardown."""
    started: list[Hub] = []

    def build(rules: HubConfig | None = None, client_id: str | None = None, connect: bool = True) -> Hub:
        settings = HubSettings(home=tmp_path / "hub-home", mqtt_host=broker.host, mqtt_port=broker.port,
                               mqtt_username="hub", mqtt_password=accounts["hub"].password,
                               mqtt_client_id=client_id or f"hub-{tmp_path.name}", tick_s=0.2,
                               rules=rules or HubConfig())
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
