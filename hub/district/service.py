"""One district worker: the routes, the alarm queue and (when elected) the scheduled duties, built from settings.

Any number of workers, on any machines, run this against one database; none of them
is special except the one the leader election picks for the scheduled duties.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from hub.api import errors
from hub.auth.credentials import Passwords
from hub.district import admin_pages, api, pages
from hub.district.leader import LeaderElection
from hub.district.settings import DistrictSettings
from hub.district.store import DistrictStore

_LOGGER = logging.getLogger(__name__)
#: The role the leader election is for, as named in the ``leader`` table.
SCHEDULER = "scheduler"
#: How often the leader drops months of readings past their retention (months end rarely).
RETENTION_EVERY_S = 3600.0


class DistrictWorker:
    def __init__(self, settings: DistrictSettings) -> None:
        self.settings = settings
        self.store = DistrictStore(settings.dsn, settings.worker, settings.readings_retention_days)
        self.election = LeaderElection(settings.dsn, settings.worker, self._lead, settings.leader_poll_s)
        self._stop = threading.Event()
        #: When the leader next looks for months of readings past their retention.
        self._next_retention = 0.0
        self._jobs = threading.Thread(target=self._run_jobs, name="district-alarm-jobs", daemon=True)

    def _lead(self) -> None:
        """The scheduled duties, run by the leader only."""
        self.store.beat(SCHEDULER)
        silent = self.store.mark_silent(self.settings.silent_after_s)
        if silent:
            _LOGGER.warning("%d school(s) fell silent (no contact for %.0f s)", silent, self.settings.silent_after_s)
        now = time.time()
        if now >= self._next_retention:
            self._next_retention = now + RETENTION_EVERY_S
            for name in self.store.drop_expired_readings(now):
                _LOGGER.info("readings of %s dropped: older than %d days", name.removeprefix("records_readings_"),
                             self.settings.readings_retention_days)

    def _run_jobs(self) -> None:
        while not self._stop.is_set():
            try:
                while self.store.apply_alarm_jobs():
                    pass
            except Exception:
                _LOGGER.exception("applying queued alarm records failed; tried again shortly")
            self._stop.wait(self.settings.jobs_poll_s)

    def start(self) -> None:
        self._jobs.start()
        self.election.start()

    def stop(self) -> None:
        self._stop.set()
        self.election.stop()
        self._jobs.join(10)
        self.store.close()


def create_district_app(settings: DistrictSettings) -> FastAPI:
    """The district's app; the worker is built and run for the app's lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = DistrictWorker(settings)
        app.state.district = worker.store
        app.state.settings = settings
        app.state.passwords = Passwords()
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="xiaoan district", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(admin_pages.router)
    return app
