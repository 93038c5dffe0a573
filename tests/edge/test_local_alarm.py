"""The agent sounding its own buzzer (gpiozero mock pins) when a limit is crossed and the hub is away."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge import wire
from edge.agent import Agent, LocalAlarm, LoggingAlarm
from edge.config import EdgeSettings, OutputSettings
from edge.outputs import GpioAlarm
from edge.sources import Measurement, SourceContext
from tests.conftest import wait_for


class FakeClock:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.is_synced = True

    def wall(self) -> float:
        return 1_700_000_000.0 + self.mono

    def monotonic(self) -> float:
        return self.mono

    def synced(self) -> bool:
        return self.is_synced


def sounding(alarm: LocalAlarm) -> bool:
    """Read the property through a call, so the type checker does not pin it to an earlier value."""
    return alarm.active


def settings(tmp_path: Path, **extra: object) -> EdgeSettings:
    return EdgeSettings.model_validate({
        "site": "s", "device": "kitchen-1", "state_dir": str(tmp_path / "state"),
        "broker": {"host": "127.0.0.1", "port": 9, "username": "kitchen-1", "password": "x"},
        "local_alarm": {"delay_s": 600, "hub_silence_s": 120},
        "sources": [{"kind": "simulated_temperature", "sensor": "freezer-1", "profile": "freezer"}], **extra})


def test_gpio_alarm_beeps_and_blinks_until_silenced(pins: MockFactory) -> None:
    alarm = GpioAlarm(OutputSettings(buzzer_pin=22, alarm_led_pin=23, status_led_pin=24, beep_on_s=0.05,
                                     beep_off_s=0.05), pin_factory=pins)
    buzzer, led, status = pins.pin(22), pins.pin(23), pins.pin(24)
    assert status.state and not buzzer.state
    alarm.sound("test")
    assert sounding(alarm)
    wait_for(lambda: len([s for s in buzzer.states if s.state]) >= 2, timeout=5)  # on, off, on …
    wait_for(lambda: any(s.state for s in led.states), timeout=5)
    alarm.silence()
    assert not sounding(alarm) and not buzzer.state and not led.state
    alarm.close()


def test_agent_without_outputs_logs_and_with_a_buzzer_drives_it(tmp_path: Path, pins: MockFactory) -> None:
    plain = Agent(settings(tmp_path / "a"), FakeClock())
    assert isinstance(plain.alarm, LoggingAlarm)
    plain.outbox.close()
    wired = Agent(settings(tmp_path / "b", outputs={"buzzer_pin": 22}), FakeClock(),
                  context=SourceContext(pin_factory=pins))
    assert isinstance(wired.alarm, GpioAlarm)
    wired.outbox.close()


def test_agent_fail_local_end_to_end_with_its_clock(tmp_path: Path, pins: MockFactory) -> None:
    clock = FakeClock()
    agent = Agent(settings(tmp_path, outputs={"buzzer_pin": 22}), clock, context=SourceContext(pin_factory=pins))
    assert agent.limits["freezer-1"].high == -12.0
    buzzer = pins.pin(22)
    thawing = [Measurement("freezer-1", "temperature", -6.0, "°C")]
    # The link never connected (no broker at port 9): the hub is unreachable.
    agent.check_fail_local(thawing)
    clock.mono += 599
    agent.check_fail_local(thawing)
    assert not sounding(agent.alarm)
    clock.mono += 1
    agent.check_fail_local(thawing)
    assert sounding(agent.alarm)
    wait_for(lambda: any(s.state for s in buzzer.states), timeout=5)
    # Staff silence it from the hub's page; the same excursion does not re-sound.
    agent._handle_command(wire.Command(action="silence", ts=1.0, reason="moved the food"))
    clock.mono += 60
    agent.check_fail_local(thawing)
    assert not sounding(agent.alarm)
    agent.outbox.close()
    assert isinstance(agent.alarm, GpioAlarm)
    agent.alarm.close()


def test_the_hub_heartbeat_keeps_the_node_quiet(tmp_path: Path) -> None:
    clock = FakeClock()
    agent = Agent(settings(tmp_path), clock)
    agent.link.connected.set()  # as paho's on_connect would
    thawing = [Measurement("freezer-1", "temperature", -6.0, "°C")]
    for _ in range(20):
        agent._handle_hub_heartbeat()
        agent.check_fail_local(thawing)
        clock.mono += 60
    assert not sounding(agent.alarm)
    clock.mono += 120  # the hub's heartbeats stop
    agent.check_fail_local(thawing)
    assert sounding(agent.alarm)
    agent.outbox.close()


def test_the_samples_light_follows_the_hubs_indicator_commands(tmp_path: Path, pins: MockFactory) -> None:
    agent = Agent(settings(tmp_path, outputs={"samples_led_pin": 25}), FakeClock(),
                  context=SourceContext(pin_factory=pins))
    led = pins.pin(25)
    assert not led.state
    for state, lit in (("on", True), ("off", False)):
        agent._handle_command(wire.Command.model_validate(
            {"action": "indicator", "target": "samples", "state": state, "ts": 1.0}))
        assert bool(led.state) is lit
        assert agent.health().inputs["indicator:samples"] == state
    agent._handle_command(wire.Command(action="indicator", target="samples", state="blink", ts=1.0))
    wait_for(lambda: len([s for s in led.states if s.state]) >= 2, timeout=5)  # it blinks
    agent._handle_command(wire.Command(action="indicator", target="elsewhere", state="on", ts=1.0))  # ignored
    agent.indicators["samples"].close()
    agent.outbox.close()
