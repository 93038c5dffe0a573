"""Doors, mains power and sample buttons on gpiozero's mock pins (the pin factory is injected)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from gpiozero.pins.mock import MockFactory

from edge.sources import SourceContext
from edge.sources.gpio import Door, DoorOptions, MainsPower, PowerOptions, SampleButtons, SampleButtonsOptions
from edge.wire import ScalarValue
from tests.conftest import wait_for

Event = tuple[str, str, str, dict[str, ScalarValue]]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, sensor: str, kind: str, state: str, detail: Mapping[str, ScalarValue] | None = None) -> None:
        self.events.append((sensor, kind, state, dict(detail or {})))

    def states(self) -> list[str]:
        return [e[2] for e in self.events]


def door(pins: MockFactory, **options: object) -> Door:
    return Door("back-door", DoorOptions.model_validate({"pin": 17, "bounce_time": 0.05, **options}),
                SourceContext(pin_factory=pins))


def test_normally_closed_contact_reports_open_and_close(pins: MockFactory) -> None:
    source, events = door(pins), Recorder()
    pin = pins.pin(17)
    pin.drive_low()  # door shut: the magnet closes the contact, pulling the pin to ground
    source.start(events)
    assert events.events == [("back-door", "door", "closed", {"initial": True})]
    pin.drive_high()
    wait_for(lambda: events.states() == ["closed", "open"], timeout=5)
    assert source.states() == {"back-door": "open"}
    pin.drive_low()
    wait_for(lambda: events.states() == ["closed", "open", "closed"], timeout=5)
    assert source.states() == {"back-door": "closed"}
    source.close()


def test_a_cut_wire_on_a_normally_closed_contact_reads_open(pins: MockFactory) -> None:
    # Nothing drives the pin: the pull-up holds it high, exactly as with a cut cable.
    source, events = door(pins, door_kind="gate"), Recorder()
    source.start(events)
    assert events.events[0][1:3] == ("gate", "open")
    source.close()


def test_normally_open_contact_is_inverted(pins: MockFactory) -> None:
    source, events = door(pins, contact="normally_open"), Recorder()
    pin = pins.pin(17)
    source.start(events)  # pin high: contact open, which for a normally-open switch means shut
    pin.drive_low()
    wait_for(lambda: events.states() == ["closed", "open"], timeout=5)
    source.close()


def test_bounce_gives_one_event_and_the_final_state_is_never_lost(pins: MockFactory) -> None:
    source, events = door(pins, bounce_time=0.3), Recorder()
    pin = pins.pin(17)
    pin.drive_low()
    source.start(events)
    for _ in range(5):  # the reed chatters as the magnet swings away
        pin.drive_high()
        pin.drive_low()
    pin.drive_high()
    wait_for(lambda: len(events.events) == 2, timeout=5)
    time.sleep(0.5)
    assert events.states() == ["closed", "open"]
    # A bounce that ends where it started is no change at all.
    pin.drive_low()
    pin.drive_high()
    time.sleep(0.8)
    assert events.states() == ["closed", "open"]
    source.close()


@pytest.mark.parametrize(("mains_when", "drive_low_means"), [("active", "on"), ("inactive", "off")])
def test_mains_power_events(pins: MockFactory, mains_when: str, drive_low_means: str) -> None:
    power = MainsPower("", PowerOptions.model_validate({"pin": 27, "mains_when": mains_when, "bounce_time": 0.05}),
                       SourceContext(pin_factory=pins))
    events = Recorder()
    pin = pins.pin(27)
    pin.drive_low()
    power.start(events)
    assert events.events == [("mains", "power", drive_low_means, {"initial": True})]
    pin.drive_high()
    other = "off" if drive_low_means == "on" else "on"
    wait_for(lambda: events.states() == [drive_low_means, other], timeout=5)
    assert power.states() == {"mains": other}
    assert power.describe()[0].kind == "power"
    power.close()


def test_sample_buttons_log_a_meal_each_with_a_lockout(pins: MockFactory) -> None:
    now = [100.0]
    options = SampleButtonsOptions.model_validate({"buttons": [{"pin": 5, "meal": "breakfast"},
                                                               {"pin": 6, "meal": "lunch"}], "lockout_s": 2})
    station = SampleButtons("", options, SourceContext(pin_factory=pins, monotonic=lambda: now[0]))
    events = Recorder()
    station.start(events)
    lunch, breakfast = pins.pin(6), pins.pin(5)

    def press(pin: object) -> None:
        pin.drive_low()  # type: ignore[attr-defined]
        pin.drive_high()  # type: ignore[attr-defined]

    press(lunch)
    press(lunch)  # pressed twice by an impatient cook: one sample
    press(breakfast)
    now[0] += 3
    press(lunch)
    wait_for(lambda: len(events.events) == 3, timeout=5)
    assert [(e[1], e[2], e[3]["meal"]) for e in events.events] == [
        ("sample", "logged", "lunch"), ("sample", "logged", "breakfast"), ("sample", "logged", "lunch")]
    station.close()
