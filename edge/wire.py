"""The wire contract between edge agents and the hub (topic tree and payloads, version 1).

This module is the single definition both sides import: the edge publishes what it
describes and the hub validates against it. It lives on the edge side because an
edge agent must run with nothing of the hub installed.

Topic tree: ``xiaoan/v1/{site}/{device}/{channel}``; telemetry and events drained from a
backlog may travel on the backfill lane, ``xiaoan/v1/{site}/{device}/backfill/{channel}``,
which the hub consumes in a session of its own after live data (docs/protocol.md, "Lanes").
A message is identified by
``(device, boot_id, seq)``: QoS 1 delivers duplicates and an outbox replay re-sends,
so the hub stores each identity once.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

TOPIC_ROOT = "xiaoan"
WIRE_VERSION = "v1"
#: Largest payload the hub accepts; anything larger is dead-lettered unread.
MAX_PAYLOAD_BYTES = 256 * 1024
#: Identifiers (site, device, sensor) travel in topics and URLs: keep them plain.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
#: Latest timestamp accepted (2100-01-01 UTC). A Pi's clock may be years *behind* before NTP (flagged
#: ``clock_synced: false``); a time past this is garbage, and would not fit the stores' integer milliseconds.
MAX_TS = 4_102_444_800.0
#: Largest seq (SQLite's signed 64-bit integer): a larger one could never be stored, only retried.
MAX_SEQ = 2**63 - 1
Timestamp = Annotated[float, Field(ge=0, le=MAX_TS)]
#: Most sensors one status may announce. The largest node we know of (a cold-room Pi with two 1-Wire
#: buses and a Modbus string) has about 30; 64 leaves room for twice that while keeping one status (and
#: the hub's sensor registration, its pages and the report's per-device tables) small. More sensors on
#: one site are more devices, each with its own credentials and Last Will.
MAX_SENSORS = 64
#: Largest calibration offset (°C) a ``set_offset`` may carry and a node applies. A probe that reads more than
#: 5 °C off its reference is broken, not out of calibration: it is replaced, not corrected.
MAX_OFFSET = 5.0
#: Characters device text may not contain: C0 and C1 controls and DEL (``\n``, ``\r``, ``\t``, ESC, NEL …),
#: the Unicode line and paragraph separators, and the bidirectional marks, embeddings, overrides and
#: isolates. Each of them lets text that is shown as one value start a new line in a message or a log, or
#: reorder what a reader sees; no name, unit, fault or state needs one.
UNSAFE_TEXT_PATTERN = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
UNSAFE_TEXT_RE = re.compile(UNSAFE_TEXT_PATTERN)


def _plain_text(value: str) -> str:
    """Refuse text holding a character of ``UNSAFE_TEXT_RE``; the error names the character, never echoes it."""
    found = UNSAFE_TEXT_RE.search(value)
    if found is not None:
        raise ValueError(f"contains the control character U+{ord(found.group()):04X} at position {found.start()}"
                         " · 不能包含控制字符")
    return value


#: Text a device chooses (names, units, kinds, faults, states): shown to people, so plain, one line.
#: Each field bounds its own length.
_PLAIN = AfterValidator(_plain_text)
PlainText = Annotated[str, _PLAIN]


class Channel(enum.StrEnum):
    """The last level of a topic: what kind of message travels on it."""

    STATUS = "status"
    TELEMETRY = "telemetry"
    EVENT = "event"
    HEALTH = "health"
    CMD = "cmd"


class Lane(enum.StrEnum):
    """Which of the hub's two sessions a message travels in.

    ``live``: what happens now (and every status, heartbeat and command) — the hub serves it
    first. ``backfill``: telemetry and events drained from an edge's backlog after an outage,
    consumed with what is left, so a door opening now never waits behind a day of readings.
    """

    LIVE = "live"
    BACKFILL = "backfill"


#: The channels that may travel on the backfill lane (outbox messages; the rest are always live).
BACKFILL_CHANNELS = frozenset({Channel.TELEMETRY, Channel.EVENT})
#: Retained by a hub that consumes the backfill lane, ``{"backfill": true}``: an edge uses the lane only once
#: it has read this, so an older hub (which would dead-letter the topics), or a broker whose ACL predates
#: the lanes (which lets the edge not read it), never sees a backfill topic.
HUB_LANES_TOPIC = f"{TOPIC_ROOT}/{WIRE_VERSION}/_hub/lanes"
LANES_KEY = "backfill"


class WireError(ValueError):
    """A topic or payload that breaks the contract; ``reason`` says how, for the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageId(NamedTuple):
    """The identity the hub deduplicates on."""

    device: str
    boot_id: str
    seq: int


