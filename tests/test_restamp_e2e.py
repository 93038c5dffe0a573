"""Issue 25, part 2, end to end: a Pi boots at 1970 with the network up, its readings reach the hub before NTP.

A real broker, a real agent and a real hub; only the node's clock is simulated (the
seam of edge.clock): the wall clock says 2 January 1970 and the kernel reports
"unsynchronised" until the test "runs NTP". Every reading published while unsynced
must end up in the store at its true time — none left at 1970 — and the re-stamp is
counted in the audit log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge import wire
from edge.agent import Agent
from edge.link import close_client
from hub import restamp
from hub.broker import Account, MosquittoBroker
from tests.conftest import SITE, edge_settings, wait_for

pytestmark = pytest.mark.broker

DEVICE = "dev-d"
KEY = f"{DEVICE}/fridge-1"
PUBLISHED_UNSYNCED = 20


class BootClock:
    """A Pi without an RTC: the wall clock starts at 1970-01-02 and the kernel says unsynced until NTP."""

    def __init__(self) -> None:
        self.is_synced = False

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time() if self.is_synced else 86_400.0 + time.monotonic()

    def synced(self) -> bool:
        return self.is_synced


class Wiretap:
    """Every telemetry reading the node publishes, as the broker delivers it."""

    def __init__(self, broker: MosquittoBroker, hub: Account) -> None:
        self.readings: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="tests-restamp-wiretap",
                                   protocol=mqtt.MQTTv311)
        self._client.username_pw_set(hub.username, hub.password)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.connect(broker.host, broker.hub_port)
        self._client.loop_start()
        self._client.subscribe(wire.topic(SITE, DEVICE, wire.Channel.TELEMETRY), qos=1)
        assert subscribed.wait(10), "wiretap: no SUBACK"

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        with self._lock:
            self.readings.extend({**r, "seq": body["seq"]} for r in body["readings"])

    def unsynced(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {r["seq"]: r for r in self.readings if not r["clock_synced"]}

    def close(self) -> None:
        close_client(self._client)


@pytest.fixture
def wiretap(broker: MosquittoBroker, accounts: dict[str, Account]) -> Iterator[Wiretap]:
    tap = Wiretap(broker, accounts["hub"])
    yield tap
    tap.close()


def test_readings_published_before_ntp_end_at_their_true_time(
        tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], make_hub: Any,
        wiretap: Wiretap) -> None:
    hub = make_hub()
    settings = edge_settings(tmp_path, broker, accounts[DEVICE], [
        {"kind": "simulated_temperature", "sensor": "fridge-1", "interval_s": 0.1, "base": 4.0, "noise": 0.2}])
    clock = BootClock()
    agent = Agent(settings, clock)
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        # The network is up: readings taken before sync are published, and stored, before sync.
        wait_for(lambda: len(wiretap.unsynced()) >= PUBLISHED_UNSYNCED
                 and hub.pipeline.counters.snapshot()["stored_readings"] >= PUBLISHED_UNSYNCED, timeout=30)
        clock.is_synced = True  # NTP sets the clock
        true_offset = time.time() - time.monotonic()
        synced_at = time.time()
        # Wait until the hub holds a reading taken after sync, and nothing of the node at 1970.
        wait_for(lambda: any(r.ts > synced_at for r in hub.series.readings(KEY, 1e9, 4e9))
                 and not hub.series.readings(KEY, 0, 1e9), timeout=30)
        unsynced = wiretap.unsynced()
        wait_for(lambda: len(hub.series.readings(KEY, 1e9, synced_at)) >= len(unsynced), timeout=30)
    finally:
        agent.stop()
        thread.join(15)
    assert len(unsynced) >= PUBLISHED_UNSYNCED
    stored = {round(r.ts, 3): r for r in hub.series.readings(KEY, 0, 4e9, limit=100_000)}
    assert not [ts for ts in stored if ts < 1e9], "readings were left at 1970"
    for reading in unsynced.values():
        # Its true time: the monotonic time it was taken at, on the wall clock NTP set (to the millisecond).
        true_ts = reading["mono"] + true_offset
        assert any(abs(ts - true_ts) < 0.01 for ts in stored), f"no reading stored at its true time {true_ts}"
    audits = [json.loads(e.detail) for e in hub.state.audit_entries()
              if e.action == restamp.AUDIT_ACTION and e.subject == DEVICE]
    assert audits and sum(a["readings"] for a in audits) >= len(unsynced)
    assert hub.state.untimed(KEY) == []
