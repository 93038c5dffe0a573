"""The pure sample rules, table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.samples import rules
from hub.samples.rules import Excursion
from tests.clock import TZ, local

H = 3600.0


@pytest.mark.parametrize(("weight", "minimum", "expected"), [
    (125.0, 125.0, False), (124.9, 125.0, True), (None, 125.0, False), (98.0, 100.0, True), (200.0, 200.0, False),
])
def test_underweight(weight: float | None, minimum: float, expected: bool) -> None:
    assert rules.underweight(weight, minimum) is expected


@pytest.mark.parametrize(("now", "discarded_at", "expected"), [
    (47.9 * H, None, "held"), (48 * H, None, "due"), (60 * H, None, "due"), (10 * H, 9 * H, "discarded"),
])
def test_hold_state(now: float, discarded_at: float | None, expected: str) -> None:
    assert rules.hold_state(now, rules.held_until(0.0, 48 * H), discarded_at) == expected


@pytest.mark.parametrize(("now", "discarded_at", "early", "active"), [
    (30 * H, 30 * H, True, True),       # thrown away at 30 h: alarm while the hold should still run
    (47 * H, 30 * H, True, True),
    (48 * H, 30 * H, True, False),      # the hold would have ended: the condition is over
    (50 * H, 49 * H, False, False),     # on time
    (48 * H, 48 * H, False, False),     # exactly at expiry is on time
])
def test_early_discard(now: float, discarded_at: float, early: bool, active: bool) -> None:
    assert rules.discarded_early(discarded_at, 48 * H) is early
    assert rules.early_discard_active(now, discarded_at, 48 * H) is active


@pytest.mark.parametrize(("day", "serve", "within_min", "expected"), [
    ("2026-10-12", dt.time(11, 30), 60, "2026-10-12 12:30"),
    ("2026-10-12", dt.time(7, 0), 30, "2026-10-12 07:30"),
    ("2026-10-12", dt.time(23, 30), 60, "2026-10-13 00:30"),  # a late supper's deadline is the next day
])
def test_meal_deadline(day: str, serve: dt.time, within_min: float, expected: str) -> None:
    assert rules.meal_deadline(dt.date.fromisoformat(day), serve, within_min * 60, TZ) == local(expected)


D = dt.date(2026, 10, 3)


@pytest.mark.parametrize(("school_day", "open_days", "closed_days", "expected"), [
    (True, [], [], True), (False, [], [], False), (False, [D], [], True), (True, [], [D], False),
    (False, [D], [D], False),  # closed wins
])
def test_canteen_open(school_day: bool, open_days: list[dt.date], closed_days: list[dt.date],
                      expected: bool) -> None:
    assert rules.canteen_open(D, school_day, open_days, closed_days) is expected


@pytest.mark.parametrize(("now", "is_open", "logged", "expected"), [
    (99.0, True, False, False),    # before the deadline
    (100.0, True, False, True),
    (150.0, True, True, False),    # logged
    (150.0, False, False, False),  # canteen closed
    (200.0, True, False, False),   # the meal's retention is over: the alarm's condition ends
])
def test_missing_active(now: float, is_open: bool, logged: bool, expected: bool) -> None:
    assert rules.missing_active(now, 100.0, 200.0, is_open, logged) is expected


@pytest.mark.parametrize(("readings", "grace", "expected"), [
    ([(0, 4.0), (60, 5.0)], 0, []),
    ([(0, 4.0), (60, 9.0), (120, 10.5), (180, 7.0)], 0, [Excursion(60, 180, 9.0, 10.5)]),
    ([(0, 9.0), (60, None), (120, 7.0)], 0, [Excursion(0, 120, 9.0, 9.0)]),   # a fault neither starts nor ends
    ([(0, -0.5), (60, 3.0), (120, 8.5)], 0, [Excursion(0, 60, -0.5, -0.5), Excursion(120, None, 8.5, 8.5)]),
    ([(0, 4.0), (60, 9.0), (120, 4.0), (180, 9.0), (600, 9.5)], 300, [Excursion(180, None, 9.0, 9.5)]),
    ([(0, 8.0), (60, 0.0)], 0, []),  # the band's edges are inside
])
def test_excursions(readings: list[tuple[float, float | None]], grace: float, expected: list[Excursion]) -> None:
    assert rules.excursions(readings, 0.0, 8.0, grace) == expected


@pytest.mark.parametrize(("hold", "spell", "expected"), [
    ((0, 100), (50, 60), True),
    ((0, 100), (100, 200), False),  # discarded as the excursion began
    ((100, None), (50, 100), False),  # placed as it ended
    ((100, None), (50, 101), True),
    ((100, None), (150, None), True),  # both still going
    ((0, 10), (5, 5), True),  # a single-instant spell inside the hold
])
def test_overlaps(hold: tuple[float, float | None], spell: tuple[float, float | None], expected: bool) -> None:
    assert rules.overlaps(*hold, *spell, now=1000.0) is expected


def test_touched_picks_exactly_the_samples_in_the_cabinet() -> None:
    holds = [(1, 0.0, 50.0), (2, 40.0, None), (3, 200.0, None)]
    assert rules.touched(holds, Excursion(60.0, 120.0, 9.0, 11.0), now=300.0) == [2]


@pytest.mark.parametrize(("states", "light"), [
    ([], "off"),
    (["discarded"], "off"),
    (["held", "discarded"], "on"),
    (["held", "due"], "blink"),
    (["due"], "blink"),
])
def test_station_indicator(states: list[rules.HoldState], light: str) -> None:
    assert rules.station_indicator(states) == light