class TopicParts(NamedTuple):
    site: str
    device: str
    channel: Channel
    lane: Lane = Lane.LIVE


def topic(site: str, device: str, channel: Channel, lane: Lane = Lane.LIVE) -> str:
    """Build the topic a device publishes (or receives commands) on; ``lane`` only for telemetry and events."""
    if lane is Lane.BACKFILL:
        if channel not in BACKFILL_CHANNELS:
            raise ValueError(f"{channel.value} does not travel on the backfill lane")
        return f"{TOPIC_ROOT}/{WIRE_VERSION}/{site}/{device}/{Lane.BACKFILL.value}/{channel.value}"
    return f"{TOPIC_ROOT}/{WIRE_VERSION}/{site}/{device}/{channel.value}"


def lane_subscription(lane: Lane, site: str = "+") -> str:
    """The hub's filter for one lane: every five-level topic (live), or the backfill topics of every device.

    The live filter is five levels deep so the two never overlap (a message reaches one session
    only); with any site it keeps any version, so a wrong version is still dead-lettered.
    """
    if lane is Lane.BACKFILL:
        return f"{TOPIC_ROOT}/{WIRE_VERSION}/{site}/+/{Lane.BACKFILL.value}/+"
    return f"{TOPIC_ROOT}/+/+/+/+" if site == "+" else f"{TOPIC_ROOT}/{WIRE_VERSION}/{site}/+/+"


def subscription(channel: Channel | None = None, site: str = "+") -> str:
    """A subscription filter for one channel (or all channels) of every device of a site."""
    last = channel.value if channel is not None else "+"
    return f"{TOPIC_ROOT}/{WIRE_VERSION}/{site}/+/{last}"


def parse_topic(raw: str) -> TopicParts:
    """Split a topic into (site, device, channel), or raise WireError naming what is wrong."""
    parts = raw.split("/")
    lane = Lane.LIVE
    if len(parts) == 6 and parts[0] == TOPIC_ROOT and parts[4] == Lane.BACKFILL.value:
        lane = Lane.BACKFILL
        del parts[4]
    if len(parts) != 5 or parts[0] != TOPIC_ROOT:
        raise WireError(f"unknown topic {raw!r}: expected {TOPIC_ROOT}/{WIRE_VERSION}/<site>/<device>/<channel>")
    _, version, site, device, channel = parts
    if version != WIRE_VERSION:
        raise WireError(f"unsupported wire version {version!r} in topic {raw!r}")
    for name, value in (("site", site), ("device", device)):
        if not _ID_RE.match(value):
            raise WireError(f"invalid {name} {value!r} in topic {raw!r}")
    try:
        found = Channel(channel)
    except ValueError:
        raise WireError(f"unknown channel {channel!r} in topic {raw!r}") from None
    if lane is Lane.BACKFILL and found not in BACKFILL_CHANNELS:
        raise WireError(f"channel {channel!r} does not travel on the backfill lane ({raw!r})")
    return TopicParts(site, device, found, lane)


