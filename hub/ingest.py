"""From MQTT message to stored, deduplicated, rule-checked data — acknowledged only after commit.

paho-mqtt's network thread only queues what arrives; one writer thread takes
batches off the queue, validates every message against the wire contract, drops
identities it has already stored, commits, runs the rules, and only then sends the
PUBACKs (paho's manual acknowledgement). A hub killed mid-commit therefore gets the
same messages again from the broker's persistent session and stores them once.
Anything that breaks the contract is dead-lettered with its reason and counted;
nothing on the wire can stop the pipeline.

After the PUBACKs the hub tells each device which of its messages are stored (a
``stored`` command on the device's ``cmd`` topic, one per device per batch): the
broker's PUBACK to the edge only means the message is in the broker's memory, which
a broker crash loses, so the edge keeps every row until this confirmation.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import wire
from edge.config import BrokerSettings
from edge.link import HUB_HEARTBEAT_TOPIC, close_client, make_client
from hub import restamp
from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import RuleKind
from hub.sites import SiteGuard
from hub.store.base import Rollups, SeriesStore, StoredEvent, StoredReading, sensor_key
from hub.store.state import DeadLetter, SensorUpdate, StateStore, UntimedReading
from hub.store_outage import RETRY_MAX_S, WriteOutage

_LOGGER = logging.getLogger(__name__)
_CMD_SUFFIX = f"/{wire.Channel.CMD.value}"
#: Payload bytes of backfill per batch (about 300 readings): what a live message may wait behind at most.
BACKFILL_BATCH_BYTES = 32 * 1024
#: Boots per ``stored`` command (the wire contract's bound on ``Command.stored``).
_BOOTS_PER_COMMAND = 64


class Inbound(NamedTuple):
    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float
    #: The session it came in (its PUBACK goes back through the same one).
    lane: wire.Lane = wire.Lane.LIVE


class StoredId(NamedTuple):
    """An outbox message the hub holds (stored now or earlier), and the site whose ``cmd`` topic confirms it."""

    site: str
    device: str
    boot_id: str
    seq: int


def _refused_outbox_message(parts: wire.TopicParts | None, payload: bytes) -> list[StoredId]:
    """The identity of a telemetry or event payload the contract refused, if it names one.

    The dead letter is committed with the batch, so the message is kept (for a person to
    look at); confirming it stops the edge from sending it again, and again, for ever.
    """
    if parts is None or parts.channel not in (wire.Channel.TELEMETRY, wire.Channel.EVENT):
        return []
    if len(payload) > wire.MAX_PAYLOAD_BYTES:
        return []
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, dict):
        return []
    boot_id, seq = data.get("boot_id"), data.get("seq")
    if isinstance(boot_id, str) and 0 < len(boot_id) <= 64 and type(seq) is int and 0 <= seq <= wire.MAX_SEQ:
        return [StoredId(parts.site, parts.device, boot_id, seq)]
    return []


@dataclass
class DeviceQuotas:
    """Per-device limits at the hub (docs/security.md, "Per-device quotas").

    ``rate_per_s``/``burst``: a token bucket per device (0: no limit). A message beyond it is
    refused before it is parsed — counted, neither stored nor dead-lettered nor confirmed —
    so one flooding device costs the writer almost nothing and the others' messages in the
    same batch are stored as usual. Refusing rather than dead-lettering keeps a valid
    reading safe: the edge still holds it (no ``stored`` came) and resends it later.
    ``alarm_count`` dead letters from one device within ``alarm_window_s``: an alarm.
    """

    rate_per_s: float = 500.0
    burst: float = 5000.0
    alarm_count: int = 20
    alarm_window_s: float = 600.0


class _Bucket:
    """A token bucket: ``take()`` says whether one more message fits."""

    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at

    def take(self, now: float, rate: float, burst: float) -> bool:
        self.tokens = min(burst, self.tokens + max(0.0, now - self.at) * rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _topic_device(topic: str) -> str:
    """The device a topic names (``xiaoan/v1/site/device/…``), "" when it names none."""
    parts = topic.split("/")
    return parts[3][:64] if len(parts) >= 5 else ""


@dataclass
class IngestCounters:
    """Pipeline counters, served by /api/health and /metrics."""

    received: int = 0
    stored_messages: int = 0
    stored_readings: int = 0
    stored_events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    #: Messages that came in the backfill session (a backlog drained after an outage).
    backfill_received: int = 0
    #: Messages refused by a device's rate limit (not stored, not confirmed: the edge resends them).
    rate_limited: int = 0
    batches: int = 0
    store_failures: int = 0
    #: Batches that failed to store since the last one that was stored (0: the store works).
    failing_batches: int = 0
    last_failure: float | None = None
    #: Readings handed to the rules.
    ruled_readings: int = 0
    last_commit: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {k: v for k, v in self.__dict__.items() if k != "lock"}


class IngestPipeline:
    """Validate → deduplicate → store → evaluate, for one batch; no MQTT in here.

    One pipeline per hub, and one hub per school (hub.sites): a school's traffic is far below
    what one writer stores (docs/scale-out.md), so the rules see every reading of a sensor, in
    one process, in order. Timers are not run here: the hub's scheduler owns them
    (hub.scheduler), so a slow duty never holds up a batch.
    """

    def __init__(self, series: SeriesStore, state: StateStore, engine: AlertEngine,
                 clock: Callable[[], float] = time.time, counters: IngestCounters | None = None,
                 quotas: DeviceQuotas | None = None, sites: SiteGuard | None = None) -> None:
        self.series = series
        self.state = state
        self.engine = engine
        self.clock = clock
        self.counters = counters or IngestCounters()
        #: One school per hub (hub.sites): another school's messages are dead letters here, never its records.
        self.sites = sites or SiteGuard(None)
        self._event_listeners: list[Callable[[list[StoredEvent]], None]] = []
        self._reading_listeners: list[Callable[[list[StoredReading]], None]] = []
        self._durable_listeners: list[Callable[[list[StoredReading], list[StoredEvent]], None]] = []
        self._status_listeners: list[Callable[[str, wire.Status, float], None]] = []
        self.quotas = quotas or DeviceQuotas()
        self._buckets: dict[str, _Bucket] = {}
        #: Per device: when its recent dead letters arrived (for the alarm), and the devices alarmed.
        self._dead_times: dict[str, deque[float]] = {}
        self._dead_alarmed: set[str] = set()
        self._quota_lock = threading.Lock()
        #: Whether the stores refuse to write (a full disk): set by the writer, read by health and the alarm.
        self.outage = WriteOutage()

    def add_event_listener(self, listener: Callable[[list[StoredEvent]], None]) -> None:
        """Domain modules (food samples, patrols) see every stored event, after commit."""
        self._event_listeners.append(listener)

    def add_durable_listener(self, listener: Callable[[list[StoredReading], list[StoredEvent]], None]) -> None:
        """Called with a batch's new readings and events after the series stored them, before their message ids
        are committed as seen: a listener that raises fails the batch (unconfirmed, processed again), so what it
        is handed is never lost between the hub's commit and its own (the district outbox, hub.forward)."""
        self._durable_listeners.append(listener)

    def add_reading_listener(self, listener: Callable[[list[StoredReading]], None]) -> None:
        """The live web pages see every stored reading, after commit (the listener must not block)."""
        self._reading_listeners.append(listener)

    def add_status_listener(self, listener: Callable[[str, wire.Status, float], None]) -> None:
        """Features that follow what a node announces (its sensors' offsets) see each status, after it is stored."""
        self._status_listeners.append(listener)

    def _status_stored(self, device: str, status: wire.Status, now: float) -> None:
        for listener in self._status_listeners:
            try:
                listener(device, status, now)
            except Exception:
                _LOGGER.exception("status listener failed for %s", device)

    def process(self, batch: list[Inbound]) -> list[StoredId]:
        """Store a batch; raises when the stores fail, in which case nothing may be acknowledged.

        Returns every outbox message of the batch the hub now holds — stored by this batch,
        already stored before (a resend), or dead-lettered — for the ``stored`` confirmations.
        """
        now = self.clock()
        dead: list[DeadLetter] = []
        messages: list[wire.Telemetry | wire.Event] = []
        held: list[StoredId] = []
        health: list[tuple[str, wire.Health, float]] = []
        anchored: set[tuple[str, str]] = set()
        sensors_announced = False
        for item in self._admit(batch, now):
            decoded = self._decode(item, dead, held)
            if decoded is None:
                continue
            parts, message = decoded
            if isinstance(message, wire.Status):
                self.state.record_status(parts.site, parts.device, message.state, message.boot_id,
                                         message.version, message.ts, now, message.sensors)
                self._status_stored(parts.device, message, now)
                sensors_announced = sensors_announced or bool(message.sensors)
            elif isinstance(message, wire.Health):
                self.state.record_health(parts.device, message.model_dump_json(), now)
                health.append((parts.device, message, now))
                if message.clock_synced and message.mono is not None:
                    offset = restamp.anchor_offset(message.ts, message.mono)
                    self.state.record_anchor(parts.device, message.boot_id, offset, now)
                    anchored.add((parts.device, message.boot_id))
            else:
                messages.append(message)
                held.append(StoredId(parts.site, message.device, message.boot_id, message.seq))
        for device, report, at in health:
            self.engine.on_health(device, report, at)
        if sensors_announced:
            self.engine.refresh_sensors()

        unseen = self.state.unseen(m.message_id for m in messages)
        fresh: list[wire.Telemetry | wire.Event] = []
        for message in messages:
            if message.message_id in unseen:
                unseen.discard(message.message_id)  # a duplicate inside this batch counts once
                fresh.append(message)
        readings, events, updates, untimed = _flatten(fresh, now)

        self._write(readings, events)
        self.state.hold_untimed(untimed)  # before the ids are seen: a crash in between re-holds the same rows
        self.state.commit_ingest([m.message_id for m in fresh], now, updates, dead)
        self._evaluate(readings, events)
        self._count(batch, now, len(fresh), len(readings) + len(untimed), len(events), len(messages) - len(fresh),
                    dead)
        self._restamp(anchored | {(r.device, r.boot_id) for r in untimed}, now)
        self._watch_dead_letters(dead, now)
        return held

    def _decode(self, item: Inbound, dead: list[DeadLetter], held: list[StoredId]
                ) -> tuple[wire.TopicParts, Any] | None:
        """The message an item carries; None for the hub's own commands and for a dead letter (put in ``dead``)."""
        parts = None
        try:
            parts = wire.parse_topic(item.topic)
            if parts.channel is wire.Channel.CMD:
                return None  # our own commands to the edges, seen because we subscribe to the whole tree
            other_school = self.sites.admit(parts.site)
            if other_school is not None:
                # Not confirmed: the device keeps the readings for its own school's hub.
                dead.append(DeadLetter(item.topic, f"site: {other_school}", item.payload, item.received,
                                       parts.device))
                return None
            return parts, wire.decode(parts.channel, item.payload, device=parts.device)
        except wire.WireError as error:
            dead.append(DeadLetter(item.topic, error.reason, item.payload, item.received,
                                   parts.device if parts is not None else _topic_device(item.topic)))
            held.extend(_refused_outbox_message(parts, item.payload))
            return None

    def _write(self, readings: list[StoredReading], events: list[StoredEvent]) -> None:
        """The series, then the durable listeners: all before the batch's message ids are committed as seen."""
        self.series.write(readings, events)
        for listener in self._durable_listeners:
            listener(readings, events)

    def _admit(self, batch: list[Inbound], now: float) -> list[Inbound]:
        """The messages within their device's rate; the rest are counted and left unconfirmed."""
        rate, burst = self.quotas.rate_per_s, self.quotas.burst
        if rate <= 0:
            return batch
        admitted: list[Inbound] = []
        refused: dict[str, int] = {}
        with self._quota_lock:
            for item in batch:
                device = _topic_device(item.topic)
                bucket = self._buckets.get(device)
                if bucket is None:
                    bucket = self._buckets[device] = _Bucket(burst, now)
                if bucket.take(now, rate, burst):
                    admitted.append(item)
                else:
                    refused[device] = refused.get(device, 0) + 1
        if refused:
            with self.counters.lock:
                self.counters.rate_limited += sum(refused.values())
            for device, count in refused.items():
                _LOGGER.warning("refused %d messages of device %r over its rate limit (%g/s, burst %g);"
                                " not confirmed, the edge resends them", count, device, rate, burst)
        return admitted

    def _watch_dead_letters(self, dead: list[DeadLetter], now: float) -> None:
        """Raise the dead-letter alarm for a device past ``alarm_count`` within the window (after commit)."""
        if not dead:
            return
        window, threshold = self.quotas.alarm_window_s, self.quotas.alarm_count
        raise_for: list[tuple[str, int]] = []
        with self._quota_lock:
            for letter in dead:
                times = self._dead_times.setdefault(letter.device, deque(maxlen=threshold))
                times.append(now)
            for device in {letter.device for letter in dead}:
                times = self._dead_times[device]
                if len(times) >= threshold and now - times[0] <= window and device not in self._dead_alarmed:
                    self._dead_alarmed.add(device)
                    raise_for.append((device, len(times)))
        for device, count in raise_for:
            _LOGGER.warning("device %r sent %d messages that break the wire contract within %g s", device, count,
                            window)
            self.engine.observe(RuleKind.DEAD_LETTERS, device or "?", True, now, device=device or "?",
                                message=_dead_letter_message(device, count, window, self.engine.locale),
                                data={"count": count, "window_s": window})

    def dead_letter_tick(self, now: float) -> None:
        """A scheduler duty: the alarm of a device without a dead letter for a whole window clears."""
        window = self.quotas.alarm_window_s
        cleared: list[str] = []
        with self._quota_lock:
            for device in list(self._dead_alarmed):
                times = self._dead_times.get(device)
                if not times or now - times[-1] > window:
                    self._dead_alarmed.discard(device)
                    self._dead_times.pop(device, None)
                    cleared.append(device)
        for device in cleared:
            self.engine.observe(RuleKind.DEAD_LETTERS, device or "?", False, now, device=device or "?",
                                message="")

    def _restamp(self, boots: set[tuple[str, str]], now: float) -> None:
        """Re-stamp the held readings of these boots whose anchor is known (see hub.restamp).

        Called for boots that just got an anchor or held readings: each heartbeat of a synced
        node looks once, so a re-stamp that failed (the store was down) is done at the next one.
        It runs after the batch is committed and does not fail it: the held rows stay held.
        """
        for (device, boot_id), offset in self.state.anchors(boots).items():
            try:
                self._restamp_boot(device, boot_id, offset, now)
            except Exception:
                _LOGGER.exception("re-stamping the readings of %s (boot %s) failed; retried at its next heartbeat",
                                  device, boot_id)

    def _restamp_boot(self, device: str, boot_id: str, offset: float, now: float) -> None:
        held = self.state.untimed_of_boot(device, boot_id)
        if held:
            readings = restamp.restamp(held, offset)
            self._write(readings, [])  # the durable listeners too: re-stamped readings reach the district
            if isinstance(self.series, Rollups):
                for since, until in restamp.hour_spans(r.ts for r in readings):
                    self.series.backfill_hourly(since, until)
            moved = self.state.finish_restamp(held, offset, now, "system", restamp.AUDIT_ACTION)
            if moved:
                _LOGGER.info("re-stamped %d readings of %s (boot %s) taken before its clock synced: %+.3f s",
                             moved, device, boot_id, offset)

    def _evaluate(self, readings: list[StoredReading], events: list[StoredEvent]) -> None:
        """Committed readings and events → the rules and the listeners.

        The rules see only readings whose time is known: one stamped by an unsynced clock (an
        older node that sends no ``mono``) could decide an alert on a 1970 time.
        """
        self.engine.on_readings([r for r in readings if r.clock_synced])
        self.engine.on_events(events)
        for listener in self._event_listeners:
            if events:
                listener(events)
        for reading_listener in self._reading_listeners:
            if readings:
                reading_listener(readings)
        with self.counters.lock:
            self.counters.ruled_readings += len(readings)

    def _count(self, batch: list[Inbound], now: float, messages: int, readings: int, events: int,
               duplicates: int, dead: list[DeadLetter]) -> None:
        with self.counters.lock:
            c = self.counters
            c.received += len(batch)
            c.backfill_received += sum(1 for item in batch if item.lane is wire.Lane.BACKFILL)
            c.stored_messages += messages
            c.stored_readings += readings
            c.stored_events += events
            c.duplicates += duplicates
            c.dead_letters += len(dead)
            c.batches += 1
            c.last_commit = now
            c.failing_batches = 0
        for letter in dead:
            _LOGGER.warning("dead letter on %r: %r", letter.topic, letter.reason)


