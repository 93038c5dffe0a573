"""Devices from the admin page where the devices' door is TLS: the install command brings the school CA, the
config connects over TLS, and the real broker lets the device in (certificates from scripts/make-ca.sh)."""

from __future__ import annotations

import re
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from fastapi.testclient import TestClient

from edge.configfile import load_edge_settings
from edge.link import close_client, make_client
from hub.app import create_app
from hub.auth.roles import Role
from hub.broker import DYNSEC_ADMIN, Account, MosquittoBroker, TlsListener, find_dynsec_plugin, free_port
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize

MAKE_CA = Path(__file__).resolve().parents[2] / "scripts" / "make-ca.sh"

pytestmark = [pytest.mark.broker,
              pytest.mark.skipif(find_dynsec_plugin() is None, reason="mosquitto's dynamic security plugin")]


@pytest.fixture(scope="module")
def school_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("school-ca")
    subprocess.run(["bash", str(MAKE_CA), str(directory), "127.0.0.1"], check=True, capture_output=True)
    return directory


@pytest.fixture
def served(tmp_path: Path, school_ca: Path) -> Iterator[tuple[Hub, MosquittoBroker, TlsListener]]:
    hub_account, admin = Account.generate("hub", role="hub"), Account.generate(DYNSEC_ADMIN)
    tls = TlsListener(free_port(), school_ca / "ca.crt", school_ca / "server.crt", school_ca / "server.key")
    with MosquittoBroker(tmp_path / "broker", [hub_account], admin=admin, tls=tls) as broker:
        settings = HubSettings(home=tmp_path / "home", mqtt_host=broker.host, mqtt_port=broker.hub_port,
                               mqtt_password=hub_account.password, mqtt_device_port=broker.port,
                               mqtt_admin_password=admin.password, device_broker_host="127.0.0.1",
                               device_broker_port=tls.port, device_tls_ca_file=school_ca / "ca.crt",
                               rules=HubConfig())
        hub = Hub(settings, connect_mqtt=False)
        try:
            yield hub, broker, tls
        finally:
            hub.stop()


def _connects(config: Path) -> str:
    """The edge's own client, from the edge's own config loader: "ok", or why not."""
    settings = load_edge_settings(config)
    broker = settings.broker
    assert broker.password is not None
    answered = threading.Event()
    codes: list[str] = []
    client = make_client(f"tls-{settings.device}", broker, broker.password)

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        codes.append(str(reason))
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=10)
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"
    client.loop_start()
    try:
        return codes[0] if answered.wait(10) and codes[0] == "Success" else f"refused: {codes or 'no CONNACK'}"
    finally:
        close_client(client)


def test_a_device_added_on_the_page_connects_over_tls_with_what_its_install_command_fetches(
        served: tuple[Hub, MosquittoBroker, TlsListener], school_ca: Path, tmp_path: Path) -> None:
    hub, _broker, tls = served
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        authorize(client, hub, Role.ADMIN)
        added = client.post("/api/devices/enrolled", json={"name": "freezer-pi", "site": "tls-site",
                                                           "role": "cold_chain"})
        assert added.status_code == 201, added.text
        command = added.json()["install_command"]
        urls = re.findall(r"curl -fsS (\S+) \| sudo install -D -m 640 -o root -g xiaoan /dev/stdin (\S+)", command)
        assert [target for _url, target in urls] == ["/etc/xiaoan/ca.crt", "/etc/xiaoan/edge.yaml"], command
        client.headers.pop("Authorization")  # the Pi fetches both without an account on the hub
        ca = client.get(urls[0][0].replace("http://testserver", ""))
        assert ca.status_code == 200 and ca.text == (school_ca / "ca.crt").read_text(encoding="ascii")
        assert "PRIVATE KEY" not in ca.text
        fetched = client.get(urls[1][0].replace("http://testserver", ""))
        assert fetched.status_code == 200, fetched.text
    config = yaml.safe_load(fetched.text)
    assert config["broker"]["port"] == tls.port
    assert config["broker"]["tls"] == {"ca_file": "/etc/xiaoan/ca.crt"}
    # Where the install command put them, here under a scratch directory (no root in a test).
    (tmp_path / "ca.crt").write_text(ca.text, encoding="ascii")
    config["broker"]["tls"]["ca_file"] = str(tmp_path / "ca.crt")
    edge_yaml = tmp_path / "edge.yaml"
    edge_yaml.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert _connects(edge_yaml) == "Success"
    # Without the school CA the same config does not get in: the broker's certificate is not trusted.
    other = tmp_path / "other-ca"
    subprocess.run(["bash", str(MAKE_CA), str(other), "127.0.0.1"], check=True, capture_output=True)
    config["broker"]["tls"]["ca_file"] = str(other / "ca.crt")
    edge_yaml.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert _connects(edge_yaml).startswith("refused")


def test_the_ca_endpoint_never_serves_a_key_and_is_absent_without_tls(tmp_path: Path, school_ca: Path) -> None:
    for ca_file, status in ((school_ca / "ca.key", 503), (None, 404)):
        hub = Hub(HubSettings(home=tmp_path / str(status), device_tls_ca_file=ca_file, rules=HubConfig()),
                  connect_mqtt=False)
        try:
            with TestClient(create_app(hub.settings, hub=hub)) as client:
                answer = client.get("/api/devices/ca.crt")
            assert answer.status_code == status, answer.text
            assert "PRIVATE KEY" not in answer.text
            assert answer.json()["detail"]["field"] == "device_tls_ca_file"
        finally:
            hub.stop()
