"""The hub's periodic duties — alert timers, gate sweeps, reports, retention… — each on a thread of its own.

Why a thread per duty and not one loop or a small pool: the duties differ by orders
of magnitude (the alert engine's timers take milliseconds every second, a weekly
report or a year of retention can take minutes), and the one that raises alarms
must never wait behind another. One loop serialises them all; a pool of N threads
is starved as soon as N slow duties overlap, and then needs per-duty serialisation
and a queue policy on top. A dozen mostly sleeping threads cost a few hundred
kilobytes even on a Raspberry Pi, and give the simplest isolation there is: a duty
that raises is logged and counted and runs again next round; a duty that runs long
delays only its own next round (counted as an overrun) — never ingest, never the
other duties.

Every duty is timed (last run, duration, runs, failures, overruns) for ``/metrics``
and ``/api/health``. The wall clock handed to the duties and the monotonic clock
used for intervals are injectable, and ``tick`` runs every duty once in the
caller's thread, so tests drive time without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    """A named piece of periodic work: ``run(now)`` about every ``interval_s`` seconds.

    ``first_after_s``: how long after start the first round waits (0: at once). Heavy
    duties wait a while, so a hub that starts catches up with its broker first.
    """

    name: str
    interval_s: float
    run: Callable[[float], object]
    first_after_s: float = 0.0

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError(f"duty {self.name!r}: interval must be positive, not {self.interval_s}")


@dataclass(frozen=True)
class DutyStatus:
    """A snapshot of one duty's timing, for the metrics and the health report."""

    name: str
    interval_s: float
    #: Wall-clock start of the last finished run (None: not run yet).
    last_run: float | None
    last_duration_s: float | None
    #: Wall-clock end of the last run that did not raise (None: none yet).
    last_ok: float | None
    runs: int
    failures: int
    #: Failures since the last run that did not raise.
    consecutive_failures: int
    overruns: int
    #: Seconds the run in progress has taken so far (None: not running now).
    running_for_s: float | None

    @property
    def overrunning(self) -> bool:
        """The run in progress, or the last one, took longer than the interval."""
        if self.running_for_s is not None and self.running_for_s > self.interval_s:
            return True
        return self.last_duration_s is not None and self.last_duration_s > self.interval_s

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0


class _Slot:
    """One registered duty, its counters and its thread."""

    def __init__(self, duty: Duty) -> None:
        self.duty = duty
        #: Serialises runs of this duty: its own thread and ``Scheduler.tick`` never overlap.
        self.run_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.last_run: float | None = None
        self.last_duration: float | None = None
        self.last_ok: float | None = None
        self.runs = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.overruns = 0
        self.running_since: float | None = None


class Scheduler:
    """Runs registered duties, each on its own thread, until ``stop``."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._monotonic = monotonic
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started_at: float | None = None

    def add(self, duty: Duty) -> None:
        """Register a duty; on a running scheduler it starts at once."""
        with self._lock:
            if duty.name in self._slots:
                raise ValueError(f"a duty named {duty.name!r} is already registered")
            slot = _Slot(duty)
            self._slots[duty.name] = slot
            if self._started_at is not None and not self._stop.is_set():
                self._launch(slot)

    @property
    def names(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    @property
    def running(self) -> bool:
        return self._started_at is not None and not self._stop.is_set()

    @property
    def started_at(self) -> float | None:
        """Wall-clock time of ``start`` (None: never started)."""
        return self._started_at

    def start(self) -> None:
        with self._lock:
            if self._started_at is not None:
                raise RuntimeError("the scheduler runs already (or ran: a stopped one does not restart)")
            self._started_at = self.clock()
            for slot in self._slots.values():
                self._launch(slot)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every duty; waits at most ``timeout`` seconds in all for runs in progress to end.

        A duty still running after that is left to finish on its (daemon) thread and logged:
        stopping the hub must not hang on a report build or a stuck network call.
        """
        self._stop.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            if slot.thread is not None:
                slot.thread.join(max(0.0, deadline - time.monotonic()))
                if slot.thread.is_alive():
                    _LOGGER.warning("duty %s still running at stop; left to finish on its own", slot.duty.name)

    def tick(self, now: float | None = None) -> None:
        """Run every duty once, now, in the caller's thread (tests drive time with this)."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            self._run(slot, now)

    def run_now(self, name: str, now: float | None = None) -> None:
        """Run one duty once, now, in the caller's thread."""
        with self._lock:
            slot = self._slots[name]
        self._run(slot, now)

    def status(self) -> list[DutyStatus]:
        """Every duty's timing, in registration order."""
        mono = self._monotonic()
        with self._lock:
            slots = list(self._slots.values())
        result = []
        for slot in slots:
            with self._lock:  # the counters change together at the end of a run
                since = slot.running_since
                result.append(DutyStatus(
                    name=slot.duty.name, interval_s=slot.duty.interval_s, last_run=slot.last_run,
                    last_duration_s=slot.last_duration, last_ok=slot.last_ok, runs=slot.runs,
                    failures=slot.failures, consecutive_failures=slot.consecutive_failures,
                    overruns=slot.overruns, running_for_s=None if since is None else max(0.0, mono - since)))
        return result

    def get(self, name: str) -> DutyStatus | None:
        return next((status for status in self.status() if status.name == name), None)

    # -- inside ----------------------------------------------------------------------------------

    def _launch(self, slot: _Slot) -> None:
        slot.thread = threading.Thread(target=self._loop, args=(slot,), name=f"duty-{slot.duty.name}",
                                       daemon=True)
        slot.thread.start()

    def _loop(self, slot: _Slot) -> None:
        duty = slot.duty
        due = self._monotonic() + duty.first_after_s
        while not self._stop.wait(max(0.0, due - self._monotonic())):
            started = self._monotonic()
            self._run(slot, None)
            # Fixed rate while the duty keeps up; after an overrun the next round starts at once,
            # without a burst of catch-up rounds (the rounds in between are skipped, not queued).
            due = max(started + duty.interval_s, self._monotonic())

    def _run(self, slot: _Slot, now: float | None) -> None:
        duty = slot.duty
        with slot.run_lock:
            wall = self.clock() if now is None else now
            started = self._monotonic()
            with self._lock:
                slot.running_since = started
            ok = True
            try:
                duty.run(wall)
            except Exception:
                ok = False
                _LOGGER.exception("duty %s failed; it runs again in %gs", duty.name, duty.interval_s)
            duration = self._monotonic() - started
            with self._lock:
                slot.running_since = None
                slot.last_run = wall
                slot.last_duration = duration
                slot.runs += 1
                if ok:
                    slot.consecutive_failures = 0
                    slot.last_ok = self.clock()
                else:
                    slot.failures += 1
                    slot.consecutive_failures += 1
                if duration > duty.interval_s:
                    slot.overruns += 1
            if duration > duty.interval_s:
                _LOGGER.warning("duty %s took %.1fs, longer than its %gs interval", duty.name, duration,
                                duty.interval_s)
