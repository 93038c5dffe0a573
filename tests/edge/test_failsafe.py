"""Fail-local as a table of (what happens, at what time) → what the buzzer does."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from edge.failsafe import FailLocalState, Limits, evaluate, hub_unreachable, limits_for, silence
from edge.wire import SensorInfo

LIMITS = {"fridge": Limits(0.0, 8.0), "freezer": Limits(None, -12.0)}
DELAY = 900.0


@dataclass(frozen=True)
class Tick:
    at: float
    values: dict[str, float | None]
    unreachable: bool
    expect: str  # "sound" | "silence" | "none"
    silence_after: bool = False


CASES: dict[str, list[Tick]] = {
    "in range: nothing": [
        Tick(0, {"fridge": 4.0}, True, "none"),
        Tick(2000, {"fridge": 5.0}, True, "none"),
    ],
    "excursion past the delay with the hub gone: sound": [
        Tick(0, {"fridge": 9.0}, True, "none"),
        Tick(899, {"fridge": 9.5}, True, "none"),
        Tick(900, {"fridge": 9.5}, True, "sound"),
        Tick(960, {"fridge": 9.5}, True, "none"),  # already sounding
    ],
    "a door opening is not an alarm": [
        Tick(0, {"fridge": 9.0}, True, "none"),
        Tick(300, {"fridge": 6.0}, True, "none"),
        Tick(1000, {"fridge": 9.0}, True, "none"),  # a new excursion, its own delay
        Tick(1899, {"fridge": 9.0}, True, "none"),
    ],
    "hub reachable: the hub alarms, not the node": [
        Tick(0, {"freezer": -5.0}, False, "none"),
        Tick(1000, {"freezer": -5.0}, False, "none"),
        Tick(1001, {"freezer": -5.0}, True, "sound"),  # the network fails later: at once, delay long past
    ],
    "sounds until the excursion clears, not until the network returns": [
        Tick(0, {"fridge": -1.0}, True, "none"),
        Tick(900, {"fridge": -1.0}, True, "sound"),
        Tick(1000, {"fridge": -1.0}, False, "none"),
        Tick(1100, {"fridge": 3.0}, False, "silence"),
    ],
    "a fault neither starts nor ends an excursion": [
        Tick(0, {"fridge": None}, True, "none"),
        Tick(1000, {"fridge": 9.0}, True, "none"),
        Tick(1500, {"fridge": None}, True, "none"),
        Tick(1900, {"fridge": None}, True, "sound"),
    ],
    "silenced stays quiet until it clears, then re-arms": [
        Tick(0, {"fridge": 9.0}, True, "none"),
        Tick(900, {"fridge": 9.0}, True, "sound", silence_after=True),
        Tick(2000, {"fridge": 9.0}, True, "none"),
        Tick(2100, {"fridge": 5.0}, True, "none"),
        Tick(2200, {"fridge": 9.0}, True, "none"),
        Tick(3100, {"fridge": 9.0}, True, "sound"),
    ],
    "sensors without limits are ignored": [
        Tick(0, {"ambient": 40.0}, True, "none"),
        Tick(5000, {"ambient": 40.0}, True, "none"),
    ],
}


@pytest.mark.parametrize("ticks", CASES.values(), ids=CASES.keys())
def test_fail_local(ticks: list[Tick]) -> None:
    state = FailLocalState()
    for tick in ticks:
        decision = evaluate(state, LIMITS, tick.values.items(), tick.at, tick.unreachable, DELAY)
        assert decision.action == tick.expect, f"at {tick.at}: {decision}"
        state = silence(decision.state) if tick.silence_after else decision.state


def test_a_zero_delay_sounds_on_the_first_bad_reading() -> None:
    decision = evaluate(FailLocalState(), LIMITS, [("freezer", -3.0)], 0.0, True, 0.0)
    assert decision.action == "sound" and "freezer above -12" in decision.reason


@pytest.mark.parametrize(("connected", "last_seen", "now", "expected"), [
    (False, 99.0, 100.0, True),  # no broker
    (True, 90.0, 100.0, False),  # heard the hub 10 s ago
    (True, 0.0, 130.0, True),  # hub silent for 130 s > 120 s
    (True, None, 100.0, False),  # never heard yet, but only 100 s since start
    (True, None, 121.0, True),
])
def test_hub_unreachable(connected: bool, last_seen: float | None, now: float, expected: bool) -> None:
    assert hub_unreachable(connected, last_seen, started=0.0, now=now, hub_silence_s=120.0) is expected


@pytest.mark.parametrize(("info", "limits"), [
    (SensorInfo(sensor="a", kind="temperature", profile="fridge"), Limits(0.0, 8.0)),
    (SensorInfo(sensor="a", kind="temperature", profile="freezer"), Limits(None, -12.0)),
    (SensorInfo(sensor="a", kind="temperature", profile="sample_fridge"), Limits(0.0, 8.0)),
    (SensorInfo(sensor="a", kind="temperature", profile="freezer", high=-18.0), Limits(None, -18.0)),
    (SensorInfo(sensor="a", kind="temperature", profile="fridge", low=1.0), Limits(1.0, 8.0)),
    (SensorInfo(sensor="a", kind="temperature", high=30.0), Limits(None, 30.0)),
    (SensorInfo(sensor="a", kind="temperature"), None),
])
def test_limits_from_profile_and_config(info: SensorInfo, limits: Limits | None) -> None:
    assert limits_for(info) == limits
