"""The scheduler: duties run on their interval, are timed, and cannot hold each other up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hub.scheduler import Duty, Scheduler
from tests.conftest import wait_for


class FakeClock:
    """A monotonic clock the test moves by hand (for the durations and the overruns)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    running = Scheduler()
    yield running
    running.stop(timeout=10)


def test_tick_runs_every_duty_with_the_given_time_and_times_it() -> None:
    mono = FakeClock()
    scheduler = Scheduler(clock=lambda: 5000.0, monotonic=mono)
    seen: list[tuple[str, float]] = []

    def slow(now: float) -> None:
        seen.append(("slow", now))
        mono.now += 3.0  # this run "takes" 3 s of a 2 s interval

    scheduler.add(Duty("fast", 1.0, lambda now: seen.append(("fast", now))))
    scheduler.add(Duty("slow", 2.0, slow))
    scheduler.tick(1234.0)
    scheduler.tick()
    assert seen == [("fast", 1234.0), ("slow", 1234.0), ("fast", 5000.0), ("slow", 5000.0)]
    fast, slow_status = scheduler.status()
    assert (fast.name, fast.runs, fast.failures, fast.overruns, fast.last_duration_s) == ("fast", 2, 0, 0, 0.0)
    assert fast.last_run == 5000.0 and fast.last_ok == 5000.0 and fast.running_for_s is None
    assert (slow_status.runs, slow_status.overruns, slow_status.last_duration_s) == (2, 2, 3.0)
    assert slow_status.overrunning and not slow_status.failing


def test_a_failing_duty_is_counted_and_the_others_still_run() -> None:
    scheduler = Scheduler(clock=lambda: 10.0)
    calls: list[float] = []

    def broken(_now: float) -> None:
        raise RuntimeError("the store is down")

    scheduler.add(Duty("broken", 1.0, broken))
    scheduler.add(Duty("fine", 1.0, calls.append))
    scheduler.tick()
    scheduler.tick()
    broken_status = scheduler.get("broken")
    assert broken_status is not None
    assert (broken_status.runs, broken_status.failures, broken_status.consecutive_failures) == (2, 2, 2)
    assert broken_status.failing and broken_status.last_ok is None
    assert calls == [10.0, 10.0]


def test_a_duty_that_recovers_is_no_longer_failing() -> None:
    scheduler = Scheduler()
    outcomes = iter([RuntimeError("once"), None])

    def flaky(_now: float) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    scheduler.add(Duty("flaky", 1.0, flaky))
    scheduler.tick()
    scheduler.tick()
    status = scheduler.get("flaky")
    assert status is not None and status.failures == 1 and status.consecutive_failures == 0 and not status.failing


def test_duties_run_on_their_own_on_a_started_scheduler(scheduler: Scheduler) -> None:
    runs: list[float] = []
    scheduler.add(Duty("often", 0.05, runs.append))
    scheduler.add(Duty("later", 3600.0, runs.append, first_after_s=3600.0))
    scheduler.start()
    wait_for(lambda: len(runs) >= 3)
    status = scheduler.get("often")
    later = scheduler.get("later")
    assert status is not None and status.runs >= 3 and status.last_run is not None
    assert later is not None and later.runs == 0 and later.last_run is None


def test_a_long_or_raising_duty_delays_no_other(scheduler: Scheduler) -> None:
    """A duty stuck for a long time and one that always raises: the timer duty keeps its pace."""
    release = threading.Event()
    inside = threading.Event()

    def stuck(_now: float) -> None:
        inside.set()
        release.wait(30)

    def broken(_now: float) -> None:
        raise RuntimeError("always")

    timers: list[float] = []
    scheduler.add(Duty("stuck", 0.05, stuck))
    scheduler.add(Duty("broken", 0.05, broken))
    scheduler.add(Duty("timers", 0.05, timers.append))
    scheduler.start()
    try:
        assert inside.wait(10)
        wait_for(lambda: len(timers) >= 10)
        stuck_status = scheduler.get("stuck")
        assert stuck_status is not None and stuck_status.runs == 0 and stuck_status.running_for_s is not None
        wait_for(lambda: (s := scheduler.get("stuck")) is not None and s.overrunning)
        broken_status = scheduler.get("broken")
        assert broken_status is not None and broken_status.failures >= 1
    finally:
        release.set()
    wait_for(lambda: (s := scheduler.get("stuck")) is not None and s.runs >= 1 and s.overruns >= 1)


def test_a_duty_added_to_a_running_scheduler_starts_at_once(scheduler: Scheduler) -> None:
    scheduler.start()
    ran = threading.Event()
    scheduler.add(Duty("late", 3600.0, lambda _now: ran.set()))
    assert ran.wait(10)
    assert scheduler.running and scheduler.started_at is not None


def test_stop_waits_a_bounded_time_for_a_stuck_duty() -> None:
    scheduler = Scheduler()
    release, inside = threading.Event(), threading.Event()

    def stuck(_now: float) -> None:
        inside.set()
        release.wait(30)

    scheduler.add(Duty("stuck", 1.0, stuck))
    scheduler.start()
    assert inside.wait(10)
    try:
        scheduler.stop(timeout=0.1)  # returns although the duty is still inside its run
        assert not scheduler.running
    finally:
        release.set()


def test_names_are_unique_and_intervals_positive() -> None:
    scheduler = Scheduler()
    scheduler.add(Duty("one", 1.0, lambda _now: None))
    with pytest.raises(ValueError, match="already registered"):
        scheduler.add(Duty("one", 2.0, lambda _now: None))
    with pytest.raises(ValueError, match="positive"):
        Duty("zero", 0.0, lambda _now: None)
    assert scheduler.names == ["one"]
