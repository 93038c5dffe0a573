"""The kitchen buzzer end to end: a real agent (buzzer and button on gpiozero mock pins), Mosquitto, the hub and
its web API. The buzzer pin's recorded transitions are what the kitchen hears."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from edge.agent import Agent
from edge.clock import SystemClock
from edge.sources import SourceBase, SourceContext
from hub.alerts.kinds import AlertState
from hub.app import create_app
from hub.broker import Account, MosquittoBroker
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.state import Alert
from tests.conftest import edge_settings, wait_for
from tests.hub.auth_helpers import authorize
from tests.test_pipeline import DialThermometer

pytestmark = pytest.mark.broker

BUZZER, BUTTON = 22, 26


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.close()
    Device.pin_factory = None


@pytest.fixture
def run_agent(tmp_path: Path, broker: MosquittoBroker,
              pins: MockFactory) -> Iterator[Callable[..., tuple[Agent, Callable[[], None]]]]:
    """Start an agent with a buzzer (and a button) on the mock pins; returns it and a function that stops it."""
    running: list[tuple[Agent, threading.Thread]] = []

    def start(account: Account, sources: list[SourceBase], **extra: object) -> tuple[Agent, Callable[[], None]]:
        # A beep as long as the test: the pin is high while the alarm sounds, low while it is quiet.
        outputs = {"buzzer_pin": BUZZER, "alarm_button_pin": BUTTON, "beep_on_s": 3600, "beep_off_s": 1}
        settings = edge_settings(tmp_path, broker, account, [{"kind": "simulated_door"}], outputs=outputs, **extra)
        agent = Agent(settings, SystemClock("assume"), sources=list(sources), context=SourceContext(pin_factory=pins))
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        running.append((agent, thread))

        def stop() -> None:
            agent.stop()
            thread.join(timeout=10)

        return agent, stop

    yield start
    for agent, thread in running:
        agent.stop()
        thread.join(timeout=10)


def transitions(pins: MockFactory) -> list[bool]:
    """The buzzer pin's states since it was set up: [False, True, False …], one entry per change."""
    return [bool(s.state) for s in pins.pin(BUZZER).states]


def holding(agent: Agent) -> tuple[int, ...]:
    """The hub alerts holding the node's buzzer on, as its heartbeat reports them."""
    report = agent.health().buzzer
    assert report is not None
    return report.alerts


def firing(hub: Hub, subject: str) -> Alert | None:
    return next((a for a in hub.state.alerts([AlertState.FIRING]) if a.subject == subject), None)


def api(hub: Hub) -> TestClient:
    client = TestClient(create_app(hub.settings, hub=hub))
    authorize(client, hub)
    return client


