"""The admin page's channel forms: one per kind of channel, turned into the notify config's channel and back.

The notify config keeps what the dispatcher needs (Apprise URLs, a modem port); people
think in kinds — a WeCom group bot, a DingTalk bot with its signing secret, an SMTP
account. ``channel_config`` builds the config's channel from a filled form, naming the
field at fault; ``describe`` reads a configured channel back into its kind and fields,
with every secret masked (``…a1b2``): a key once saved is never shown again in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import FieldError
from hub.notify.config import AppriseChannelConfig, ChannelConfig, SmsChannelConfig
from hub.notify.pdu import PHONE_PATTERN

#: What stands for the part of a secret that is not shown.
ELLIPSIS = "…"
#: The host of WeCom's group-bot webhook (the URL people copy from the group's bot settings).
WECOM_HOST = "qyapi.weixin.qq.com"


class ChannelKind(StrEnum):
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉自定义机器人
    FEISHU = "feishu"  # 飞书自定义机器人
    EMAIL = "email"  # 电子邮件（SMTP）
    WEBHOOK = "webhook"  # 其他系统的 Webhook（JSON POST）
    SMS = "sms"  # 4G 短信模块
    BUZZER = "buzzer"  # 厨房蜂鸣器（设备上）
    WEB = "web"  # 网页
    OTHER = "other"  # Apprise URLs the forms do not cover (set through an imported YAML)


#: The kinds that have a form on the admin page.
FORM_KINDS = (ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU, ChannelKind.EMAIL, ChannelKind.WEBHOOK,
              ChannelKind.SMS)


def mask(secret: str) -> str:
    """``…`` and the last four characters: enough to tell two keys apart, not enough to use one."""
    tail = secret.rstrip("/")[-4:] if len(secret) > 8 else ""
    return ELLIPSIS + tail


def is_masked(value: str) -> bool:
    return value.startswith(ELLIPSIS) or f"://{ELLIPSIS}" in value


class ChannelForm(BaseModel):
    """What the admin typed; the fields a kind does not use are ignored. Empty secret: keep the saved one."""

    model_config = ConfigDict(extra="forbid")

    kind: ChannelKind
    label: str = Field(default="", max_length=40)
    # WeCom: the key, or the whole webhook URL copied from the group (…/send?key=KEY)
    key: str = Field(default="", max_length=500)
    # DingTalk / Feishu: the access token (or the whole webhook URL); DingTalk's 加签 secret (SEC…)
    token: str = Field(default="", max_length=500)
    secret: str = Field(default="", max_length=200)
    # e-mail
    smtp_host: str = Field(default="", max_length=200)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    security: str = Field(default="ssl", pattern=r"^(ssl|starttls)$")
    username: str = Field(default="", max_length=200)
    password: str = Field(default="", max_length=200)
    sender: str = Field(default="", max_length=200)
    recipients: list[str] = Field(default_factory=list, max_length=20)
    # webhook
    url: str = Field(default="", max_length=1000)
    # SMS modem
    port: str = Field(default="", max_length=200)
    numbers: list[str] = Field(default_factory=list, max_length=20)


@dataclass(frozen=True)
class ChannelView:
    """A configured channel as the page shows it: kind, label, fields (secrets masked)."""

    name: str
    kind: ChannelKind
    label: str
    fields: dict[str, Any] = field(default_factory=dict)


def _need(value: str, name: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise FieldError(name, f"{what} is required")
    if any(c.isspace() for c in value):
        raise FieldError(name, f"{what} must not contain spaces")
    return value


def _token_of(value: str, name: str, what: str, query_key: str) -> str:
    """A bare token, or the token taken out of the whole webhook URL someone pasted."""
    value = _need(value, name, what)
    if "://" not in value:
        if not all(c.isalnum() or c in "-_" for c in value):
            raise FieldError(name, f"{what} has characters a token does not have")
        return value
    parts = urlsplit(value)
    found = dict(parse_qsl(parts.query)).get(query_key) or parts.path.rstrip("/").rsplit("/", 1)[-1]
    if not found or not all(c.isalnum() or c in "-_" for c in found):
        raise FieldError(name, f"no {what} in this URL (it ends with ?{query_key}=… or /…)")
    return found


def _kept(new: str, old: str | None, name: str, what: str) -> str:
    """The typed secret, or the saved one when the field was left empty (or still shows the mask)."""
    if new.strip() and not is_masked(new.strip()):
        return new.strip()
    if old:
        return old
    raise FieldError(name, f"{what} is required")


def _http_url(value: str, name: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError(name, "must be a web address starting with http:// or https://")
    if any(c.isspace() for c in value):
        raise FieldError(name, "must not contain spaces")
    return value


def _email(value: str, name: str) -> str:
    value = value.strip()
    local, at, domain = value.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() or c in "/?&#" for c in value):
        raise FieldError(name, f"{value!r} is not an e-mail address")
    return value


def channel_config(form: ChannelForm, previous: ChannelConfig | None = None) -> ChannelConfig:
    """The notify config's channel for a filled form; ``previous`` supplies secrets left empty and kept options."""
    old = describe_secrets(previous)
    keep: dict[str, Any] = {}
    if previous is not None and describe("", previous).kind is form.kind:
        keep = previous.model_dump(exclude={"type", "urls", "port", "numbers", "label"}, exclude_defaults=True)
    label = form.label.strip()
    if form.kind is ChannelKind.SMS:
        port = _need(form.port, "port", "the modem's serial port")
        if not (port.startswith("/dev/") or "://" in port):
            raise FieldError("port", "a device path such as /dev/ttyUSB2 (better /dev/xiaoan-modem)")
        numbers = [n.strip().replace(" ", "").replace("-", "") for n in form.numbers if n.strip()]
        if not numbers:
            raise FieldError("numbers", "at least one phone number")
        for number in numbers:
            if not PHONE_PATTERN.match(number):
                raise FieldError("numbers", f"{number!r} is not an international number (write +86 and the 11 digits)")
        return SmsChannelConfig(type="sms", port=port, numbers=numbers, label=label, **keep)
    url = _apprise_url(form, old)
    from hub.notify.apprise_channel import invalid_urls  # noqa: PLC0415 - apprise only when configured

    if invalid_urls([url]):
        raise FieldError(_MAIN_FIELD[form.kind], "the notification library cannot use this; check it")
    return AppriseChannelConfig(type="apprise", urls=[url], label=label, **keep)


