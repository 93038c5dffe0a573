"""The broker's TLS listener with certificates from scripts/make-ca.sh: trusted clients in, others out."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.clock import SystemClock
from edge.config import BrokerSettings, EdgeSettings, TlsSettings
from edge.link import close_client, make_client
from hub.broker import Account, MosquittoBroker, TlsListener, free_port
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import SITE, wait_for
from tests.security.attacks import AttackLog

pytestmark = pytest.mark.broker

_log = AttackLog("broker_tls_attacks")
attempted = _log.attempted


def teardown_module() -> None:
    _log.record()


MAKE_CA = Path(__file__).resolve().parents[2] / "scripts" / "make-ca.sh"


def make_ca(directory: Path, *devices: str) -> Path:
    subprocess.run(["bash", str(MAKE_CA), str(directory), "127.0.0.1", *devices], check=True, capture_output=True)
    return directory


@pytest.fixture(scope="module")
def school_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ca(tmp_path_factory.mktemp("school-ca"), "dev-a")


@pytest.fixture
def tls_broker(tmp_path: Path, school_ca: Path, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    listener = TlsListener(free_port(), school_ca / "ca.crt", school_ca / "server.crt", school_ca / "server.key",
                           hub_port=free_port())
    with MosquittoBroker(tmp_path / "tls-broker", list(accounts.values()), tls=listener) as broker:
        yield broker


def connect_result(broker: BrokerSettings, password: str) -> str:
    """Connect once; "ok", or why not."""
    client = make_client("tls-probe", broker, password)
    try:
        client.connect(broker.host, broker.port, keepalive=10)
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"
    codes: list[int] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    client.loop_start()
    try:
        wait_for(lambda: codes, timeout=5)
    except AssertionError:
        return "refused: no CONNACK"
    finally:
        close_client(client)
    return "ok" if codes[0] == 0 else f"refused: {codes[0]}"


def test_edge_publishes_over_tls_and_the_hub_stores_it(tmp_path: Path, tls_broker: MosquittoBroker, school_ca: Path,
                                                       accounts: dict[str, Account]) -> None:
    assert tls_broker.tls is not None and tls_broker.tls.hub_port is not None
    port = tls_broker.tls.port
    hub = Hub(HubSettings(home=tmp_path / "hub", mqtt_host="127.0.0.1", mqtt_port=tls_broker.tls.hub_port,
                          mqtt_password=accounts["hub"].password, mqtt_client_id="hub-tls", tick_s=0.2,
                          mqtt_tls_ca_file=school_ca / "ca.crt"))
    hub.start()
    settings = EdgeSettings.model_validate({
        "site": SITE, "device": "dev-a", "state_dir": str(tmp_path / "edge"), "clock_sync_check": "assume",
        "broker": {"host": "127.0.0.1", "port": port, "username": "dev-a", "password": accounts["dev-a"].password,
                   "tls": {"ca_file": str(school_ca / "ca.crt"), "cert_file": str(school_ca / "dev-a.crt"),
                           "key_file": str(school_ca / "dev-a.key")}},
        "sources": [{"kind": "simulated_temperature", "sensor": "tls-probe", "interval_s": 0.1}],
    })
    agent = Agent(settings, SystemClock("assume"))
    thread = threading.Thread(target=agent.run, daemon=True)
    try:
        assert hub.mqtt is not None and hub.mqtt.connected.wait(10), "the hub did not connect over TLS"
        thread.start()
        wait_for(lambda: len(hub.series.readings("dev-a/tls-probe", 0, 1e13)) >= 5, timeout=30)
    finally:
        agent.stop()
        thread.join(15)
        hub.stop()


def test_a_client_that_does_not_trust_the_school_ca_is_refused(tmp_path: Path, tls_broker: MosquittoBroker,
                                                               accounts: dict[str, Account]) -> None:
    assert tls_broker.tls is not None
    other_ca = make_ca(tmp_path / "other-ca")
    broker = BrokerSettings(host="127.0.0.1", port=tls_broker.tls.port, username="dev-a",
                            password=accounts["dev-a"].password, tls=TlsSettings(ca_file=other_ca / "ca.crt"))
    result = connect_result(broker, accounts["dev-a"].password)
    attempted("TLS client trusting another CA", result == "ok")
    assert result.startswith("refused") and "CERTIFICATE_VERIFY_FAILED" in result


def test_plain_mqtt_to_the_tls_port_fails(tls_broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    assert tls_broker.tls is not None
    broker = BrokerSettings(host="127.0.0.1", port=tls_broker.tls.port, username="dev-a",
                            password=accounts["dev-a"].password)
    result = connect_result(broker, accounts["dev-a"].password)
    attempted("plain MQTT to the TLS port", result == "ok")
    assert result != "ok"
