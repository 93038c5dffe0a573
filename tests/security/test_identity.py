"""An MQTT client id belongs to its account: no stolen device password takes the hub's session or another's.

Mosquitto closes a connected client when another connects with the same client id,
whoever it logs in as. Every device account here tries every client id it could use
against someone else — the hub's ingest and ``-sys`` ids, the default ``xiaoan-hub``,
every other device's ``edge-{site}-{device}`` and bare name — at both of the broker's
doors. At the devices' door its session is named after its own account whatever it
sends; at the hub's door it is refused. The hub stays connected throughout and the
broker never closes anybody's connection but the attacker's own account's.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.link import close_client
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from tests.conftest import SITE, wait_for
from tests.security.attacks import AttackLog

pytestmark = pytest.mark.broker

_log = AttackLog("client_id_takeover")
attempted = _log.attempted

HUB_ID = "hub-identity"


def teardown_module() -> None:
    _log.record()


def connack(broker: MosquittoBroker, port: int, account: Account, client_id: str) -> int:
    """Connect once as ``account`` with ``client_id``; the CONNACK's code (0: accepted). Disconnects after."""
    codes: list[int] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(account.username, account.password)
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    client.connect(broker.host, port)
    try:
        wait_for(lambda: client.loop(timeout=0.05) is not None and codes, timeout=10, interval=0)
    finally:
        client.disconnect()
    return codes[0]


class Victim:
    """A device's own session, as its edge opens it, counting the times the broker drops it."""

    def __init__(self, broker: MosquittoBroker, account: Account) -> None:
        self.username = account.username
        self.drops = 0
        self.up = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{SITE}-{account.username}",
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(account.username, account.password)
        self.client.on_connect = lambda _c, _u, _f, reason, _p: self.up.set() if reason.value == 0 else None
        self.client.on_disconnect = self._dropped
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.up.wait(10), f"{account.username} could not connect"

    def _dropped(self, *_args: Any) -> None:
        self.drops += 1
        self.up.clear()

    def close(self) -> None:
        self.client.on_disconnect = None
        close_client(self.client)


@pytest.fixture
def victims(broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[dict[str, Victim]]:
    running = {a.username: Victim(broker, a) for a in accounts.values() if a.role == "device"}
    yield running
    for victim in running.values():
        victim.close()


def log_since(broker: MosquittoBroker, offset: int) -> str:
    with broker.log_path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def session_name(broker: MosquittoBroker, offset: int, username: str) -> str:
    """The client id the broker gave the next session of ``username`` it logged after ``offset``."""
    pattern = re.compile(rf"New client connected from \S+ as (\S+) \(.*u'{re.escape(username)}'\)")
    wait_for(lambda: pattern.search(log_since(broker, offset)))
    match = pattern.search(log_since(broker, offset))
    assert match is not None
    return match.group(1)


def test_no_device_account_can_take_another_clients_session(
        broker: MosquittoBroker, accounts: dict[str, Account], make_hub: Callable[..., Hub],
        victims: dict[str, Victim]) -> None:
    hub = make_hub(client_id=HUB_ID)
    assert hub.mqtt is not None
    wait_for(lambda: f" as {HUB_ID}-sys " in broker.log_path.read_text(errors="replace"))  # the broker watch is in
    offset = broker.log_path.stat().st_size
    devices = [a for a in accounts.values() if a.role == "device"]
    hub_ids = [HUB_ID, f"{HUB_ID}-sys", "xiaoan-hub", "xiaoan-hub-sys", "hub"]

    for attacker in devices:
        others = [d.username for d in devices if d is not attacker]
        targets = hub_ids + [f"edge-{SITE}-{name}" for name in others] + others
        for target in targets:
            mark = broker.log_path.stat().st_size
            code = connack(broker, broker.port, attacker, target)
            if code == 0:
                # Accepted at the devices' door: the broker named the session after the account.
                named = session_name(broker, mark, attacker.username)
                attempted("a device connecting with another client's id (devices' door)",
                          named != attacker.username)
                assert named == attacker.username
            else:
                attempted("a device connecting with another client's id (devices' door)", False)
            # At the hub's door a device account is no account at all.
            code = connack(broker, broker.hub_port, attacker, target)
            attempted("a device connecting with another client's id (hub's door)", code == 0)
            assert code != 0
            assert hub.mqtt.connected.is_set(), f"{attacker.username} as {target!r} disconnected the hub"

    log = log_since(broker, offset)
    closed = re.findall(r"Client (\S+) already connected, closing old connection", log)
    assert set(closed) <= {d.username for d in devices}  # only ever an attacker's own session
    for client_id in (HUB_ID, f"{HUB_ID}-sys"):
        assert f"Client {client_id} disconnected." not in log
        assert f"Client {client_id} closed its connection" not in log
    assert hub.mqtt.connected.is_set()
    # Each device's own session was dropped only by its own account, never by another's.
    own = {name: closed.count(name) for name in victims}
    for name, victim in victims.items():
        assert victim.drops <= own[name], f"{name} was dropped {victim.drops} times, {own[name]} by itself"


def test_the_hub_account_is_refused_at_the_devices_door(broker: MosquittoBroker,
                                                         accounts: dict[str, Account]) -> None:
    """The hub's own password at the devices' door gets nothing (there it would be one session, named 'hub')."""
    code = connack(broker, broker.port, accounts["hub"], "xiaoan-hub")
    attempted("the hub account at the devices' door", code == 0)
    assert code != 0
