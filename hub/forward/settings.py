"""The ``district`` slice of the hub's settings: off unless a district gave the school a site id and a token."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.district.wire import MAX_BATCH, SITE_PATTERN


class ReadingsForward(StrEnum):
    """What of the readings goes to the district: the school's choice."""

    RAW = "raw"
    HOURLY = "hourly"
    NONE = "none"


class DistrictLink(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    #: What the district calls this school (``python -m hub.district add-site`` registered it).
    site: str = ""
    #: The district's workers, tried in turn: a refused or failed send moves on to the next.
    urls: tuple[str, ...] = ()
    #: The token ``add-site`` printed (or ``token_file``, readable by the hub only).
    token: str | None = Field(default=None, repr=False)
    token_file: Path | None = None
    #: Every reading (``raw``), each sensor's hours summed up (``hourly``: count, min, max, mean, about 1/360 of the
    #: rows at one reading every 10 s), or none (``none``: events, alarms and the audit log only).
    #: ``true``/``false`` from before mean ``raw``/``none``.
    readings: ReadingsForward = ReadingsForward.RAW
    #: Forward the audit log: who changed what in checklists, work orders, samples, limits, sign-offs, with the
    #: hash chain, so the district holds a copy nobody at the school can rewrite afterwards.
    audit: bool = True
    #: Records per request, at most.
    batch: int = Field(default=500, ge=1, le=MAX_BATCH)
    #: Waits after a failed send: doubling from ``retry_min_s`` up to ``retry_max_s``.
    retry_min_s: float = Field(default=1.0, gt=0, le=3600)
    retry_max_s: float = Field(default=300.0, gt=0, le=86_400)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    #: How often the outbox is looked at, in seconds.
    tick_s: float = Field(default=1.0, gt=0, le=3600)
    #: A link failing this long raises a warning (the school works on without the district, so not at once);
    #: a token the district refuses raises it at the first refusal: that does not mend itself.
    alarm_after_s: float = Field(default=6 * 3600.0, gt=0, le=30 * 86_400)

    @field_validator("readings", mode="before")
    @classmethod
    def _yes_or_no_from_before(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"  # from an environment variable
        if isinstance(value, bool):
            return ReadingsForward.RAW if value else ReadingsForward.NONE
        return value

    @model_validator(mode="after")
    def _complete(self) -> DistrictLink:
        if not self.enabled:
            return self
        if not SITE_PATTERN.match(self.site):
            raise ValueError("district.site: a site id is required (lower-case letters, digits, - and _)")
        if not self.urls or not all(u.startswith(("http://", "https://")) for u in self.urls):
            raise ValueError("district.urls: at least one http:// or https:// address of a district worker")
        if self.token is None and self.token_file is None:
            raise ValueError("district.token: the school's token (or district.token_file) is required")
        if self.retry_min_s > self.retry_max_s:
            raise ValueError("district.retry_min_s: longer than district.retry_max_s")
        return self

    def secret(self) -> str:
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        return self.token_file.read_text(encoding="utf-8").strip()
