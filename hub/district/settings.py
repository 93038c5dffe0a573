"""One district worker's settings: where PostgreSQL is, where it listens, what it is called."""

from __future__ import annotations

import socket
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.district.store import READINGS_RETENTION_DAYS


class DistrictSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOAN_DISTRICT_", extra="forbid")

    #: libpq connection string of the district database.
    dsn: str = Field(min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=1, le=65535)
    #: This worker's name in the records it stores and in the leader table (unique per worker).
    worker: str = Field(default_factory=socket.gethostname, min_length=1, max_length=64)
    #: How often queued alarm records are claimed and applied, in seconds.
    jobs_poll_s: float = Field(default=0.5, gt=0, le=60)
    #: How often the leader lock is tried (followers) or touched (the leader), in seconds. The lock session's
    #: idle bound follows it (``hub.district.leader.idle_timeout_s``): a slow poll is a slower failover.
    leader_poll_s: float = Field(default=1.0, gt=0, le=60)
    #: A school not heard from this long is marked silent by the leader, in seconds.
    silent_after_s: float = Field(default=900.0, gt=0, le=30 * 86_400)
    #: The district's copy of the readings is kept this many days (whole months: a month goes once all of it is
    #: older). The school's own hub keeps its record for the two years the food-safety law asks; a district of 500
    #: schools stores some 77 GB of readings a day (docs/district.md, "Paper model"). Everything else is kept.
    readings_retention_days: int = Field(default=READINGS_RETENTION_DAYS, ge=31, le=36_500)
    #: The pages' session cookie is sent over HTTPS only (the worker stands behind a TLS proxy). False only to try
    #: the pages over plain HTTP on one's own machine.
    secure_cookies: bool = True
    #: What the district's papers are headed with (the bureau's name).
    name: str = Field(default="区县教育局", min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    #: The district's weeks start on Monday 00:00 here (an IANA zone name).
    timezone: str = "Asia/Shanghai"
    #: An alarm acknowledged within this many seconds of firing counts as handled on time in the weekly table
    #: (10 min: when the hub's default escalation pages the next person).
    ack_on_time_s: float = Field(default=600.0, gt=0, le=86_400)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: {value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value
