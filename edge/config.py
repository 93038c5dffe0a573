"""The edge agent's settings: one typed object, read from one YAML file and validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.wire import ID_PATTERN


class _Strict(BaseModel):
    # A misspelt key is a mistake the installer wants to hear about, not to have ignored.
    model_config = ConfigDict(extra="forbid")


class TlsSettings(_Strict):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


class BrokerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str
    password: str | None = None
    #: A file holding the password, so the config itself can be world-readable.
    password_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=600)
    tls: TlsSettings | None = None

    @model_validator(mode="after")
    def _one_password(self) -> BrokerSettings:
        if self.password is None and self.password_file is None:
            raise ValueError("set broker.password or broker.password_file (anonymous access is refused)")
        return self

    def resolved_password(self) -> str:
        if self.password is not None:
            return self.password
        assert self.password_file is not None
        return self.password_file.read_text(encoding="utf-8").strip()


class OutboxSettings(_Strict):
    #: Upper bound on stored messages; past it the oldest *readings* go (never events) and are counted.
    max_messages: int = Field(default=200_000, ge=10)
    #: ``full`` fsyncs every commit (survives a power cut); ``normal`` survives a crash of the agent only.
    reading_sync: Literal["full", "normal"] = "full"
    #: Messages handed to the broker and not yet acknowledged by it (PUBACK) at once.
    window: int = Field(default=200, ge=1, le=10_000)
    #: Messages published and not yet confirmed by the hub (``stored``) at once. Past it the agent
    #: waits: a hub away for a day then finds its backlog on the edges' disks, not in the broker's
    #: memory, and a resend is never larger than this.
    unconfirmed_max: int = Field(default=1000, ge=1, le=100_000)
    #: Published rows the hub has not confirmed this long after sending, although it has been heard
    #: since (its heartbeat), are sent again; the wait doubles while nothing is confirmed (up to 8×).
    confirm_timeout_s: float = Field(default=30, ge=0.5)
    #: Disk space the outbox keeps aside (a file beside it) for its first write after the disk filled
    #: up: from there it evicts the oldest readings to make room (edge.outbox). 0: none.
    reserve_bytes: int = Field(default=4 * 1024 * 1024, ge=0)
    #: A row written less than this long ago (by this run of the agent) is live: sent before any backlog,
    #: on the live lane. Older rows — a backlog after an outage — go on the backfill lane, with what is
    #: left of the window (docs/protocol.md, "Lanes").
    live_age_s: float = Field(default=60.0, ge=0, le=3600)
    #: Places of the window (and of ``unconfirmed_max``) the backlog may never take: kept for live rows.
    live_reserve: int = Field(default=20, ge=1, le=10_000)

    @model_validator(mode="after")
    def _window_within_unconfirmed(self) -> OutboxSettings:
        if self.window > self.unconfirmed_max:
            raise ValueError(f"outbox.window ({self.window}) may not exceed outbox.unconfirmed_max"
                             f" ({self.unconfirmed_max}): every row in flight is also unconfirmed")
        return self


class SourceSettings(BaseModel):
    """One source entry; ``kind`` picks the class, the other keys are that kind's own (checked by it)."""

    model_config = ConfigDict(extra="allow")

    kind: str
    sensor: str = Field(default="", pattern=r"^$|" + ID_PATTERN)

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LocalAlarmSettings(_Strict):
    """Fail-local: sound the buzzer when a limit is crossed and the hub cannot be reached."""

    enabled: bool = True
    #: No hub heartbeat for this long counts as "hub unreachable".
    hub_silence_s: float = Field(default=120, gt=0)
    #: An excursion must last this long before the local buzzer sounds.
    delay_s: float = Field(default=900, ge=0)


class OutputSettings(_Strict):
    """The buzzer and LEDs on the node; with no buzzer or LED configured the alarm only logs."""

    #: BCM pin numbers (or gpiozero pin names) of an active buzzer and of LEDs.
    buzzer_pin: int | str | None = None
    #: ``false`` for buzzer boards that sound when their input is pulled low.
    buzzer_active_high: bool = True
    alarm_led_pin: int | str | None = None
    #: Lit while the agent runs: a dark LED tells the cook the node itself is down.
    status_led_pin: int | str | None = None
    #: Sample station: lit while food samples are held, blinking when some may be discarded (hub-driven).
    samples_led_pin: int | str | None = None
    #: A push button (to GND, the internal pull-up is used) that silences the buzzer here and tells the hub,
    #: which records it as an acknowledgement by this device.
    alarm_button_pin: int | str | None = None
    #: ``false`` for a button wired to 3V3 (an external pull-down): pressed reads high.
    alarm_button_pull_up: bool = True
    beep_on_s: float = Field(default=0.5, gt=0)
    beep_off_s: float = Field(default=0.5, gt=0)

    @property
    def configured(self) -> bool:
        return any(p is not None for p in (self.buzzer_pin, self.alarm_led_pin, self.status_led_pin))


class EdgeSettings(_Strict):
    site: str = Field(pattern=ID_PATTERN)
    device: str = Field(pattern=ID_PATTERN)
    broker: BrokerSettings
    state_dir: Path = Path("/var/lib/xiaoan-edge")
    heartbeat_s: float = Field(default=30, gt=0)
    #: ``kernel``: trust the clock once NTP has synced it (a Pi has no RTC); ``assume``: a server's clock.
    clock_sync_check: Literal["kernel", "assume"] = "kernel"
    outbox: OutboxSettings = OutboxSettings()
    local_alarm: LocalAlarmSettings = LocalAlarmSettings()
    outputs: OutputSettings = OutputSettings()
    sources: list[SourceSettings] = Field(min_length=1)