_MAIN_FIELD = {ChannelKind.WECOM: "key", ChannelKind.DINGTALK: "token", ChannelKind.FEISHU: "token",
               ChannelKind.EMAIL: "smtp_host", ChannelKind.WEBHOOK: "url"}


def _apprise_url(form: ChannelForm, old: dict[str, str]) -> str:
    if form.kind is ChannelKind.WECOM:
        key = _token_of(_kept(form.key, old.get("key"), "key", "the bot's key"), "key", "the bot's key", "key")
        return f"wecombot://{key}"
    if form.kind is ChannelKind.DINGTALK:
        token = _token_of(_kept(form.token, old.get("token"), "token", "the access token"), "token",
                          "the access token", "access_token")
        secret = form.secret.strip()
        if is_masked(secret) or (not secret and old.get("secret") and form.secret == ""):
            secret = old.get("secret", "")
        if secret and not (secret.startswith("SEC") and secret.isalnum()):
            raise FieldError("secret", "the signing secret starts with SEC (加签 in the bot's security settings)")
        return f"dingtalk://{secret}@{token}/" if secret else f"dingtalk://{token}/"
    if form.kind is ChannelKind.FEISHU:
        token = _token_of(_kept(form.token, old.get("token"), "token", "the bot's token"), "token",
                          "the bot's token", "token")
        return f"feishu://{token}"
    if form.kind is ChannelKind.EMAIL:
        host = _need(form.smtp_host, "smtp_host", "the SMTP server")
        if not all(c.isalnum() or c in ".-" for c in host):
            raise FieldError("smtp_host", "a server name such as smtp.example.edu.cn")
        username = _need(form.username, "username", "the account")
        password = _kept(form.password, old.get("password"), "password", "the password")
        sender = _email(form.sender or username, "sender")
        recipients = [_email(r, "recipients") for r in form.recipients if r.strip()]
        if not recipients:
            raise FieldError("recipients", "at least one address to send to")
        port = form.smtp_port or (465 if form.security == "ssl" else 587)
        query = urlencode({"to": ",".join(recipients), "from": sender, "mode": form.security}, safe="@,")
        return f"mailtos://{quote(username, safe='')}:{quote(password, safe='')}@{host}:{port}?{query}"
    if form.kind is ChannelKind.WEBHOOK:
        typed = form.url.strip()
        url = _http_url(old["url"] if (not typed or is_masked(typed)) and "url" in old else typed, "url")
        parts = urlsplit(url)
        # Apprise passes a query parameter on to the endpoint only when it is written ``-name=value``.
        query = urlencode([(f"-{k}", v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
        return urlunsplit(("jsons" if parts.scheme == "https" else "json", parts.netloc, parts.path, query, ""))
    raise FieldError("kind", f"no form for {form.kind.value}")


def _kind_of(url: str) -> ChannelKind:
    scheme = urlsplit(url).scheme
    if scheme == "wecombot":
        return ChannelKind.WECOM
    if scheme == "dingtalk":
        return ChannelKind.DINGTALK
    if scheme in ("feishu", "lark"):
        return ChannelKind.FEISHU
    if scheme in ("mailto", "mailtos"):
        return ChannelKind.EMAIL
    if scheme in ("json", "jsons"):
        return ChannelKind.WEBHOOK
    return ChannelKind.OTHER


def describe_secrets(spec: ChannelConfig | None) -> dict[str, str]:
    """The secrets of a configured channel in full, by form field (for keeping those left empty)."""
    if not isinstance(spec, AppriseChannelConfig) or len(spec.urls) != 1:
        return {}
    url = spec.urls[0]
    parts = urlsplit(url)
    kind = _kind_of(url)
    rest = url.split("://", 1)[1].split("?", 1)[0] if kind is not ChannelKind.WEBHOOK else ""
    if kind is ChannelKind.WECOM:
        return {"key": rest.strip("/")}
    if kind is ChannelKind.DINGTALK:
        secret, at, token = rest.rstrip("/").rpartition("@")
        return {"token": token, **({"secret": secret} if at else {})}
    if kind is ChannelKind.FEISHU:
        return {"token": rest.strip("/")}
    if kind is ChannelKind.EMAIL:
        return {"password": unquote(parts.password or "")}
    if kind is ChannelKind.WEBHOOK:
        query = urlencode([(k.removeprefix("-"), v) for k, v in parse_qsl(parts.query, keep_blank_values=True)])
        scheme = "https" if parts.scheme == "jsons" else "http"
        return {"url": urlunsplit((scheme, parts.netloc, parts.path, query, ""))}
    return {}


def describe(name: str, spec: ChannelConfig) -> ChannelView:
    """A configured channel as its kind and fields, every secret masked."""
    label = spec.label
    if isinstance(spec, SmsChannelConfig):
        return ChannelView(name, ChannelKind.SMS, label, {"port": spec.port, "numbers": list(spec.numbers)})
    if not isinstance(spec, AppriseChannelConfig):
        return ChannelView(name, ChannelKind(spec.type), label)
    if len(spec.urls) != 1:
        return ChannelView(name, ChannelKind.OTHER, label, {"urls": [mask_url(u) for u in spec.urls]})
    url = spec.urls[0]
    kind = _kind_of(url)
    secrets = describe_secrets(spec)
    if kind is ChannelKind.EMAIL:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        return ChannelView(name, kind, label, {
            "smtp_host": parts.hostname or "", "smtp_port": parts.port, "security": query.get("mode", "ssl"),
            "username": unquote(parts.username or ""), "password": mask(secrets.get("password", "")),
            "sender": query.get("from", ""), "recipients": [r for r in query.get("to", "").split(",") if r]})
    if kind is ChannelKind.WEBHOOK:
        parts = urlsplit(secrets["url"])
        return ChannelView(name, kind, label, {"host": parts.hostname or "", "url": mask(secrets["url"])})
    if kind is ChannelKind.OTHER:
        return ChannelView(name, kind, label, {"urls": [mask_url(url)]})
    return ChannelView(name, kind, label, {key: mask(value) for key, value in secrets.items()})


def mask_url(url: str) -> str:
    """An Apprise URL with everything after the scheme masked: ``wecombot://…a1b2``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{mask(rest)}"
