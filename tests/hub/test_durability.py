"""Durable before confirmed: every PUBACK and ``stored`` confirmation follows a sync of the WAL it depends on.

The stores a confirmation vouches for are the state (``hub.sqlite3``) and the readings.
A real hub process runs under ``strace`` against the test broker; a device publishes
readings and waits for their confirmations. In the trace, a write to a ``-wal`` file
makes that WAL dirty and an ``fsync``/``fdatasync`` of it makes it clean; at every
PUBACK and every ``stored`` command the hub sends, no WAL may be dirty — otherwise a
power cut right after the confirmation could roll back what the device was told is
stored (SQLite's WAL with ``synchronous=NORMAL``), and the device has deleted its copy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.link import close_client
from hub.broker import Account, MosquittoBroker
from tests.conftest import SITE, wait_for

_HUB = """
import sys
from hub.runtime import Hub
from hub.settings import HubSettings
settings = HubSettings(home=sys.argv[1], mqtt_host=sys.argv[2], mqtt_port=int(sys.argv[3]), mqtt_username="hub",
                       mqtt_password=sys.argv[4], mqtt_client_id="hub-durability")
hub = Hub(settings)
assert hub.mqtt is not None
hub.mqtt.start()  # only the ingest: no duties writing beside it
assert hub.mqtt.connected.wait(20)
print("ready", flush=True)
sys.stdin.readline()
hub.mqtt.stop()
hub.stop()
"""

_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<name>\w+)\((?P<fd>\d+)<(?P<path>\w+:\[[^\]]*\]|[^>]*)>(?P<rest>.*)$")
#: The WALs of the stores a confirmation vouches for: the state (seen ids, dead letters) and the readings.
#: The other stores (gate, samples, reports) are written by the hub's duties, never confirmed to a device.
_CONFIRMED_WALS = ("/hub.sqlite3-wal", "/readings.sqlite3-wal")
_STORED_HEX = "".join(f"\\x{byte:02x}" for byte in b"stored")
_RESUMED = re.compile(r"^(?P<pid>\d+)\s+<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")


def _confirmation(rest: str) -> str | None:
    """What an MQTT packet sent by the hub confirms: a PUBACK, a ``stored`` command, or nothing.

    strace ``-x`` prints a buffer with any unprintable byte wholly in ``\\xNN`` form.
    """
    if rest.startswith((', "\\x40\\x02', ', "@\\x02')):
        return "puback"
    if rest.startswith((', "\\x30', ', "0')) and ("stored" in rest or _STORED_HEX in rest):
        return "stored"
    return None


def unsynced_confirmations(trace: str) -> tuple[list[str], dict[str, int]]:
    """Confirmations sent while a WAL had writes not yet synced, and how many of each event were seen."""
    dirty: set[str] = set()
    pending: dict[str, str] = {}  # pid → the WAL whose sync is still running
    seen = {"puback": 0, "stored": 0, "wal_sync": 0}
    bad: list[str] = []
    for line in trace.splitlines():
        resumed = _RESUMED.match(line)
        if resumed:
            path = pending.pop(resumed["pid"], None)
            if path is not None and resumed["rest"].rstrip().endswith("= 0"):
                dirty.discard(path)
                seen["wal_sync"] += 1
            continue
        call = _CALL.match(line)
        if call is None:
            continue
        name, path, rest = call["name"], call["path"], call["rest"]
        if path.endswith(_CONFIRMED_WALS):
            if name in ("write", "pwrite64", "pwritev", "writev"):
                dirty.add(path)
            elif name in ("fsync", "fdatasync"):
                if "<unfinished" in rest:
                    pending[call["pid"]] = path
                elif rest.rstrip().endswith("= 0"):
                    dirty.discard(path)
                    seen["wal_sync"] += 1
        elif name in ("sendto", "sendmsg", "write") and ("TCP" in path or "socket" in path):
            kind = _confirmation(rest)
            if kind is not None:
                seen[kind] += 1
                if dirty:
                    bad.append(f"{kind} sent while {sorted(dirty)} had unsynced writes: {line[:160]}")
    return bad, seen


def _count(confirmed: set[int], lock: threading.Lock) -> int:
    with lock:
        return len(confirmed)


@pytest.fixture
def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.skip("strace is not installed (apt-get install strace): the ordering cannot be observed")
    return found


@pytest.fixture
def traced_hub(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account],
               strace: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    trace = tmp_path / "strace.txt"
    process = subprocess.Popen(
        [strace, "-f", "-yy", "-x", "-s", "80", "-o", str(trace),
         "-e", "trace=fdatasync,fsync,sendto,sendmsg,write,pwrite64,pwritev,writev",
         sys.executable, "-c", _HUB, str(tmp_path / "hub-home"), broker.host, str(broker.hub_port),
         accounts["hub"].password],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", "the traced hub did not connect"
        yield process, trace
    finally:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_every_confirmation_follows_a_sync_of_the_wal(traced_hub: tuple[subprocess.Popen[str], Path],
                                                       broker: MosquittoBroker, accounts: dict[str, Account]) -> None:
    process, trace = traced_hub
    confirmed: set[int] = set()
    lock = threading.Lock()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dev-c", protocol=mqtt.MQTTv311)
    client.username_pw_set("dev-c", accounts["dev-c"].password)

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command = wire.decode(wire.Channel.CMD, bytes(message.payload))
        with lock:
            confirmed.update(seq for group in command.stored if group.boot_id == "durable"
                             for first, last in group.seqs for seq in range(first, last + 1))

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(broker.host, broker.port_for("dev-c"))
    client.loop_start()
    try:
        client.subscribe(wire.topic(SITE, "dev-c", wire.Channel.CMD), qos=1)
        assert subscribed.wait(10)
        topic = wire.topic(SITE, "dev-c", wire.Channel.TELEMETRY)
        for seq in range(1, 31):
            payload = json.dumps({"device": "dev-c", "boot_id": "durable", "seq": seq, "readings": [
                {"sensor": "probe", "kind": "temperature", "value": 3.0, "ts": 7000.0 + seq}]})
            # Each message waits for both its confirmations (the PUBACK, then ``stored``) before the next is sent:
            # the hub's next write cannot then fall between a sync and a confirmation sent by paho's own thread,
            # which on a loaded machine made a confirmation of a synced batch look sent over the next batch's writes.
            client.publish(topic, payload, qos=1).wait_for_publish(20)
            wait_for(lambda: _count(confirmed, lock) >= seq, timeout=20)  # noqa: B023 - waited for at once
    finally:
        close_client(client)
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)

    bad, seen = unsynced_confirmations(trace.read_text(encoding="utf-8", errors="replace"))
    assert seen["puback"] >= 3 and seen["stored"] >= 3 and seen["wal_sync"] >= 3, seen
    assert not bad, "\n".join(bad[:5])