def test_one_sensor_clearing_never_silences_the_other(
        make_hub: Callable[..., Hub], run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    fridge, freezer = DialThermometer("fridge-1"), DialThermometer("fridge-2")
    agent, _ = run_agent(accounts["dev-a"], [fridge, freezer])
    fridge.value = freezer.value = 9.5
    wait_for(lambda: firing(hub, "dev-a/fridge-1") and firing(hub, "dev-a/fridge-2"))
    first, second = firing(hub, "dev-a/fridge-1"), firing(hub, "dev-a/fridge-2")
    assert first is not None and second is not None
    wait_for(lambda: set(holding(agent)) == {first.id, second.id})
    fridge.value = 5.0
    wait_for(lambda: hub.state.alert(first.id).state == "resolved")  # type: ignore[arg-type,union-attr]
    wait_for(lambda: holding(agent) == (second.id,))  # the node heard the first one end …
    assert transitions(pins) == [False, True]  # … and never stopped sounding for the second


def test_acknowledging_in_the_web_api_silences_the_node_within_a_second(
        make_hub: Callable[..., Hub], run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    probe = DialThermometer("fridge-1")
    agent, _ = run_agent(accounts["dev-b"], [probe])
    probe.value = 9.5
    wait_for(lambda: firing(hub, "dev-b/fridge-1"))
    alert = firing(hub, "dev-b/fridge-1")
    assert alert is not None
    wait_for(lambda: transitions(pins) == [False, True])
    with api(hub) as client:
        started = time.monotonic()
        response = client.post(f"/api/alerts/{alert.id}/acknowledge", json={"text": "moving the food"})
        assert response.status_code == 200, response.text
        wait_for(lambda: not pins.pin(BUZZER).state)
        took = time.monotonic() - started
    assert took < 1.0, f"the buzzer stopped {took:.2f} s after the acknowledgement"
    assert transitions(pins) == [False, True, False]
    report = agent.health().buzzer
    assert report is not None and report.silenced_alerts == (alert.id,) and not report.sounding


def test_a_silence_from_the_web_api_covering_the_sensor_silences_the_node(
        make_hub: Callable[..., Hub], run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    probe = DialThermometer("fridge-1")
    run_agent(accounts["dev-c"], [probe])
    probe.value = 9.5
    wait_for(lambda: firing(hub, "dev-c/fridge-1"))
    wait_for(lambda: transitions(pins) == [False, True])
    with api(hub) as client:
        response = client.post("/api/silences", json={"subject": "dev-c/fridge-*", "ends_at": time.time() + 3600,
                                                       "reason": "cleaning the fridge"})
        assert response.status_code == 201, response.text
    wait_for(lambda: transitions(pins) == [False, True, False])
    assert firing(hub, "dev-c/fridge-1") is not None  # silenced, not acknowledged: the record stands


def start_hub(tmp_path: Path, broker: MosquittoBroker, accounts: dict[str, Account], rules: HubConfig) -> Hub:
    """A hub with a persistent session of its own (the same client id each time), heard every 0.2 s."""
    settings = HubSettings(home=tmp_path / "hub-home", mqtt_host=broker.host, mqtt_port=broker.hub_port,
                           mqtt_username="hub", mqtt_password=accounts["hub"].password,
                           mqtt_client_id=f"hub-{tmp_path.name}", tick_s=0.2, hub_heartbeat_s=0.2, rules=rules)
    hub = Hub(settings)
    hub.start()
    assert hub.mqtt is not None and hub.mqtt.connected.wait(10), "hub did not connect to the broker"
    return hub


def test_a_replayed_backlog_never_chirps_and_acknowledging_silences_the_local_alarm(
        tmp_path: Path, broker: MosquittoBroker, run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    """The hub is down: the broker keeps the node's messages for the hub's session, and the node sounds its
    own alarm for the fridge. The hub comes back and replays that backlog — a short excursion's alert pending
    and cancelled, then the real one firing — and the buzzer sounds on without a break; acknowledging the
    alarm on the hub then stops it."""
    rules = HubConfig(alarm_delay_s=2.0)
    hub = start_hub(tmp_path, broker, accounts, rules)
    probe = DialThermometer("fridge-1")
    agent, _ = run_agent(accounts["dev-d"], [probe], local_alarm={"delay_s": 1.0, "hub_silence_s": 1.0})
    wait_for(lambda: hub.series.readings("dev-d/fridge-1", 0, 1e10))
    hub.stop()  # its session stays with the broker, which keeps what the node sends meanwhile

    def written() -> int:
        return agent.outbox.depth()

    for value, readings in ((9.5, 3), (5.0, 3)):  # the short excursion, then back in range
        probe.value, before = value, written()
        wait_for(lambda: written() >= before + readings)  # noqa: B023 - used at once
    probe.value = 9.5
    wait_for(lambda: "fridge-1" in agent.fail_local.sounding)  # latched: the hub is unreachable
    wait_for(lambda: pins.pin(BUZZER).state)
    heard_before_hub = transitions(pins)
    assert heard_before_hub[-1] is True

    hub = start_hub(tmp_path, broker, accounts, rules)
    try:
        wait_for(lambda: firing(hub, "dev-d/fridge-1"), timeout=30)
        alert = firing(hub, "dev-d/fridge-1")
        assert alert is not None
        wait_for(lambda: alert.id in holding(agent))
        wait_for(lambda: agent.outbox.depth() < 5, timeout=30)  # the backlog is through
        earlier = [a for a in hub.state.alerts() if a.subject == "dev-d/fridge-1" and a.id != alert.id]
        # The short excursion ended inside its delay, which leaves no alert row (a quiet non-event); had the
        # replay judged it longer, it fired and resolved. Either way it is over, and the buzzer never blinked.
        assert all(a.state is AlertState.RESOLVED for a in earlier)
        assert transitions(pins) == heard_before_hub  # no chirp: not one change while the hub replayed

        with api(hub) as client:
            response = client.post(f"/api/alerts/{alert.id}/acknowledge", json={"text": "moved the food"})
            assert response.status_code == 200, response.text
        wait_for(lambda: not pins.pin(BUZZER).state)
        assert transitions(pins) == [*heard_before_hub, False]
        report = agent.health().buzzer
        assert report is not None and report.silenced_sensors == ("fridge-1",)
        assert report.silenced_alerts == (alert.id,)
    finally:
        hub.stop()


def test_the_alarm_button_silences_the_node_and_the_hub_records_the_device_acknowledging(
        make_hub: Callable[..., Hub], run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    probe = DialThermometer("fridge-1")
    run_agent(accounts["dev-a"], [probe])
    probe.value = 9.5
    wait_for(lambda: firing(hub, "dev-a/fridge-1"))
    alert = firing(hub, "dev-a/fridge-1")
    assert alert is not None and alert.id is not None
    wait_for(lambda: transitions(pins) == [False, True])
    pressed_at = time.time()
    pins.pin(BUTTON).drive_low()
    pins.pin(BUTTON).drive_high()
    assert transitions(pins) == [False, True, False]  # at once, without the hub
    wait_for(lambda: hub.state.alert(alert.id).state == "acknowledged")  # type: ignore[arg-type,union-attr]
    acked = hub.state.alert(alert.id)
    assert acked is not None and acked.acked_by == "dev-a" and acked.acked_at is not None
    assert acked.data["button_pressed_at"] >= pressed_at - 1
    assert any(e.actor == "dev-a" and e.action == "acknowledge" and e.subject == f"alert/{alert.id}"
               for e in hub.state.audit_entries())
    assert transitions(pins) == [False, True, False]


def test_a_node_that_restarts_during_an_alarm_is_told_again(
        make_hub: Callable[..., Hub], run_agent: Callable[..., tuple[Agent, Callable[[], None]]],
        accounts: dict[str, Account], pins: MockFactory) -> None:
    """Commands sent while a node was away are lost (it reconnects with a clean session): the hub sends what
    it wants again when the node comes back online."""
    hub = make_hub(rules=HubConfig(alarm_delay_s=0.5))
    probe = DialThermometer("fridge-1")
    agent, stop = run_agent(accounts["dev-b"], [probe])
    probe.value = 9.5
    wait_for(lambda: firing(hub, "dev-b/fridge-1"))
    alert = firing(hub, "dev-b/fridge-1")
    assert alert is not None
    wait_for(lambda: holding(agent) == (alert.id,))
    stop()
    wait_for(lambda: any(d["device"] == "dev-b" and d["state"] == "offline" for d in hub.state.devices()))
    pins.pin(BUZZER).clear_states()
    restarted, _ = run_agent(accounts["dev-b"], [probe])
    wait_for(lambda: holding(restarted) == (alert.id,))
    assert transitions(pins)[-1] is True
