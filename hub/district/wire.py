"""What a school hub forwards to the district, and the district's confirmation: the one contract both sides import.

A record is identified by ``(kind, key)`` within its school; the district stores it
under ``(site, kind, key)``, the site being the school the request authenticated as,
never a field of the body. The keys are the identities the school hub already
deduplicates by (docs/district.md, "Identities"), so a record re-sent after an outage
or a lost confirmation is recognised and stored once.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

#: Records in one forwarded batch, at most.
MAX_BATCH = 1000
#: A record's body as JSON text, at most (an alarm with its notes is far below this).
MAX_BODY_CHARS = 16_384
#: A record's key, at most.
MAX_KEY_CHARS = 300
#: A site id: what a school is called at the district (and in its MQTT topics).
SITE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: A request's body, at most: a whole batch of the largest records (UTF-8, three bytes a character) fits.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
#: The headers a school hub authenticates with.
SITE_HEADER = "X-Xiaoan-Site"
#: The district's route for forwarded batches.
RECORDS_PATH = "/district/v1/records"


class RecordKind(StrEnum):
    READING = "reading"
    EVENT = "event"
    ALARM = "alarm"
    #: An entry of the school's hash-chained audit log (hub.audit): every change a person or the hub made to
    #: checklists, work orders, samples, limits, silences, sign-offs … — with who made it. At the district it
    #: is also the chain's anchor: an entry the school rewrites after forwarding no longer matches it.
    AUDIT = "audit"
    #: One sensor's readings of one hour summed up (count, min, max, mean), for a school that forwards hours
    #: rather than every reading (``district.readings: hourly``). Readings that reach the hub late make the
    #: hour again with a higher count: a new record, and the district reads the one with the highest count.
    HOURLY = "hourly"


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _no_nul(text: str) -> str:
    # PostgreSQL text and JSONB cannot hold U+0000; no school record has one (edge.wire refuses control characters).
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


def _bounded_body(body: dict[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    except ValueError:
        # JSONB has no NaN or Infinity (Python's parser takes them, as JavaScript writes them).
        raise ValueError("body holds NaN or Infinity, which JSON does not") from None
    if len(text) > MAX_BODY_CHARS:
        raise ValueError(f"body longer than {MAX_BODY_CHARS} characters as JSON")
    if _has_nul(body):
        raise ValueError("body contains a NUL character")
    return body


#: Latest time a record may carry: 2100-01-01 UTC.
MAX_TS = 4_102_444_800
#: An alarm's id is a PostgreSQL ``bigint`` at the district.
MAX_ALARM_ID = 2**63 - 1


class AlarmBody(BaseModel):
    """The fields of an alarm record the district applies to ``alarms``, cast there to ``bigint`` and ``float8``.

    Checked at the door so a bad one is a 422 naming the field: in the queue it would
    fail its cast when applied. Strict, as the casts read the JSON text: ``true`` or
    ``"7"`` for an id, ``"soon"`` for a time would pass a lax check and fail there. The
    state is a bounded word rather than the hub's own list, so a newer school hub with a
    new state is still taken. The rest of the body is the school's data, kept as sent.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    id: int = Field(ge=1, le=MAX_ALARM_ID)
    state: str = Field(pattern=r"^[a-z][a-z_]{0,31}$")
    updated_at: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False)


_HASH = r"^[0-9a-f]{64}$"


def audit_key(entry_id: int) -> str:
    """An audit entry's key: its id in 19 digits, so that the keys' text order (the district's index) is the chain's."""
    return f"{entry_id:019d}"


class AuditBody(BaseModel):
    """An audit entry as forwarded: enough to recompute its hash (``hub.audit.entry_hash``) at the district.

    ``detail`` stays the canonical JSON text the hash covers, not an object: parsed and
    written again, its bytes (key order, number forms) could differ and the hash would
    no longer be checkable.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    id: int = Field(ge=1, le=MAX_ALARM_ID)
    ts: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100)
    subject: str = Field(max_length=500)
    detail: str
    prev_hash: str = Field(pattern=_HASH)
    hash: str = Field(pattern=_HASH)


def hourly_key(sensor: str, hour: float, count: int) -> str:
    """An hour's key: its sensor, its start in milliseconds, and its count in 7 digits, so that of an hour made
    again with late readings the key's text order puts the fullest last."""
    return f"{sensor}@{round(hour * 1000)}/{count:07d}"


#: An hour holds at most one reading per millisecond of it.
MAX_HOURLY_COUNT = 3_600_000


class HourlyBody(BaseModel):
    """An hour of one sensor: how many readings, how many were faults, and the lowest, highest and mean value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sensor: str = Field(min_length=1, max_length=200)
    hour: float = Field(ge=0, le=MAX_TS, multiple_of=3600, allow_inf_nan=False)
    count: int = Field(ge=1, le=MAX_HOURLY_COUNT)
    faults: int = Field(ge=0, le=MAX_HOURLY_COUNT)
    min: float | None = Field(allow_inf_nan=False)
    max: float | None = Field(allow_inf_nan=False)
    mean: float | None = Field(allow_inf_nan=False)


class ForwardedRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: RecordKind
    key: Annotated[str, Field(min_length=1, max_length=MAX_KEY_CHARS), AfterValidator(_no_nul)]
    ts: float = Field(ge=0, le=MAX_TS)
    body: Annotated[dict[str, Any], AfterValidator(_bounded_body)]

    @model_validator(mode="after")
    def _typed_body(self) -> ForwardedRecord:
        model = _BODIES.get(self.kind)
        if model is not None:
            try:
                model.model_validate(self.body)
            except ValidationError as error:
                first = error.errors(include_url=False)[0]
                field = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{self.kind.value} body.{field}: {first['msg']}") from None
            if self.kind is RecordKind.AUDIT and self.key != audit_key(self.body["id"]):
                raise ValueError("audit key: must be the entry's id in 19 digits")
            if self.kind is RecordKind.HOURLY and (
                    self.key != hourly_key(self.body["sensor"], self.body["hour"], self.body["count"])
                    or self.ts != self.body["hour"]):
                raise ValueError("hourly key: must be the body's sensor@hour_ms/count (7 digits), ts its hour")
        return self


#: The kinds whose body the district reads field by field, and so checks at the door.
_BODIES: dict[RecordKind, type[BaseModel]] = {RecordKind.ALARM: AlarmBody, RecordKind.AUDIT: AuditBody,
                                              RecordKind.HOURLY: HourlyBody}


class ForwardBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    records: tuple[ForwardedRecord, ...] = Field(min_length=1, max_length=MAX_BATCH)


assert MAX_BATCH * (MAX_BODY_CHARS + MAX_KEY_CHARS + 200) * 3 < MAX_REQUEST_BYTES


class BatchStored(BaseModel):
    """Sent only after the district committed the batch: the school may now delete it from its outbox."""

    stored: int
    duplicates: int
