"""The node's buzzer is derived from what holds it (hub alerts, local excursions), never from the last command.

The agent drives a real GpioAlarm on gpiozero mock pins; the buzzer pin's recorded
transitions show every chirp a kitchen would hear.
"""

from __future__ import annotations

import json
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge import buzzer, wire
from edge.agent import Agent
from edge.config import EdgeSettings
from edge.sources import Measurement, SourceContext
from tests.edge.test_local_alarm import FakeClock

BUZZER, BUTTON = 22, 26


def settings(tmp_path: Path, **outputs: object) -> EdgeSettings:
    return EdgeSettings.model_validate({
        "site": "s", "device": "kitchen-1", "state_dir": str(tmp_path / "state"),
        "broker": {"host": "127.0.0.1", "port": 9, "username": "kitchen-1", "password": "x"},
        "local_alarm": {"delay_s": 600, "hub_silence_s": 120},
        # A beep as long as the test: the pin is high while the alarm sounds, low while it is quiet.
        "outputs": {"buzzer_pin": BUZZER, "beep_on_s": 3600, "beep_off_s": 1, **outputs},
        "sources": [{"kind": "simulated_temperature", "sensor": "fridge-1", "profile": "fridge"},
                    {"kind": "simulated_temperature", "sensor": "freezer-1", "profile": "freezer"}]})


def agent_on(tmp_path: Path, pins: MockFactory, clock: FakeClock | None = None, **outputs: object) -> Agent:
    return Agent(settings(tmp_path, **outputs), clock or FakeClock(), context=SourceContext(pin_factory=pins))


def close(agent: Agent) -> None:
    if agent.button is not None:
        agent.button.close()
    agent.alarm.close()  # type: ignore[attr-defined]  # a GpioAlarm here
    agent.outbox.close()


def transitions(pins: MockFactory) -> list[bool]:
    """The buzzer pin's states since it was set up: [False, True, False …], one entry per change."""
    return [bool(s.state) for s in pins.pin(BUZZER).states]


def command(action: str, alert: int | None = None, sensor: str = "", reason: str = "") -> wire.Command:
    return wire.Command.model_validate({"action": action, "ts": 1.0, "alert": alert, "sensor": sensor,
                                        "reason": reason})


def excursion(clock: FakeClock, agent: Agent, values: dict[str, float], seconds: float) -> None:
    """The hub unreachable (no broker at port 9) and these values for ``seconds``, a reading a minute."""
    end = clock.mono + seconds
    while clock.mono <= end:
        agent.check_fail_local([Measurement(s, "temperature", v, "°C") for s, v in values.items()])
        clock.mono += 60


def test_one_alert_ending_never_silences_another(tmp_path: Path, pins: MockFactory) -> None:
    agent = agent_on(tmp_path, pins)
    agent._handle_command(command("alarm_on", 1, "fridge-1", "fridge warm"))
    agent._handle_command(command("alarm_on", 2, "freezer-1", "freezer thawing"))
    agent._handle_command(command("alarm_off", 1, "fridge-1"))
    assert transitions(pins) == [False, True]  # still sounding for the freezer, never interrupted
    assert agent.health().buzzer == wire.BuzzerReport(sounding=True, alerts=(2,))
    agent._handle_command(command("alarm_off", 2, "freezer-1"))
    assert transitions(pins) == [False, True, False]
    close(agent)


def test_one_sensor_clearing_never_releases_another_sensors_local_alarm(tmp_path: Path, pins: MockFactory) -> None:
    clock = FakeClock()
    agent = agent_on(tmp_path, pins, clock)
    excursion(clock, agent, {"fridge-1": 9.0, "freezer-1": -5.0}, 600)
    assert transitions(pins) == [False, True]
    excursion(clock, agent, {"fridge-1": 5.0, "freezer-1": -5.0}, 60)  # the fridge recovers
    assert transitions(pins) == [False, True]
    assert agent.health().buzzer == wire.BuzzerReport(sounding=True, sensors=("freezer-1",))
    excursion(clock, agent, {"fridge-1": 5.0, "freezer-1": -20.0}, 0)
    assert transitions(pins) == [False, True, False]
    close(agent)


def test_a_replayed_backlog_never_chirps_the_local_alarm(tmp_path: Path, pins: MockFactory) -> None:
    """The hub replays a backlog: a short excursion's alert pended and was cancelled (``alarm_off`` for an
    alert this node never sounded), then the real one fires. The node's own alarm sounds throughout."""
    clock = FakeClock()
    agent = agent_on(tmp_path, pins, clock)
    excursion(clock, agent, {"fridge-1": 9.5}, 600)
    assert transitions(pins) == [False, True]
    agent._handle_command(command("alarm_off", 7, "fridge-1", "cancelled"))
    agent._handle_command(command("alarm_on", 8, "fridge-1", "fridge warm"))
    # A fired-and-resolved alert of the backlog (sent on, then off) changes nothing either.
    agent._handle_command(command("alarm_on", 6, "fridge-1"))
    agent._handle_command(command("alarm_off", 6, "fridge-1"))
    assert transitions(pins) == [False, True]
    assert agent.health().buzzer == wire.BuzzerReport(sounding=True, alerts=(8,), sensors=("fridge-1",))
    close(agent)