class _Payload(BaseModel):
    # Unknown fields are ignored so a newer edge can talk to an older hub; types are
    # strict so "12.5" (a string) is a broken device, not a temperature.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, allow_inf_nan=False)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class SensorInfo(_Payload):
    """How an edge describes one of its sensors, so the hub can list it before the first reading."""

    sensor: Identifier
    kind: PlainText = Field(min_length=1, max_length=32)
    unit: PlainText = Field(default="", max_length=16)
    name: PlainText = Field(default="", max_length=64)
    #: A domain preset such as ``fridge``, ``freezer`` or ``sample_fridge`` (the hub maps it to limits).
    profile: PlainText = Field(default="", max_length=32)
    low: float | None = None
    high: float | None = None
    #: The calibration offset (added to every value) the node applies now; ``None`` from nodes older than this
    #: field and for sensors that take none.
    offset: float | None = None
    #: Where that offset comes from: ``config`` (the installer's YAML, the baseline) or ``hub`` (a recorded
    #: calibration check, sent by ``set_offset`` and kept in the node's own state).
    offset_source: PlainText = Field(default="", max_length=16)
    #: With ``offset_source: hub``: the hub's calibration record the offset came from.
    calibration: int | None = Field(default=None, ge=0, le=MAX_SEQ)
    #: The probe's own id where it has one (a DS18B20's 1-wire id ``28-…``): a new id under the same sensor is
    #: a replaced probe, whose calibration history starts again.
    hardware_id: PlainText = Field(default="", max_length=64)

    _check_offset = field_validator("offset")(_finite)


class Status(_Payload):
    """Retained on ``status``; the Last Will publishes the same shape with ``state="offline"``."""

    state: Literal["online", "offline"]
    boot_id: PlainText = Field(min_length=1, max_length=64)
    version: PlainText = Field(default="", max_length=32)
    ts: Timestamp
    sensors: tuple[SensorInfo, ...] = Field(default=(), max_length=MAX_SENSORS)


class Reading(_Payload):
    sensor: Identifier
    kind: PlainText = Field(min_length=1, max_length=32)
    #: ``None`` together with ``fault`` when the sensor could not give a value.
    value: float | None
    unit: PlainText = Field(default="", max_length=16)
    ts: Timestamp
    #: Why there is no trustworthy value: ``crc``, ``power_on_value``, ``disconnected``, ``timeout`` …
    fault: Annotated[str, Field(max_length=64), _PLAIN] | None = None
    #: False when the edge clock was not synchronised when this reading was taken.
    clock_synced: bool = True
    #: True when ``ts`` was corrected after the clock synced (see edge.clock).
    reanchored: bool = False
    #: With ``clock_synced: false``: the edge's monotonic clock (seconds) when the reading was taken. Once the
    #: node reports an anchor for its boot (``Health.mono`` with a synced clock) the hub re-stamps the reading
    #: at ``mono`` + (anchor wall − anchor mono); ``None`` from nodes older than this field.
    mono: float | None = Field(default=None, ge=0)

    _check_value = field_validator("value")(_finite)
    _check_mono = field_validator("mono")(_finite)


class Telemetry(_Payload):
    device: Identifier
    boot_id: PlainText = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=MAX_SEQ)
    readings: tuple[Reading, ...] = Field(min_length=1, max_length=1000)

    @property
    def message_id(self) -> MessageId:
        return MessageId(self.device, self.boot_id, self.seq)


#: Longest text value in an event's ``detail`` (a scanned code, a dish list, the alerts a button press silenced).
MAX_DETAIL_TEXT = 4096
ScalarValue = str | int | float | bool | None
#: A key of an event's ``detail`` or of a heartbeat's ``inputs``.
DetailKey = Annotated[str, Field(min_length=1, max_length=64), _PLAIN]


def _plain_detail(detail: dict[str, ScalarValue]) -> dict[str, ScalarValue]:
    """Text values of ``detail`` are device text like any other: plain and bounded."""
    for key, value in detail.items():
        if isinstance(value, str):
            if len(value) > MAX_DETAIL_TEXT:
                raise ValueError(f"{key!r} is longer than {MAX_DETAIL_TEXT} characters")
            try:
                _plain_text(value)
            except ValueError as error:
                raise ValueError(f"{key!r} {error}") from None
    return detail


