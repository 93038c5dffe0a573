"""Refusals written back as JSON: malformed requests, and the features' own field errors.

FastAPI's own 422 repeats the offending input. When that input is NaN or ±Infinity
(which Python's JSON parser takes, as JavaScript writes them), strict JSON cannot carry
it back, and the refusal itself failed as a 500. Here such numbers are named as text.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from hub.errors import FieldError


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name ("nan", "inf", "-inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


async def validation_error(_request: Request, error: Exception) -> JSONResponse:
    """The same 422 as FastAPI's, with the offending input made JSON-safe."""
    assert isinstance(error, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(error.errors()))})


async def field_error(_request: Request, error: Exception) -> JSONResponse:
    """A feature's refusal (``hub.errors.FieldError``) as the answer clients read: its status, field and message.

    The body is ``{"detail": {"field": …, "message": …}}``; a refusal of the request as a
    whole (an alert's state refusing an action) names no field, and its ``detail`` stays
    the message itself, as the pages and integrations have always read it.
    """
    assert isinstance(error, FieldError)
    detail: str | dict[str, str] = (error.message if error.field is None
                                    else {"field": error.field, "message": error.message})
    return JSONResponse(status_code=error.status, content={"detail": detail})


#: How long a client waits before asking again while the readings' database is away (seconds).
SERIES_RETRY_AFTER_S = 30


async def series_unreachable(_request: Request, error: Exception) -> JSONResponse:
    """The readings' database (PostgreSQL, InfluxDB) does not answer: 503, said as such, not a 500.

    Only readings, charts and reports need it; the rest of the hub answers as usual, and
    the hub's ``store_cannot_write`` alarm already tells the people who can fix it.
    """
    return JSONResponse(status_code=503, headers={"Retry-After": str(SERIES_RETRY_AFTER_S)},
                        content={"detail": "读数数据库暂时无法连接，请稍后再试 · the readings' database cannot be"
                                           " reached; try again shortly"})