def _dead_letter_message(device: str, count: int, window_s: float, locale: str) -> str:
    minutes = max(1, round(window_s / 60))
    if locale == "en":
        return (f"Device {device} sent {count} messages the hub cannot read within {minutes} min (a broken node"
                " or a misused account); they are kept as dead letters, capped per device")
    return (f"设备 {device} 在 {minutes} 分钟内发送了 {count} 条无法解析的消息（节点故障或账号被滥用），"
            "已按设备限额保存为死信")


def _flatten(messages: list[wire.Telemetry | wire.Event], now: float) -> tuple[
        list[StoredReading], list[StoredEvent], list[SensorUpdate], list[UntimedReading]]:
    """Readings, events and the newest state per sensor; readings whose time is not yet known apart.

    A reading taken before its node's clock synced that carries its monotonic time is held
    (hub.restamp), not stored at a wrong time; one without (an older node) is stored as before,
    flagged unsynced, and kept from the rules.
    """
    readings: list[StoredReading] = []
    untimed: list[UntimedReading] = []
    events: list[StoredEvent] = []
    # The newest reading or event per sensor; the update is built once per sensor, not per reading.
    latest: dict[str, tuple[float, str, wire.Reading | wire.Event]] = {}
    for message in messages:
        if isinstance(message, wire.Telemetry):
            for idx, r in enumerate(message.readings):
                key = sensor_key(message.device, r.sensor)
                if not r.clock_synced and r.mono is not None:
                    untimed.append(UntimedReading(message.device, message.boot_id, message.seq, idx, key, r.mono,
                                                  r.ts, r.value, r.fault, now))
                    continue
                readings.append(StoredReading(key, r.ts, r.value, r.fault, r.clock_synced))
                current = latest.get(key)
                if current is None or r.ts >= current[0]:
                    latest[key] = (r.ts, message.device, r)
        else:
            key = sensor_key(message.device, message.sensor)
            events.append(StoredEvent(message.device, message.boot_id, message.seq, message.ts, key, message.kind,
                                      message.state, json.dumps(message.detail, ensure_ascii=False),
                                      message.clock_synced))
            current = latest.get(key)
            if current is None or message.ts >= current[0]:
                latest[key] = (message.ts, message.device, message)
    updates = []
    for key, (ts, device, item) in latest.items():
        if isinstance(item, wire.Reading):
            updates.append(SensorUpdate(key, device, item.sensor, item.kind, item.unit, item.value, ts, item.fault))
        else:
            updates.append(SensorUpdate(key, device, item.sensor, item.kind, "", None, ts, state=item.state))
    return readings, events, updates, untimed


