"""The one refusal every feature raises: a field at fault, a message for the person, the HTTP status it means.

Features (samples, gate, accounts, reports, limit edits, alert actions …) refuse input
for their own reasons, but a client sees the same thing from each: ``{"detail":
{"field": …, "message": …}}`` with 422 for bad input, 409 for a request the record's
state does not allow, 404 for a record that does not exist. One app-level handler
(``hub.api.errors.field_error``) writes it, so routes raise and never translate.

Nothing here imports FastAPI: the features raise these without knowing about HTTP.
"""

from __future__ import annotations


class FieldError(ValueError):
    """A request the hub refuses; ``field`` names the key at fault (None: the request as a whole)."""

    #: The HTTP status a subclass means unless the raiser says otherwise.
    status: int = 422

    def __init__(self, field: str | None, message: str, status: int | None = None) -> None:
        super().__init__(f"{field}: {message}" if field is not None else message)
        self.field = field
        self.message = message
        if status is not None:
            self.status = status


class NotFound(FieldError):
    """The record the request names does not exist (404)."""

    status = 404


class Conflict(FieldError):
    """A valid request the record's present state does not allow (409)."""

    status = 409
