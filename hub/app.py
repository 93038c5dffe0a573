"""The FastAPI application, built per process by ``create_app(settings)`` — no import-time globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles

from edge.agent import package_version
from hub.api import (
    admin_channels,
    admin_notify,
    admin_setup,
    alerts,
    audit,
    auth,
    calibration,
    checks,
    device_admin,
    devices,
    errors,
    gate,
    limits,
    links,
    metrics,
    notes,
    notifications,
    pages,
    photos,
    places,
    readings,
    reports,
    samples,
    silences,
    status,
    stream,
    visitors,
)
from hub.auth.headers import SecurityHeaders
from hub.errors import FieldError
from hub.http_limits import BodyLimit
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import SeriesUnreachable
from hub.web.broadcast import StreamSlots
from hub.web.render import STATIC


def create_app(settings: HubSettings, hub: Hub | None = None) -> FastAPI:
    """Build the app; with no ``hub`` given, the app builds one and runs it for its lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = hub is None
        runtime = hub or Hub(settings)
        app.state.hub = runtime
        if owned:
            runtime.start()
        try:
            yield
        finally:
            if owned:
                runtime.stop()

    app = FastAPI(title="xiaoan hub", version=package_version(), lifespan=lifespan,
                  description="校安 xiaoan: cold-chain, food-sample and gate monitoring for schools.")
    app.state.stream_slots = StreamSlots(settings.stream_max_per_account, settings.stream_max_total)
    app.add_middleware(stream.StreamGate, slots=app.state.stream_slots)
    app.add_middleware(SecurityHeaders)
    # Added last, so it runs first: a body over its cap is refused before anything reads it or checks credentials.
    app.add_middleware(BodyLimit, max_body_bytes=settings.http_max_body_bytes,
                       max_photo_body_bytes=settings.http_max_photo_body_bytes)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(FieldError, errors.field_error)
    app.add_exception_handler(SeriesUnreachable, errors.series_unreachable)
    for module in (status, auth, devices, readings, alerts, silences, audit, metrics, notifications, samples, checks,
                   gate, reports, limits, photos, notes, admin_notify, admin_channels, admin_setup, device_admin,
                   stream, links, calibration, visitors, places, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