class MqttIngest:
    """The hub's MQTT sessions: persistent subscriptions, a writer thread, manual acknowledgement.

    With ``lanes`` (the default) the hub holds two sessions: the live one (every five-level
    topic: statuses, heartbeats, events and readings of now) and the backfill one (the
    backlogs edges drain after an outage, ``…/backfill/…``). The broker queues each session
    on its own, so a door event never waits in the broker behind a backlog; the writer takes
    every live message it has before any backfill one, and takes backfill in smaller batches
    (``backfill_batch``), so a live message waits at most for one such batch. Once the backfill
    session is subscribed the hub retains ``{"backfill": true}`` on ``wire.HUB_LANES_TOPIC``:
    only then do edges use the lane.
    """

    def __init__(self, pipeline: IngestPipeline, broker: BrokerSettings, client_id: str, site: str = "+",
                 batch_size: int = 500, lanes: bool = True,
                 backfill_batch: int = 100) -> None:
        self.pipeline = pipeline
        self._batch_size = batch_size
        self._backfill_batch = max(1, min(backfill_batch, batch_size))
        if lanes:
            live = wire.lane_subscription(wire.Lane.LIVE, site)
            backfill: str | None = wire.lane_subscription(wire.Lane.BACKFILL, site)
        else:
            live = f"{wire.TOPIC_ROOT}/{wire.WIRE_VERSION}/{site}/#" if site != "+" else f"{wire.TOPIC_ROOT}/#"
            backfill = None
        self._subscription = live
        self._backfill_subscription = backfill
        #: (lane priority, arrival number, message): live (0) before backfill (1), each in arrival order.
        self._queue: queue.PriorityQueue[tuple[int, int, Inbound]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._stop = threading.Event()
        self.connected = threading.Event()
        #: The backfill session is subscribed and edges are invited onto the backfill lane.
        self.backfill_ready = threading.Event()
        self._client = make_client(client_id, broker, broker.resolved_password(), clean_session=False,
                                   manual_ack=True)
        self._broker = broker
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._backfill: mqtt.Client | None = None
        if self._backfill_subscription is not None:
            self._backfill = make_client(f"{client_id}-backfill", broker, broker.resolved_password(),
                                         clean_session=False, manual_ack=True)
            self._backfill.on_connect = self._on_backfill_connect
            self._backfill.on_disconnect = self._on_backfill_disconnect
            self._backfill.on_message = self._on_backfill_message
            self._backfill.on_subscribe = self._on_backfill_subscribe
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)

    def start(self) -> None:
        self._writer.start()
        for client in self._clients():
            client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
            client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._writer.join(timeout=10)
        for client in self._clients():
            close_client(client)

    @property
    def writing(self) -> bool:
        """Whether the writer thread still runs (after ``stop``: a batch it could not finish in 10 s)."""
        return self._writer.is_alive()

    def _clients(self) -> list[mqtt.Client]:
        return [self._client] + ([self._backfill] if self._backfill is not None else [])

    def send_command(self, site: str, device: str, command: wire.Command) -> None:
        """Publish a command now, or raise ConnectionError: the caller keeps it to send again.

        paho would accept a QoS 1 publish while disconnected and hold it in memory until it
        reconnects; a caller told "sent" would mark it done (a calibration offset, a samples
        light), and a hub restart before the reconnect would lose it for good.
        """
        if not self.connected.is_set():
            raise ConnectionError("the hub is not connected to the broker")
        info = self._client.publish(wire.topic(site, device, wire.Channel.CMD), wire.encode(command), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"the broker did not take the command: {mqtt.error_string(info.rc)}")

    def heartbeat(self, now: float) -> None:
        """The hub's heartbeat to the edges (a scheduler duty): "the hub is alive", while connected."""
        if self.connected.is_set():
            self._client.publish(HUB_HEARTBEAT_TOPIC, json.dumps({"ts": now}), qos=0)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode,
                    _props: Properties | None) -> None:
        if reason.is_failure:
            _LOGGER.error("broker refused the hub: %s", reason)
            return
        # ``connected`` is set on SUBACK, not here: a message published between CONNACK and the broker
        # processing SUBSCRIBE would reach nobody on a first connection (no stored session yet).
        client.subscribe(self._subscription, qos=1)
        _LOGGER.info("hub connected to broker (session present: %s)", getattr(flags, "session_present", None))

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode],
                      _props: Properties | None) -> None:
        if any(reason.is_failure for reason in reasons):
            _LOGGER.error("broker refused the hub's subscription to %s: %s", self._subscription, reasons)
            return
        self.connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                       _props: Properties | None) -> None:
        self.connected.clear()
        _LOGGER.warning("hub disconnected from broker: %s", reason)

    def _on_backfill_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                             _props: Properties | None) -> None:
        if reason.is_failure:
            _LOGGER.error("broker refused the hub's backfill session: %s", reason)
            return
        if self._backfill_subscription is not None:
            client.subscribe(self._backfill_subscription, qos=1)

    def _on_backfill_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list[ReasonCode],
                               _props: Properties | None) -> None:
        if any(reason.is_failure for reason in reasons):
            _LOGGER.error("broker refused the hub's subscription to %s: %s", self._backfill_subscription, reasons)
            return
        # Retained: an edge connecting later reads it before it sends its backlog (edge.link). The session
        # is persistent, so the invitation stays true while the hub is down: the broker queues for it.
        _client.publish(wire.HUB_LANES_TOPIC, json.dumps({wire.LANES_KEY: True}), qos=1, retain=True)
        self.backfill_ready.set()

    def _on_backfill_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                                _props: Properties | None) -> None:
        # The session persists at the broker: backfill sent meanwhile waits there for the reconnect.
        _LOGGER.warning("hub's backfill session disconnected from broker: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == HUB_HEARTBEAT_TOPIC or message.topic.endswith(_CMD_SUFFIX):
            # Our own heartbeat and commands (one ``stored`` per device per batch), seen because we
            # subscribe to the whole tree: dropped here rather than carried through a batch.
            self._client.ack(message.mid, message.qos)
            return
        self._queue.put((0, next(self._arrivals), Inbound(message.topic, bytes(message.payload), message.mid,
                                                          message.qos, time.time())))

    def _on_backfill_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put((1, next(self._arrivals), Inbound(message.topic, bytes(message.payload), message.mid,
                                                          message.qos, time.time(), wire.Lane.BACKFILL)))

    def _take_batch(self, timeout: float) -> list[Inbound]:
        """Live messages first, in a batch of their own; backfill (no live one waiting) in small batches.

        A backfill batch is bounded by count and by bytes (``BACKFILL_BATCH_BYTES``, a proxy for its
        readings): a live message that arrives meanwhile waits for that one batch at most.
        """
        try:
            entry = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        live = entry[0] == 0
        batch = [entry[2]]
        size = len(entry[2].payload)
        limit = self._batch_size if live else self._backfill_batch
        while len(batch) < limit and (live or size < BACKFILL_BATCH_BYTES):
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if live and entry[0] != 0:
                self._queue.put(entry)  # its place is kept: the arrival number orders it again
                break
            batch.append(entry[2])
            size += len(entry[2].payload)
        return batch

    def _ack(self, item: Inbound) -> None:
        client = self._backfill if item.lane is wire.Lane.BACKFILL and self._backfill is not None else self._client
        client.ack(item.mid, item.qos)

    def _write_loop(self) -> None:
        """Only ingest: batches, acknowledgements and confirmations (no timers here)."""
        backoff = 0.5
        last_refusal_logged = float("-inf")
        while not self._stop.is_set():
            batch = self._take_batch(timeout=0.2)
            while batch and not self._stop.is_set():
                try:
                    held = self.pipeline.process(batch)
                except Exception as error:
                    # The stores are down: keep the batch, acknowledge nothing, try again.
                    now = time.time()
                    with self.pipeline.counters.lock:
                        self.pipeline.counters.store_failures += 1
                        self.pipeline.counters.failing_batches += 1
                        self.pipeline.counters.last_failure = now
                    if self.pipeline.outage.failed(error, now) is not None:
                        # A full disk: no traceback per retry (the log may share that disk); retried
                        # often enough that the hub carries on soon after space returns.
                        backoff = min(backoff, RETRY_MAX_S)
                        if now - last_refusal_logged >= 60.0:
                            last_refusal_logged = now
                            _LOGGER.error("a batch of %d messages was refused by the disk (%s); retrying every"
                                          " %.0fs at most", len(batch), error, RETRY_MAX_S)
                    else:
                        _LOGGER.exception("storing a batch of %d messages failed; retrying in %.1fs",
                                          len(batch), backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, RETRY_MAX_S if self.pipeline.outage.current() else 30.0)
                    continue
                backoff = 0.5
                self.pipeline.outage.stored(time.time())
                for item in batch:
                    if item.qos > 0:
                        self._ack(item)
                batch = []
                self._confirm(held)

    def _confirm(self, held: list[StoredId]) -> None:
        """Tell each device which of its messages are stored: one ``stored`` command per device.

        QoS 0: a confirmation that does not arrive costs only a resend, which the hub
        deduplicates and confirms again, while QoS 1 would add a PUBACK and paho's in-flight
        window (20 messages) per device per batch to the ingest path. The link to an edge is
        the only place it can get lost, and the edge resends everything unconfirmed after
        every reconnect anyway.
        """
        by_device: dict[tuple[str, str], dict[str, list[int]]] = {}
        for site, device, boot_id, seq in held:
            by_device.setdefault((site, device), {}).setdefault(boot_id, []).append(seq)
        ts = time.time()
        for (site, device), by_boot in by_device.items():
            boots = list(by_boot.items())
            # A device can only ever have a few boots in one batch; a command holds up to 64.
            for start in range(0, len(boots), _BOOTS_PER_COMMAND):
                command = wire.stored_command(dict(boots[start:start + _BOOTS_PER_COMMAND]), ts)
                self._client.publish(wire.topic(site, device, wire.Channel.CMD), wire.encode(command), qos=0)
