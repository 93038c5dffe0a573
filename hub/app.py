"""The FastAPI application, built per process by ``create_app(settings)`` — no import-time globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from edge.agent import package_version
from hub.api import (
    alerts,
    audit,
    devices,
    gate,
    metrics,
    notifications,
    pages,
    readings,
    samples,
    silences,
    status,
)
from hub.runtime import Hub
from hub.settings import HubSettings


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
    for module in (status, devices, readings, alerts, silences, audit, metrics, notifications, samples, gate,
                   pages):
        app.include_router(module.router)
    return app
