"""Devices from the admin page against a real Mosquitto with the dynamic security plugin: add, fetch once, revoke."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.link import stop_loop
from hub.app import create_app
from hub.auth.roles import Role
from hub.broker import DYNSEC_ADMIN, Account, MosquittoBroker, find_dynsec_plugin
from hub.enrolment import TOKEN_TTL_S
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.hub.auth_helpers import authorize

SITE = "enrol-site"

pytestmark = pytest.mark.skipif(find_dynsec_plugin() is None, reason="mosquitto's dynamic security plugin")


@pytest.fixture(scope="module")
def hub_account() -> Account:
    return Account.generate("hub", role="hub")


@pytest.fixture(scope="module")
def admin_account() -> Account:
    return Account.generate(DYNSEC_ADMIN)


@pytest.fixture(scope="module")
def dyn_broker(tmp_path_factory: pytest.TempPathFactory, hub_account: Account,
               admin_account: Account) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path_factory.mktemp("broker"), [hub_account], admin=admin_account) as running:
        yield running


@pytest.fixture
def hub(tmp_path: Path, dyn_broker: MosquittoBroker, hub_account: Account, admin_account: Account) -> Iterator[Hub]:
    settings = HubSettings(home=tmp_path / "home", mqtt_host=dyn_broker.host, mqtt_port=dyn_broker.hub_port,
                           mqtt_username="hub", mqtt_password=hub_account.password,
                           mqtt_device_port=dyn_broker.port, mqtt_admin_password=admin_account.password,
                           mqtt_client_id=f"hub-{tmp_path.name}", rules=HubConfig())
    running = Hub(settings, connect_mqtt=False)
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        yield test_client


def _connect(broker: MosquittoBroker, username: str, password: str, port: int) -> tuple[mqtt.Client, str]:
    """A client logged in (or refused): the reason the broker gave."""
    done = threading.Event()
    reason: list[str] = []

    def on_connect(_c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        reason.append("ok" if not code.is_failure else str(code))
        done.set()

    def on_disconnect(_c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        reason.append(f"disconnected: {code}")
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{username}", protocol=mqtt.MQTTv311)
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect(broker.host, port)
    client.loop_start()
    assert done.wait(10), "no answer from the broker"
    return client, reason[0]


def _add(client: TestClient, name: str = "fridge-pi") -> dict[str, Any]:
    response = client.post("/api/devices/enrolled", json={"name": name, "site": SITE, "role": "cold_chain"})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_added_device_fetches_its_config_once_publishes_and_is_refused_once_revoked(
        client: TestClient, hub: Hub, dyn_broker: MosquittoBroker, hub_account: Account) -> None:
    admin = authorize(client, hub, Role.ADMIN)
    added = _add(client)
    token = added["url"].rsplit("/", 1)[1]
    assert added["install_command"].startswith("curl -fsS ")
    assert "/etc/xiaoan/edge.yaml" in added["install_command"]
    assert added["qr_data_url"].startswith("data:image/svg+xml;base64,")

    client.headers.pop("Authorization")  # the Pi has no account on the hub: the token is enough
    fetched = client.get(f"/api/devices/enrol/{token}")
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["cache-control"] == "no-store"
    config = yaml.safe_load(fetched.text)
    broker = config["broker"]
    assert (config["site"], config["device"], broker["username"]) == (SITE, "fridge-pi", "fridge-pi")
    assert broker["port"] == hub.settings.mqtt_device_port and broker["password"]
    assert config["sources"], "the role's example sources come along"
    password = broker["password"]
    assert client.get(f"/api/devices/enrol/{token}").status_code == 404  # once only

    # The password was never in a URL the hub gave out, nor in its database or its audit record.
    assert password not in added["url"] and password not in added["install_command"]
    for name in ("hub.sqlite3", "devices.sqlite3"):
        assert password.encode() not in (hub.settings.db_dir / name).read_bytes()

    # The broker took the account at once: the device logs in and publishes under its own topic.
    received = threading.Event()
    watcher, reason = _connect(dyn_broker, hub_account.username, hub_account.password, dyn_broker.hub_port)
    assert reason == "ok"
    own = wire.topic(SITE, "fridge-pi", wire.Channel.STATUS)
    other = wire.topic(SITE, "someone-else", wire.Channel.STATUS)
    seen: list[str] = []

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        seen.append(message.topic)
        if message.topic == own:
            received.set()

    watcher.on_message = on_message
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *_args: subscribed.set()
    watcher.subscribe(f"{wire.TOPIC_ROOT}/#", qos=1)
    assert subscribed.wait(10)
    device, reason = _connect(dyn_broker, "fridge-pi", password, dyn_broker.port)
    assert reason == "ok"
    device.publish(other, b"{}", qos=1).wait_for_publish(10)  # not its topic: the broker drops it
    device.publish(own, b"{}", qos=1).wait_for_publish(10)
    assert received.wait(10)
    assert other not in seen
    stop_loop(device)
    device.disconnect()

    client.headers.update({"Authorization": ""})
    authorize(client, hub, Role.ADMIN, username=f"{admin.username}-2")
    revoked = client.post("/api/devices/enrolled/fridge-pi/revoke")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused, reason = _connect(dyn_broker, "fridge-pi", password, dyn_broker.port)
    stop_loop(refused)
    assert reason != "ok"
    stop_loop(watcher)
    watcher.disconnect()

    actions = [(e.actor, e.action) for e in hub.state.audit_entries() if e.subject == "device/fridge-pi"]
    assert actions == [(admin.username, "device.added"), ("fridge-pi", "device.config_fetched"),
                       (f"{admin.username}-2", "device.revoked")]
    assert all(password not in e.detail for e in hub.state.audit_entries())


def test_an_expired_token_is_refused(client: TestClient, hub: Hub) -> None:
    authorize(client, hub, Role.ADMIN)
    token = _add(client, "late-pi")["url"].rsplit("/", 1)[1]
    issued_clock = hub.enrolment.clock
    hub.enrolment.clock = lambda: issued_clock() + TOKEN_TTL_S + 1
    assert client.get(f"/api/devices/enrol/{token}").status_code == 404


def test_replace_gives_a_new_link_and_the_old_one_stops(client: TestClient, hub: Hub) -> None:
    authorize(client, hub, Role.ADMIN)
    first = _add(client, "dead-pi")["url"]
    second = client.post("/api/devices/enrolled/dead-pi/replace")
    assert second.status_code == 200, second.text
    assert client.get(first.replace("http://testserver", "")).status_code == 404
    assert client.get(second.json()["url"].replace("http://testserver", "")).status_code == 200
    assert [d["state"] for d in client.get("/api/devices/enrolled").json()] == ["enrolled"]


@pytest.mark.parametrize("role", [Role.SAFETY_OFFICER, Role.CANTEEN_MANAGER, Role.GATEKEEPER])
def test_only_an_admin_adds_devices(client: TestClient, hub: Hub, role: Role) -> None:
    authorize(client, hub, role)
    response = client.post("/api/devices/enrolled", json={"name": "x-pi", "site": SITE, "role": "gate"})
    assert response.status_code == 403
    assert client.get("/api/devices/enrolled").status_code == 403


def test_names_follow_the_provisioning_rules(client: TestClient, hub: Hub) -> None:
    authorize(client, hub, Role.ADMIN)
    reserved = client.post("/api/devices/enrolled", json={"name": "hub-1", "site": SITE, "role": "gate"})
    assert reserved.status_code == 422 and "hub" in reserved.text
    _add(client, "twice-pi")
    again = client.post("/api/devices/enrolled", json={"name": "twice-pi", "site": SITE, "role": "gate"})
    assert again.status_code == 409


def test_a_device_of_another_school_is_refused_naming_the_site(client: TestClient, hub: Hub) -> None:
    """One school per hub (hub.sites): the first device gives a new hub its site; another school's is a 422."""
    authorize(client, hub, Role.ADMIN)
    _add(client, "first-pi")
    other = client.post("/api/devices/enrolled", json={"name": "other-pi", "site": "other-school", "role": "gate"})
    assert other.status_code == 422, other.text
    assert "site" in other.text and "other-school" in other.text
    assert hub.enrolment.store.get("other-pi") is None  # no account was made for it at the broker either
    assert [d["name"] for d in client.get("/api/devices/enrolled").json()] == ["first-pi"]