def test_a_silence_for_an_alert_quiets_it_and_its_sensors_local_alarm_only(tmp_path: Path,
                                                                          pins: MockFactory) -> None:
    clock = FakeClock()
    agent = agent_on(tmp_path, pins, clock)
    excursion(clock, agent, {"fridge-1": 9.5, "freezer-1": -5.0}, 600)
    agent._handle_command(command("alarm_on", 8, "fridge-1", "fridge warm"))
    agent._handle_command(command("silence", 8, "fridge-1", "acknowledged by 王师傅"))
    assert transitions(pins) == [False, True]  # the freezer's own alarm still sounds
    assert agent.health().buzzer == wire.BuzzerReport(sounding=True, sensors=("freezer-1",), silenced_alerts=(8,),
                                                      silenced_sensors=("fridge-1",))
    agent._handle_command(command("silence", 8, "fridge-1"))  # again (a resend): the same
    agent._handle_command(command("silence", 9, "freezer-1"))
    assert transitions(pins) == [False, True, False]
    excursion(clock, agent, {"fridge-1": 9.5, "freezer-1": -5.0}, 600)  # the same excursions stay quiet
    assert transitions(pins) == [False, True, False]
    # The silence window ended with the alert still firing: the hub wants it on again.
    agent._handle_command(command("alarm_on", 8, "fridge-1"))
    assert transitions(pins) == [False, True, False, True]
    close(agent)


def test_commands_without_an_alert_keep_their_old_meaning(tmp_path: Path, pins: MockFactory) -> None:
    """An older hub names no alert: ``alarm_on`` sounds, ``alarm_off`` / ``silence`` stop everything."""
    clock = FakeClock()
    agent = agent_on(tmp_path, pins, clock)
    agent._handle_command(command("alarm_on", reason="fridge warm"))
    assert agent.health().buzzer == wire.BuzzerReport(sounding=True, unattributed=True)
    excursion(clock, agent, {"fridge-1": 9.5}, 600)
    agent._handle_command(command("alarm_off"))
    assert transitions(pins) == [False, True, False]
    assert agent.health().buzzer == wire.BuzzerReport(sounding=False, silenced_sensors=("fridge-1",))
    close(agent)


def test_the_alarm_button_silences_here_and_tells_the_hub(tmp_path: Path, pins: MockFactory) -> None:
    clock = FakeClock()
    agent = agent_on(tmp_path, pins, clock, alarm_button_pin=BUTTON)
    button = pins.pin(BUTTON)
    excursion(clock, agent, {"freezer-1": -5.0}, 600)
    agent._handle_command(command("alarm_on", 8, "fridge-1", "fridge warm"))
    assert transitions(pins) == [False, True]
    button.drive_low()  # pressed (to GND, against the pull-up)
    button.drive_high()
    assert transitions(pins) == [False, True, False]
    assert agent.health().buzzer == wire.BuzzerReport(sounding=False, silenced_alerts=(8,),
                                                      silenced_sensors=("freezer-1",))
    (row,) = agent.outbox.peek(0, 10)
    event = wire.decode(wire.Channel.EVENT, row.payload)
    assert (event.sensor, event.kind, event.state) == ("alarm-button", wire.ALARM_BUTTON_KIND, "pressed")
    assert event.detail == {"alerts": "8", "sensors": "freezer-1"}
    button.drive_low()  # nothing left to silence: no second event
    button.drive_high()
    assert len(agent.outbox.peek(0, 10)) == 1
    # Something new sounds again.
    agent._handle_command(command("alarm_on", 9, "freezer-1", "freezer thawing"))
    assert transitions(pins) == [False, True, False, True]
    assert json.loads(agent.health().model_dump_json())["buzzer"]["alerts"] == [9]
    close(agent)


def test_the_decision_is_a_pure_function_of_the_state() -> None:
    state = buzzer.BuzzerState()
    for step in (command("alarm_on", 1, "a"), command("alarm_on", 1, "a"), command("silence", 1, "a")):
        state = buzzer.on_command(state, step)
    assert not buzzer.sounding(state)
    assert buzzer.on_command(state, command("indicator")) == state
    state = buzzer.on_command(state, command("alarm_off", 1, "a"))
    assert state == buzzer.BuzzerState()
