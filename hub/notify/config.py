"""Channels and routes from a YAML file (``notify.yaml``), validated at start with file:line: key errors.

```yaml
channels:
  wecom_kitchen: {type: apprise, urls: ["wecombot://KEY"]}
  sms_kitchen: {type: sms, port: /dev/ttyUSB2, numbers: ["+8613800138000"]}
routes:
  staff: {always: [web, buzzer], fallback: [wecom_kitchen, sms_kitchen]}
```

A typo in a channel name or an Apprise URL Apprise cannot load refuses to start
with the line at fault — an alarm route that silently goes nowhere is the one
failure this file must not allow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge import wire
from edge.yamlconfig import ConfigError, KeyPath, load_yaml, problem
from hub.auth.roles import Role
from hub.notify.base import Channel
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import ChannelFailure, ChannelRecovered, Dispatcher, Route, Undeliverable
from hub.notify.local import EdgeBuzzerChannel, PublishCommand, WebChannel
from hub.notify.pdu import PHONE_PATTERN
from hub.notify.ratelimit import TokenBucket
from hub.notify.rota import ShiftConfig
from hub.notify.sms import MintCode, OpenSerial, SerialModem, SmsChannel, open_serial

#: Apprise schemes of chat-group bots that block for ~10 min after ~20 messages a minute.
BOT_SCHEMES = frozenset({"wecombot", "dingtalk", "feishu", "lark"})


class RateConfig(BaseModel):
    """At most ``burst + per_minute`` messages in any minute (see ``ratelimit``)."""

    model_config = ConfigDict(extra="forbid")

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


#: Bot default: 5 + 15 = 20 in any minute, the documented WeCom / DingTalk limit.
BOT_RATE = RateConfig(per_minute=15, burst=5)
#: SMS default: carriers flag bulk senders, and each message costs money.
SMS_RATE = RateConfig(per_minute=6, burst=4)


class AppriseChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: What people call it (the admin page and the route descriptions use it; the name is the id).
    label: str = Field(default="", max_length=40)

    type: Literal["apprise"]
    urls: list[str] = Field(min_length=1)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    max_chars: int = Field(default=600, ge=40)
    #: Defaults to BOT_RATE when a URL is a group bot, otherwise unlimited.
    rate: RateConfig | None = None


class SmsChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: What people call it (the admin page and the route descriptions use it; the name is the id).
    label: str = Field(default="", max_length=40)

    type: Literal["sms"]
    #: A device path (``/dev/ttyUSB2``, better a udev name like ``/dev/xiaoan-modem``) or a pyserial URL.
    port: str = Field(min_length=1)
    baudrate: int = Field(default=115200, gt=0)
    numbers: list[str] = Field(min_length=1)
    command_timeout_s: float = Field(default=5.0, gt=0)
    send_timeout_s: float = Field(default=60.0, gt=0)
    max_chars: int = Field(default=200, ge=40)
    rate: RateConfig | None = SMS_RATE

    @field_validator("numbers")
    @classmethod
    def _international(cls, numbers: list[str]) -> list[str]:
        for number in numbers:
            if not PHONE_PATTERN.match(number):
                raise ValueError(f"{number!r} is not an international number (write +86 and the 11 digits)")
        return numbers


class BuzzerChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: What people call it (the admin page and the route descriptions use it; the name is the id).
    label: str = Field(default="", max_length=40)

    type: Literal["buzzer"]


class WebChannelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: What people call it (the admin page and the route descriptions use it; the name is the id).
    label: str = Field(default="", max_length=40)

    type: Literal["web"]
    keep: int = Field(default=200, ge=1)


ChannelConfig = Annotated[AppriseChannelConfig | SmsChannelConfig | BuzzerChannelConfig | WebChannelConfig,
                          Field(discriminator="type")]
CHANNEL_TYPES = ("apprise", "sms", "buzzer", "web")


class RouteConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Every one of these gets every message (the kitchen buzzer, the web page).
    always: list[str] = Field(default_factory=list)
    #: Tried in order until one delivers.
    fallback: list[str] = Field(default_factory=list)
    #: Who this route reaches, for one-tap links (hub.auth.links): usernames, then every enabled account
    #: of these roles. Each gets a link of their own in every message that asks for an acknowledgement.
    people: list[str] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    #: Who is on duty when (hub.notify.rota): the people and roles of the shifts covering the minute a
    #: message is made replace ``people`` and ``roles``, which stay the fallback when nobody is on duty.
    rota: list[ShiftConfig] = Field(default_factory=list)


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: Literal["zh", "en"] = "zh"
    #: Where staff acknowledge: messages link to ``{hub_url}/alerts/{id}``.
    hub_url: str = "http://127.0.0.1:8000"
    #: The address phones reach the hub at (e.g. https://xiaoan.school.cn). Set, messages carry one-tap
    #: links for the people of each route; unset, they link to the alarm page, where people sign in.
    public_url: str | None = None
    #: How long a one-tap link stays good (it is good once in any case).
    link_ttl_s: float = Field(default=1800.0, ge=60, le=86400)
    timezone: str = "Asia/Shanghai"
    group_window_s: float = Field(default=120.0, ge=0)
    retry_s: float = Field(default=60.0, gt=0)
    give_up_s: float = Field(default=3600.0, gt=0)
    max_rate_wait_s: float = Field(default=120.0, ge=0)
    channels: dict[str, ChannelConfig] = Field(min_length=1)
    #: Escalation tiers by name (e.g. staff → manager → safety_officer); the engine picks the tier.
    routes: dict[str, RouteConfig] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("hub_url", "public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _without_tag(loc: KeyPath) -> KeyPath:
    # pydantic puts the discriminator value in the path (channels.x.apprise.urls); the YAML has no such key.
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
        return (*loc[:2], *loc[3:])
    return loc


def _cross_checks(config: NotifyConfig) -> list[tuple[KeyPath, str]]:
    from hub.notify.apprise_channel import invalid_urls  # noqa: PLC0415 - apprise only when configured

    found: list[tuple[KeyPath, str]] = []
    for tier, route in config.routes.items():
        if not route.fallback and not route.always:
            found.append((("routes", tier), "a route needs at least one channel"))
        for field_name in ("always", "fallback"):
            for index, name in enumerate(getattr(route, field_name)):
                if name not in config.channels:
                    found.append((("routes", tier, field_name, index),
                                  f"unknown channel {name!r} (channels: {', '.join(config.channels)})"))
    for name, channel in config.channels.items():
        if isinstance(channel, AppriseChannelConfig):
            for index in invalid_urls(channel.urls):
                scheme = urlsplit(channel.urls[index]).scheme or "?"
                found.append((("channels", name, "urls", index), f"Apprise cannot load this {scheme}:// URL"))
    return found


def validate_notify_config(data: Any, path: Path, lines: dict[KeyPath, int]) -> NotifyConfig:
    """Validate parsed YAML; every problem is reported at once, each with its file:line: key."""
    try:
        config = NotifyConfig.model_validate(data if data is not None else {})
    except ValidationError as error:
        problems = [problem(path, lines, _without_tag(tuple(e["loc"])), e["msg"]) for e in error.errors()]
        raise ConfigError(path, problems) from None
    crossed = _cross_checks(config)
    if crossed:
        raise ConfigError(path, [problem(path, lines, loc, message) for loc, message in crossed])
    return config


def load_notify_config(path: Path) -> NotifyConfig:
    """Read and validate ``notify.yaml``; raises ``ConfigError`` naming file, line and key."""
    data, lines = load_yaml(path)
    return validate_notify_config(data, path, lines)


def _no_mqtt(device: str, _command: wire.Command) -> None:
    raise RuntimeError(f"hub has no MQTT connection to reach {device}")


def build_channels(config: NotifyConfig, *, publish_command: PublishCommand | None = None,
                   web: WebChannel | None = None, opener: OpenSerial = open_serial,
                   mint_code: MintCode | None = None) -> dict[str, Channel]:
    """Instantiate every configured channel; SMS channels on the same port share one modem."""
    from hub.notify.apprise_channel import AppriseChannel  # noqa: PLC0415 - apprise only when configured

    modems: dict[str, SerialModem] = {}
    channels: dict[str, Channel] = {}
    for name, spec in config.channels.items():
        if isinstance(spec, AppriseChannelConfig):
            channels[name] = AppriseChannel(name, spec.urls, connect_timeout_s=spec.connect_timeout_s,
                                            read_timeout_s=spec.read_timeout_s, max_chars=spec.max_chars)
        elif isinstance(spec, SmsChannelConfig):
            modem = modems.setdefault(spec.port, SerialModem(
                spec.port, baudrate=spec.baudrate, command_timeout_s=spec.command_timeout_s,
                send_timeout_s=spec.send_timeout_s, opener=opener))
            channels[name] = SmsChannel(name, modem, spec.numbers, max_chars=spec.max_chars,
                                         mint_code=mint_code)
        elif isinstance(spec, BuzzerChannelConfig):
            channels[name] = EdgeBuzzerChannel(name, publish_command or _no_mqtt)
        else:
            channels[name] = web if web is not None else WebChannel(name, keep=spec.keep)
    return channels


def rate_limits(config: NotifyConfig) -> dict[str, TokenBucket]:
    """A token bucket per rate-limited channel (bots get BOT_RATE unless configured)."""
    buckets: dict[str, TokenBucket] = {}
    for name, spec in config.channels.items():
        rate: RateConfig | None = None
        if isinstance(spec, AppriseChannelConfig):
            is_bot = any(urlsplit(url).scheme in BOT_SCHEMES for url in spec.urls)
            rate = spec.rate or (BOT_RATE if is_bot else None)
        elif isinstance(spec, SmsChannelConfig):
            rate = spec.rate
        if rate is not None:
            buckets[name] = TokenBucket(per_minute=rate.per_minute, burst=rate.burst)
    return buckets


def build_dispatcher(config: NotifyConfig, channels: dict[str, Channel], log: DeliveryLog, *,
                     clock: Callable[[], float] = time.time,
                     on_channel_failure: ChannelFailure | None = None,
                     on_channel_recovered: ChannelRecovered | None = None,
                     on_undeliverable: Undeliverable | None = None) -> Dispatcher:
    """The dispatcher for a validated config and its built channels."""
    routes: Sequence[Route] = [
        Route(tier, fallback=tuple(channels[n] for n in route.fallback),
              always=tuple(channels[n] for n in route.always))
        for tier, route in config.routes.items()
    ]
    return Dispatcher(routes, log, rate_limits=rate_limits(config), group_window_s=config.group_window_s,
                      retry_s=config.retry_s, give_up_s=config.give_up_s,
                      max_rate_wait_s=config.max_rate_wait_s, clock=clock,
                      on_channel_failure=on_channel_failure, on_channel_recovered=on_channel_recovered,
                      on_undeliverable=on_undeliverable)