class Event(_Payload):
    """A change of state: a door opened, a meal sample logged, mains power lost."""

    device: Identifier
    boot_id: PlainText = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0, le=MAX_SEQ)
    ts: Timestamp
    sensor: Identifier
    kind: PlainText = Field(min_length=1, max_length=32)
    state: PlainText = Field(min_length=1, max_length=64)
    clock_synced: bool = True
    reanchored: bool = False
    detail: dict[DetailKey, ScalarValue] = Field(default_factory=dict, max_length=64)

    _check_detail = field_validator("detail")(_plain_detail)

    @property
    def message_id(self) -> MessageId:
        return MessageId(self.device, self.boot_id, self.seq)


#: Event ``kind`` of the node's alarm button: someone in the kitchen silenced the buzzer there. ``detail``
#: lists what the press silenced (``alerts``: hub alert ids, ``sensors``: local excursions, comma-separated);
#: the hub records it as an acknowledgement of those alerts by the device.
ALARM_BUTTON_KIND = "alarm_button"
#: The ``sensor`` such an event names (the button is one per node).
ALARM_BUTTON_SENSOR = "alarm-button"

_SensorOrNothing = Annotated[str, Field(pattern=r"^$|" + ID_PATTERN)]


class BuzzerReport(_Payload):
    """Why the node's buzzer is on or off, in its heartbeat.

    The node derives the buzzer from what holds it (hub alerts it was told to sound,
    local excursions it latched while the hub was unreachable), so this says exactly
    why it sounds; the hub compares it with what it wants and re-sends what differs.
    """

    sounding: bool
    #: Hub alerts holding the buzzer on.
    alerts: tuple[int, ...] = Field(default=(), max_length=256)
    #: Sensors whose local excursion (the hub was unreachable) holds it on.
    sensors: tuple[Identifier, ...] = Field(default=(), max_length=256)
    #: Hub alerts someone silenced (from the hub, or with the node's button); kept until the hub ends them.
    silenced_alerts: tuple[int, ...] = Field(default=(), max_length=256)
    #: Local excursions someone silenced; they re-arm once the sensor is back in range.
    silenced_sensors: tuple[Identifier, ...] = Field(default=(), max_length=256)
    #: An ``alarm_on`` naming no alert (an older hub) holds it on.
    unattributed: bool = False


InputState = Annotated[str, Field(max_length=64), _PLAIN]


class Health(_Payload):
    """The heartbeat: how the device itself is doing."""

    device: Identifier
    boot_id: PlainText = Field(min_length=1, max_length=64)
    ts: Timestamp
    uptime_s: float = Field(ge=0)
    outbox_depth: int = Field(ge=0)
    dropped: int = Field(ge=0)
    clock_synced: bool
    version: PlainText = Field(default="", max_length=32)
    cpu_temp: float | None = None
    #: Current state of state-like inputs (doors, mains power), keyed by sensor.
    inputs: dict[DetailKey, InputState] = Field(default_factory=dict, max_length=256)
    #: Why the buzzer is on or off (``None`` from nodes older than this field).
    buzzer: BuzzerReport | None = None
    #: The edge's monotonic clock (seconds) when ``ts`` was read. With ``clock_synced`` the pair is the boot's
    #: clock anchor: the hub re-stamps the boot's readings taken before sync from their own ``mono``.
    mono: float | None = Field(default=None, ge=0)
    #: The disk refuses to grow the outbox: each new message evicts the oldest readings (counted in
    #: ``dropped``). ``None`` from nodes older than this field.
    disk_full: bool | None = None

    _check_cpu = field_validator("cpu_temp")(_finite)
    _check_mono = field_validator("mono")(_finite)


