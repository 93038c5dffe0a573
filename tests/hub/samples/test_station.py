"""End to end: a sample station's meal button (gpiozero mock pins) and barcode scanner (a pty) on a real edge
agent, through the real Mosquitto broker, into the hub's sample record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.clock import SystemClock
from edge.sources import SourceContext
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.samples.config import SamplesConfig
from hub.settings import HubConfig
from tests.conftest import edge_settings, wait_for
from tests.edge.conftest import PtyPort

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def station(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], pins: MockFactory,
            pty_port: PtyPort) -> Iterator[Agent]:
    sources: list[dict[str, object]] = [
        {"kind": "sample_buttons", "sensor": "sample-buttons", "lockout_s": 0.5,
         "buttons": [{"pin": 5, "meal": "breakfast"}, {"pin": 6, "meal": "lunch"}, {"pin": 13, "meal": "dinner"}]},
        {"kind": "barcode_scanner", "sensor": "sample-scanner", "port": pty_port.path,
         "pattern": r"^(?P<code>(LY-)?[A-Za-z0-9-]+)$"},
    ]
    settings = edge_settings(tmp_path, broker, accounts["dev-d"], sources, outputs={"samples_led_pin": 19})
    agent = Agent(settings, SystemClock("assume"), context=SourceContext(pin_factory=pins))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    yield agent
    agent.stop()
    thread.join(timeout=10)


def test_button_and_scans_reach_the_hub_record(make_hub: Callable[..., Hub], station: Agent, pins: MockFactory,
                                               pty_port: PtyPort) -> None:
    hub = make_hub(rules=HubConfig(samples=SamplesConfig(
        cabinet="dev-d/sample-fridge", dish_codes={"D017": "红烧肉", "D021": "清炒时蔬"})))
    wait_for(lambda: any(d["device"] == "dev-d" and d["state"] == "online" for d in hub.state.devices()))

    button = pins.pin(6)  # lunch: a push button to ground, the pin pulled up
    button.drive_low()
    button.drive_high()
    wait_for(lambda: hub.samples.records("held"))
    (record,) = hub.samples.records("held")
    assert record.meal == "lunch" and record.station == "dev-d" and record.cabinet == "dev-d/sample-fridge"

    # Two pre-printed dish labels; they join the meal the button opened.
    pty_port.send(b"D017\r\nD021\r\n6901234567892 extra\r\n")
    wait_for(lambda: len(hub.samples.store.record(record.id).dishes) == 2)  # type: ignore[union-attr]
    dishes = hub.samples.store.record(record.id).dishes  # type: ignore[union-attr]
    assert [(d.name, d.source) for d in dishes] == [("红烧肉", "scanner"), ("清炒时蔬", "scanner")]

    # A label the hub printed, scanned back: it confirms the box is in the cabinet.
    code = dishes[0].code
    assert code is not None and code.startswith("lunch-")
    pty_port.send(f"LY-{code}\r".encode())
    wait_for(lambda: hub.samples.store.record(record.id).dishes[0].scanned_at is not None)  # type: ignore[union-attr]
    assert len(hub.samples.store.record(record.id).dishes) == 2  # type: ignore[union-attr]

    # The station's "samples held" light, switched by the hub over MQTT.
    wait_for(lambda: pins.pin(19).state, timeout=30)
    assert station.health().inputs["indicator:samples"] == "on"
