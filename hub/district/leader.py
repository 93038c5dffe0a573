"""One leader among the district workers for the scheduled duties, elected by ``pg_try_advisory_lock``.

Each worker keeps trying the lock on a connection of its own, every ``poll_s``. The
holder runs the duties; the lock is the connection's, so it goes with the
connection:

- the leader process dies (``kill -9``, a crash): the kernel closes its socket, the
  server ends the session at once and the next worker's try wins — within ``poll_s``;
- the leader's machine vanishes (power, network): no socket is closed, so the lock
  session sets ``idle_session_timeout``. The leader touches the session every
  ``poll_s``; a silent one is ended by the server after ``idle_timeout_s(poll_s)``
  (``LOCK_IDLE_S``, or three polls where that is longer), and the lock with it
  (the server's TCP keepalives end it too, where set);
- the leader loses its connection: it stops leading at once (its next duty would
  run without the lock) and tries again like the others.

A round's duties must take well under ``LOCK_IDLE_S``: the lock session is touched
between rounds, so a longer round would let the server end it and another worker
lead while this one finishes (it notices at its next touch and stops). Long work
belongs in queued jobs (``FOR UPDATE SKIP LOCKED``), not in the leader's round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

_LOGGER = logging.getLogger(__name__)

#: The advisory lock key of the scheduler role ("xiaoan-l" as bytes).
LEADER_LOCK = 0x7869_616F_616E_2D6C
#: How often the lock is tried (followers) or touched (the leader), in seconds.
POLL_S = 1.0
#: A lock session silent this long is ended by the server (the leader's machine is gone), at the least.
LOCK_IDLE_S = 5.0
#: The lock session's idle bound in polls: the leader touches it every poll, so it must outlast several.
IDLE_POLLS = 3


def idle_timeout_s(poll_s: float) -> float:
    """How long the server lets the lock session sit idle: ``LOCK_IDLE_S``, or three polls where the poll is longer.

    A bound shorter than the poll would end the leader's own session between two of its
    touches, every round, and the duties would hop from worker to worker.
    """
    return max(LOCK_IDLE_S, IDLE_POLLS * poll_s)


class LeaderElection:
    """Try the lock and run ``duty()`` each round while it is held: a thread of its own."""

    def __init__(self, dsn: str, worker: str, duty: Callable[[], None], poll_s: float = POLL_S,
                 key: int = LEADER_LOCK) -> None:
        self.dsn, self.worker, self.duty, self.poll_s, self.key = dsn, worker, duty, poll_s, key
        self._db: psycopg.Connection[tuple[object, ...]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"district-leader-{worker}", daemon=True)
        self.leading = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._drop()

    def _drop(self) -> None:
        if self.leading.is_set():
            _LOGGER.warning("district worker %s no longer leads", self.worker)
        self.leading.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    def _try(self) -> bool:
        if self._db is None:
            self._db = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
            self._db.execute(f"SET idle_session_timeout = '{int(idle_timeout_s(self.poll_s) * 1000)}ms'")
        if self.leading.is_set():
            self._db.execute("SELECT 1")  # the lock is still ours while the session is
            return True
        row = self._db.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                held = self._try()
            except psycopg.Error:
                _LOGGER.exception("district worker %s: the leader lock's connection failed", self.worker)
                self._drop()
                held = False
            if held and not self.leading.is_set():
                _LOGGER.info("district worker %s leads the scheduled duties", self.worker)
                self.leading.set()
            if held:
                try:
                    self.duty()
                except Exception:
                    _LOGGER.exception("a leader duty failed on %s; tried again next round", self.worker)
            self._stop.wait(self.poll_s)