class StoredSeqs(_Payload):
    """Seqs of one boot the hub has stored, as inclusive ranges ``[first, last]``.

    Ranges, because a batch holds a device's messages mostly consecutive: a batch of
    500 is usually one pair, so the confirmation stays a few dozen bytes.
    """

    boot_id: str = Field(min_length=1, max_length=64)
    seqs: tuple[tuple[int, int], ...] = Field(min_length=1, max_length=100_000)

    @field_validator("seqs")
    @classmethod
    def _ordered_ranges(cls, seqs: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        for first, last in seqs:
            if not 0 <= first <= last <= MAX_SEQ:
                raise ValueError(f"range [{first}, {last}] is not 0 <= first <= last <= {MAX_SEQ}")
        return seqs


class Command(_Payload):
    """Hub → edge."""

    action: Literal["alarm_on", "alarm_off", "silence", "set_offset", "indicator", "stored"]
    ts: Timestamp
    reason: str = Field(default="", max_length=200)
    #: With ``indicator``: which light (``samples``: the sample station's "samples held" LED) …
    target: str = Field(default="", max_length=32)
    #: … and how it should show: steady, blinking (attention), or dark.
    state: Literal["on", "off", "blink"] | None = None
    #: With ``stored``: the messages of this device the hub has committed (or already had); the edge
    #: deletes them from its outbox. Only this proves a message is safe: the broker's PUBACK does not.
    stored: tuple[StoredSeqs, ...] = Field(default=(), max_length=64)
    #: With ``alarm_on`` / ``silence`` / ``alarm_off``: the hub alert the command is about. The node keeps
    #: one entry per alert, so ending one alert never silences another; without it (an older hub) ``silence``
    #: and ``alarm_off`` silence everything sounding, as they always did.
    alert: int | None = Field(default=None, ge=0, le=MAX_SEQ)
    #: … and the sensor (of this device) that alert is about: a ``silence`` also quiets that sensor's
    #: local excursion, which the node may have sounded by itself while the hub was unreachable.
    sensor: _SensorOrNothing = ""
    #: With ``set_offset``: the calibration offset (°C) ``sensor`` applies from now on, in place of the YAML's;
    #: the node keeps it in its own state and reports it in its status.
    offset: float | None = Field(default=None, ge=-MAX_OFFSET, le=MAX_OFFSET)
    #: … and the hub's calibration record it comes from.
    calibration: int | None = Field(default=None, ge=0, le=MAX_SEQ)

    _check_offset = field_validator("offset")(_finite)


def seq_ranges(seqs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """Compress seqs (any order, duplicates allowed) into sorted inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return tuple(ranges)


def stored_command(seqs_by_boot: Mapping[str, Iterable[int]], ts: float) -> Command:
    """The ``stored`` confirmation of one device: its boots and their stored seqs."""
    return Command(action="stored", ts=ts,
                   stored=tuple(StoredSeqs(boot_id=boot_id, seqs=seq_ranges(seqs))
                                for boot_id, seqs in seqs_by_boot.items()))


PAYLOAD_MODELS: dict[Channel, type[_Payload]] = {
    Channel.STATUS: Status,
    Channel.TELEMETRY: Telemetry,
    Channel.EVENT: Event,
    Channel.HEALTH: Health,
    Channel.CMD: Command,
}


def _where_part(part: str | int) -> str:
    """A step of an error's location; a dict key is device text, so it is shown as data, shortened."""
    text = str(part)
    if isinstance(part, str) and (len(text) > 64 or UNSAFE_TEXT_RE.search(text)):
        return repr(text[:64])
    return text


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(_where_part(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def decode(channel: Channel, payload: bytes, device: str | None = None) -> Any:
    """Validate a payload for its channel, or raise WireError with a reason fit for a dead letter.

    When ``device`` (from the topic) is given, a payload naming another device is
    refused: a device may only speak for itself.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")
    model = PAYLOAD_MODELS[channel]
    try:
        message = model.model_validate_json(payload)
    except ValidationError as error:
        kinds = {e["type"] for e in error.errors()}
        if "json_invalid" in kinds:
            raise WireError(f"malformed JSON on {channel.value}: {error.errors()[0]['msg']}") from None
        raise WireError(f"invalid {channel.value} payload: {_describe(error)}") from None
    payload_device = getattr(message, "device", None)
    if device is not None and payload_device is not None and payload_device != device:
        raise WireError(f"payload device {payload_device!r} does not match topic device {device!r}")
    return message


def encode(message: BaseModel) -> bytes:
    """Serialise a payload model compactly (what goes on the wire and into the outbox)."""
    return message.model_dump_json(exclude_defaults=False).encode()
