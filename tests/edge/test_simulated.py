from __future__ import annotations

from collections.abc import Mapping

from edge.sources.base import SourceContext
from edge.sources.simulated import (
    SimulatedDoor,
    SimulatedDoorOptions,
    SimulatedTemperature,
    SimulatedTemperatureOptions,
)
from edge.wire import ScalarValue


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_drift_warm_crosses_the_limit_on_schedule() -> None:
    clock = FakeMonotonic()
    source = SimulatedTemperature("fridge-1", SimulatedTemperatureOptions(
        scenario="drift_warm", base=4.0, noise=0.0, start_after_s=60, rate_per_min=2.0, ceiling=12.0),
        SourceContext(monotonic=clock))
    assert source.read()[0].value == 4.0
    clock.now += 60 + 120  # two minutes of drift at 2 °C/min
    assert source.read()[0].value == 8.0
    clock.now += 3600
    assert source.read()[0].value == 12.0  # capped


def test_drift_warm_recovers_after_the_repair() -> None:
    """The demo fridge warms to its ceiling, is "repaired" and cools back to base at the same rate."""
    source = SimulatedTemperature("fridge-1", SimulatedTemperatureOptions(
        scenario="drift_warm", base=4.0, noise=0.0, start_after_s=0, rate_per_min=15.0, ceiling=11.0,
        recover_after_s=240), SourceContext(monotonic=FakeMonotonic()))
    assert source.value_at(240) == 11.0
    assert source.value_at(240 + 20) == 6.0  # 20 s at 15 °C/min: below 8 °C again
    assert source.value_at(3600) == 4.0  # and stays at base


def test_door_spike_returns_to_base() -> None:
    clock = FakeMonotonic()
    options = SimulatedTemperatureOptions(scenario="door_spike", base=3.0, noise=0.0, spike_every_s=300,
                                          spike_for_s=60, spike_rise=4.0)
    source = SimulatedTemperature("s", options, SourceContext(monotonic=clock))
    assert source.value_at(30) == 5.0
    assert source.value_at(90) == 3.0


def test_noise_stays_within_bounds() -> None:
    source = SimulatedTemperature("s", SimulatedTemperatureOptions(base=4.0, noise=0.2),
                                  SourceContext(monotonic=FakeMonotonic()))
    values = [m.value for _ in range(200) for m in source.read()]
    assert all(v is not None and 3.8 <= v <= 4.2 for v in values)


def test_scripted_door_emits_each_change_once_and_repeats() -> None:
    clock = FakeMonotonic()
    options = SimulatedDoorOptions.model_validate(
        {"door_kind": "gate", "schedule": [{"at_s": 10, "state": "open"}, {"at_s": 20, "state": "closed"}],
         "repeat_every_s": 60})
    door = SimulatedDoor("gate-1", options, SourceContext(monotonic=clock))
    events: list[tuple[str, str, str]] = []

    def emit(sensor: str, kind: str, state: str, detail: Mapping[str, ScalarValue] | None = None) -> None:
        events.append((sensor, kind, state))

    door.start(emit)
    for step in range(0, 145, 5):
        clock.now = 100.0 + step
        door.read()
    assert [e[2] for e in events] == ["open", "closed"] * 3
    assert door.states() == {"gate-1": "closed"}
