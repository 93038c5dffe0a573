"""The edge agent: sources → durable outbox → broker, plus heartbeat and commands.

Three loops, each small: the sampler (this thread) polls sources on their intervals
and writes one telemetry message per tick; event sources write events from their
own threads the moment an input changes; the publisher thread sends the outbox in
order and deletes what the hub confirmed it has stored.

The broker's PUBACK is not enough to delete a row: Mosquitto acknowledges a message
once it is in memory and saves to disk only every few minutes, so a broker crash
loses what it had acknowledged. The hub confirms what it has committed (``stored``
on the device's ``cmd`` topic); until then a row stays in the outbox and is sent
again after a reconnect, or when the hub, heard since, has not confirmed it in time.
The hub deduplicates on ``(device, boot_id, seq)``, so a resend costs only traffic.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

from edge import buzzer, offsets, wire
from edge.clock import (
    NEVER_SYNCED_ADVICE,
    Clock,
    distinct_stamp,
    reanchor_delta,
    reanchor_payload,
    unsynced_too_long,
)
from edge.config import EdgeSettings
from edge.failsafe import FailLocalState, Limits, evaluate, hub_unreachable, limits_for
from edge.link import EdgeLink
from edge.outbox import Outbox, OutboxRow
from edge.outputs import AlarmButton, GpioIndicator
from edge.sources import Measurement, Source, SourceContext, build_source

_LOGGER = logging.getLogger(__name__)


def package_version() -> str:
    try:
        return version("xiaoan")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


class LocalAlarm(Protocol):
    """The buzzer (and its LED) next to the fridge; see edge.outputs for gpiozero."""

    def sound(self, reason: str) -> None: ...
    def silence(self) -> None: ...

    @property
    def active(self) -> bool: ...


class LoggingAlarm:
    """The local alarm of a simulated node: it has no buzzer, so it says so in the log."""

    def __init__(self) -> None:
        self._active = False

    def sound(self, reason: str) -> None:
        if not self._active:
            _LOGGER.warning("LOCAL ALARM: %s", reason)
        self._active = True

    def silence(self) -> None:
        self._active = False

    @property
    def active(self) -> bool:
        return self._active


@dataclass
class _Inflight:
    """What the publisher has sent: to the broker (until PUBACK) and to the hub (until ``stored``)."""

    #: Outbox rows handed to paho and not yet acknowledged by the broker, by MQTT message id: the window.
    rows: dict[int, int] = field(default_factory=dict)
    early_acks: set[int] = field(default_factory=set)
    #: Rows sent since the last resend and not confirmed by the hub: (boot_id, seq) → (row id, send number),
    #: in send order.
    unconfirmed: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    #: (last send number, monotonic time) of each round of sends, oldest first: when a row last went out.
    rounds: deque[tuple[int, float]] = field(default_factory=deque)
    #: Rows sent since the process started (a row's send number orders it among both lanes).
    sends: int = 0
    #: Rows the hub confirmed, for the publisher to delete.
    confirmed: list[int] = field(default_factory=list)
    #: The backfill lane's cursor: the last backlog row sent (rows below ``live_start``).
    last_sent_id: int = 0
    #: The first row of the live lane since the last resend (None: not fixed yet) and that lane's cursor.
    live_start: int | None = None
    live_sent_id: int = 0
    #: Send everything unconfirmed again, from the oldest row (set on reconnect and on timeout).
    resend: bool = True
    #: The current wait for a confirmation (``confirm_timeout_s``, doubled per fruitless resend).
    timeout_s: float = 0.0


class Agent:
    def __init__(
        self,
        settings: EdgeSettings,
        clock: Clock,
        sources: list[Source] | None = None,
        context: SourceContext | None = None,
        alarm: LocalAlarm | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.boot_id = uuid.uuid4().hex[:12]
        self.version = package_version()
        context = context or SourceContext(monotonic=clock.monotonic)
        self.sources = sources if sources is not None else [build_source(s, context) for s in settings.sources]
        self.alarm: LocalAlarm = alarm or self._build_alarm(settings, context)
        #: Hub-switched lights by name (``cmd`` action ``indicator``).
        self.indicators: dict[str, GpioIndicator] = {}
        if settings.outputs.samples_led_pin is not None:
            self.indicators["samples"] = GpioIndicator(settings.outputs.samples_led_pin,
                                                       pin_factory=context.pin_factory)
        #: What each sensor is, as announced (its YAML offset and probe id among it).
        self.infos: dict[str, wire.SensorInfo] = {
            info.sensor: info for source in self.sources for info in source.describe()}
        self._offsets_path = Path(settings.state_dir) / offsets.FILE_NAME
        self._offsets_lock = threading.Lock()
        #: Calibration offsets the hub set (``set_offset``), in place of the YAML's; kept in ``offsets.json``.
        self.hub_offsets = offsets.still_valid(offsets.load(self._offsets_path), self.infos)
        self.limits: dict[str, Limits] = {
            info.sensor: found for source in self.sources for info in source.describe()
            if (found := limits_for(info)) is not None
        }
        #: Why the buzzer sounds (hub alerts, local excursions); the buzzer follows it (edge.buzzer).
        self.buzzer = buzzer.BuzzerState()
        self._buzzer_lock = threading.Lock()
        #: The kitchen's "silence" button next to the buzzer, where one is fitted.
        self.button: AlarmButton | None = None
        if settings.outputs.alarm_button_pin is not None:
            self.button = AlarmButton(settings.outputs.alarm_button_pin, self.press_alarm_button,
                                      pull_up=settings.outputs.alarm_button_pull_up, pin_factory=context.pin_factory)
        self.outbox = Outbox(
            Path(settings.state_dir) / "outbox.sqlite3",
            max_messages=settings.outbox.max_messages,
            reading_sync=settings.outbox.reading_sync,
            reserve_bytes=settings.outbox.reserve_bytes,
        )
        self._seq = 0
        self._seq_lock = threading.Lock()
        #: The last telemetry stamp, wall and monotonic ms: the next is later (``distinct_stamp``).
        self._last_stamp: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._wake_publisher = threading.Event()
        self._inflight = _Inflight(timeout_s=settings.outbox.confirm_timeout_s)
        self._inflight_lock = threading.Lock()
        self._started_mono = clock.monotonic()
        self._warned_unsynced = False
        self.hub_last_seen: float | None = None
        self.link = EdgeLink(
            settings.site,
            settings.device,
            settings.broker,
            status_online=lambda: self._status("online"),
            status_offline=self._status("offline"),
            on_command=self._handle_command,
            on_published=self._handle_published,
            on_hub_heartbeat=self._handle_hub_heartbeat,
            on_ready=self._handle_ready,
        )

    @staticmethod
    def _build_alarm(settings: EdgeSettings, context: SourceContext) -> LocalAlarm:
        if not settings.outputs.configured:
            return LoggingAlarm()
        from edge.outputs import GpioAlarm  # noqa: PLC0415 - gpiozero only on nodes with a buzzer

        return GpioAlarm(settings.outputs, pin_factory=context.pin_factory)

    # -- writing -------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def record_measurements(self, measurements: list[Measurement]) -> None:
        """Stamp a tick's measurements and write them to the outbox as one telemetry message."""
        if not measurements:
            return
        wall, mono, synced = self.clock.wall(), self.clock.monotonic(), self.clock.synced()
        self._last_stamp = distinct_stamp(wall, mono, synced, self._last_stamp)
        wall, mono = self._last_stamp[0] / 1000, self._last_stamp[1] / 1000
        # Unsynced, a reading carries its monotonic time: if it is sent before the clock syncs, the hub
        # re-stamps it from the boot's anchor (``Health.mono``) instead of keeping a 1970 time.
        reading_mono = None if synced else mono
        measurements = self._calibrated(measurements)
        readings = tuple(
            wire.Reading(sensor=m.sensor, kind=m.kind, value=m.value, unit=m.unit, ts=wall,
                         fault=m.fault, clock_synced=synced, mono=reading_mono)
            for m in measurements
        )
        seq = self._next_seq()
        message = wire.Telemetry(device=self.settings.device, boot_id=self.boot_id, seq=seq, readings=readings)
        self.outbox.put(wire.Channel.TELEMETRY, wire.encode(message), self.boot_id, seq, mono, wall, synced,
                        readings=len(readings))
        self._wake_publisher.set()

    def _calibrated(self, measurements: list[Measurement]) -> list[Measurement]:
        """Apply the hub's offsets in place of the YAML's (the source already added the YAML's)."""
        with self._offsets_lock:
            hub_offsets = self.hub_offsets
        if not hub_offsets:
            return measurements
        result = []
        for m in measurements:
            entry = hub_offsets.get(m.sensor)
            if entry is not None and m.value is not None:
                value = offsets.corrected(m.value, self.infos[m.sensor].offset, entry)
                result.append(Measurement(m.sensor, m.kind, value, m.unit, m.fault))
            else:
                result.append(m)
        return result

    def record_event(
        self, sensor: str, kind: str, state: str, detail: Mapping[str, wire.ScalarValue] | None = None
    ) -> None:
        """The EventSink handed to sources: called from their threads on every input change."""
        wall, mono, synced = self.clock.wall(), self.clock.monotonic(), self.clock.synced()
        seq = self._next_seq()
        message = wire.Event(device=self.settings.device, boot_id=self.boot_id, seq=seq, ts=round(wall, 3),
                             sensor=sensor, kind=kind, state=state, clock_synced=synced, detail=dict(detail or {}))
        self.outbox.put(wire.Channel.EVENT, wire.encode(message), self.boot_id, seq, mono, wall, synced)
        _LOGGER.info("event %s %s %s", sensor, kind, state)
        self._wake_publisher.set()

    # -- publishing ----------------------------------------------------------------------------

    def _handle_published(self, mid: int) -> None:
        with self._inflight_lock:
            if self._inflight.rows.pop(mid, None) is None:
                self._inflight.early_acks.add(mid)
        self._wake_publisher.set()

    def _handle_ready(self) -> None:
        """(Re)connected: the broker may have crashed and lost what it acknowledged; send it all again.

        A heartbeat goes out at once too: commands sent while the link was down are lost
        (a clean session), and the hub re-sends what differs from the buzzer state it reports.
        """
        with self._inflight_lock:
            self._inflight.resend = True
        self._wake_publisher.set()
        try:
            self.link.publish(wire.Channel.HEALTH, wire.encode(self.health()))
        except ConnectionError as error:
            _LOGGER.warning("heartbeat after connecting not sent: %s", error)

    def _handle_stored(self, stored: tuple[wire.StoredSeqs, ...]) -> None:
        """The hub holds these messages: their rows may go (deleted by the publisher thread)."""
        with self._inflight_lock:
            unconfirmed = self._inflight.unconfirmed
            before = len(self._inflight.confirmed)
            for group in stored:
                for first, last in group.seqs:
                    if last - first < len(unconfirmed):
                        keys = [(group.boot_id, seq) for seq in range(first, last + 1)]
                    else:  # a wide range: look through what is waiting instead
                        keys = [k for k in unconfirmed if k[0] == group.boot_id and first <= k[1] <= last]
                    for key in keys:
                        entry = unconfirmed.pop(key, None)
                        if entry is not None:
                            self._inflight.confirmed.append(entry[0])
            if len(self._inflight.confirmed) > before:
                self._inflight.timeout_s = self.settings.outbox.confirm_timeout_s
        self._wake_publisher.set()

    def _confirmation_overdue(self, now: float) -> bool:
        """Whether the oldest unconfirmed row waited past the timeout although the hub was heard since.

        A hub that is down sends no heartbeat: its rows wait in the broker's persistent
        session and sending them again would only queue copies behind them. A hub heard
        after the row went out and still silent about it lost the row (a broker crash
        that took its session, or a lost confirmation).
        """
        inflight = self._inflight
        if not inflight.unconfirmed:
            inflight.rounds.clear()  # all confirmed: no send time is needed any more
            return False
        oldest = next(iter(inflight.unconfirmed.values()))[1]
        while inflight.rounds and inflight.rounds[0][0] < oldest:
            inflight.rounds.popleft()
        if not inflight.rounds:
            return False
        sent_at = inflight.rounds[0][1]
        heard = self.hub_last_seen
        return now - sent_at >= inflight.timeout_s and heard is not None and heard > sent_at

    def publish_pending(self) -> int:
        """Delete confirmed rows, then hand the next window of outbox rows to paho; returns rows sent.

        Two lanes share the window: rows written in the last ``live_age_s`` (a door opening now,
        the current readings) go first, on the live lane; the backlog (rows older than that when
        the round of sends began, after a reconnect) gets what is left of the window, minus
        ``live_reserve`` places kept free for live rows. Each lane is sent in order; a resend
        starts both again (every unconfirmed row goes out once more).
        """
        outbox = self.settings.outbox
        window, unconfirmed_max = outbox.window, outbox.unconfirmed_max
        connected = self.link.connected.is_set()
        now = self.clock.monotonic()
        with self._inflight_lock:
            inflight = self._inflight
            confirmed, inflight.confirmed = inflight.confirmed, []
            if connected and not inflight.resend and self._confirmation_overdue(now):
                _LOGGER.warning("the hub confirmed nothing of %d messages in %.0f s; sending them again",
                                len(inflight.unconfirmed), inflight.timeout_s)
                inflight.resend = True
                inflight.timeout_s = min(inflight.timeout_s * 2, outbox.confirm_timeout_s * 8)
            if connected and inflight.resend:
                # From the oldest row again, in order; rows no longer in the outbox (evicted) drop out.
                inflight.resend = False
                inflight.unconfirmed.clear()
                inflight.rounds.clear()
                inflight.last_sent_id = 0
                inflight.live_start = None
                inflight.live_sent_id = 0
            room = min(window - len(inflight.rows), unconfirmed_max - len(inflight.unconfirmed))
            reserve = min(outbox.live_reserve, window // 2, unconfirmed_max // 2)
            after, live_after, live_start = inflight.last_sent_id, inflight.live_sent_id, inflight.live_start
        self.outbox.delete(confirmed)
        if room <= 0 or not connected:
            return 0
        if live_start is None:
            live_start = self.outbox.live_floor(now - outbox.live_age_s)
            with self._inflight_lock:
                if self._inflight.live_start is None:
                    self._inflight.live_start = live_start
                live_start = self._inflight.live_start
        synced = self.clock.synced()
        sent = 0
        try:
            for row in self.outbox.peek(max(live_after, live_start - 1), room):
                self._publish_row(row, synced, wire.Lane.LIVE)
                sent += 1
            backlog_room = room - reserve - sent
            if backlog_room > 0 and after < live_start - 1:
                for row in self.outbox.peek(after, backlog_room, before_id=live_start):
                    self._publish_row(row, synced, wire.Lane.BACKFILL)
                    sent += 1
        finally:
            if sent:
                with self._inflight_lock:
                    self._inflight.rounds.append((self._inflight.sends, now))
        return sent

    def _publish_row(self, row: OutboxRow, synced: bool, lane: wire.Lane = wire.Lane.LIVE) -> None:
        payload = row.payload
        if not row.synced and synced and row.boot_id == self.boot_id:
            delta = reanchor_delta(row.wall, row.mono, self.clock.wall(), self.clock.monotonic())
            payload = reanchor_payload(payload, delta)
        key = (sys.intern(row.boot_id), row.seq)
        live = lane is wire.Lane.LIVE
        with self._inflight_lock:
            inflight = self._inflight
            # Waiting for the hub before the publish: its confirmation may arrive before publish returns.
            inflight.sends += 1
            inflight.unconfirmed[key] = (row.id, inflight.sends)
            previous = inflight.live_sent_id if live else inflight.last_sent_id
            if live:
                inflight.live_sent_id = row.id
            else:
                inflight.last_sent_id = row.id
        try:
            mid = self.link.publish(row.channel, payload, lane=lane)
        except ConnectionError:
            with self._inflight_lock:  # not sent: this row is the next one to try
                self._inflight.unconfirmed.pop(key, None)
                if live:
                    self._inflight.live_sent_id = previous
                else:
                    self._inflight.last_sent_id = previous
            raise
        with self._inflight_lock:
            if mid in self._inflight.early_acks:
                self._inflight.early_acks.discard(mid)
            else:
                self._inflight.rows[mid] = row.id

    def _publisher_loop(self) -> None:
        while not self._stop.is_set():
            self._wake_publisher.wait(timeout=0.5)
            self._wake_publisher.clear()
            try:
                while self.publish_pending() > 0 and not self._stop.is_set():
                    pass
            except Exception:
                _LOGGER.exception("publisher failed; retrying")
                self._stop.wait(1.0)

    # -- status, health, commands --------------------------------------------------------------

    def announced(self) -> tuple[wire.SensorInfo, ...]:
        """The sensors as the status announces them: with the offset in force and where it comes from."""
        with self._offsets_lock:
            hub_offsets = self.hub_offsets
        sensors = []
        for source in self.sources:
            for info in source.describe():
                entry = hub_offsets.get(info.sensor)
                sensors.append(info if entry is None else info.model_copy(
                    update={"offset": entry.offset, "offset_source": "hub", "calibration": entry.calibration}))
        return tuple(sensors)

    def _status(self, state: str) -> bytes:
        sensors = self.announced()
        return wire.encode(wire.Status(state="online" if state == "online" else "offline", boot_id=self.boot_id,
                                       version=self.version, ts=round(self.clock.wall(), 3), sensors=sensors))

    def health(self) -> wire.Health:
        inputs: dict[str, str] = {}
        for source in self.sources:
            inputs.update(source.states())
        if self.alarm.active:
            inputs["local_alarm"] = "sounding"
        for name, indicator in self.indicators.items():
            inputs[f"indicator:{name}"] = indicator.state
        with self._buzzer_lock:
            report = buzzer.report(self.buzzer)
        # Wall and monotonic read together: with a synced clock they are the boot's anchor for the hub.
        synced, wall, mono = self.clock.synced(), self.clock.wall(), self.clock.monotonic()
        return wire.Health(
            device=self.settings.device, boot_id=self.boot_id, ts=round(wall, 3),
            uptime_s=round(mono - self._started_mono, 1),
            outbox_depth=self.outbox.depth(), dropped=self.outbox.dropped(), clock_synced=synced,
            version=self.version, cpu_temp=cpu_temperature(), inputs=inputs, buzzer=report, mono=round(mono, 3),
            disk_full=self.outbox.disk_full,
        )

    def _warn_if_never_synced(self) -> None:
        """Say once per run that the kernel never reported sync (a VM or container that needs ``assume``)."""
        if self._warned_unsynced:
            return
        uptime = self.clock.monotonic() - self._started_mono
        if unsynced_too_long(self.clock.synced(), self.settings.clock_sync_check, uptime):
            self._warned_unsynced = True
            _LOGGER.warning("after %.0f s %s", uptime, NEVER_SYNCED_ADVICE)

    def _send_health(self) -> None:
        if self.link.connected.is_set():
            self.link.publish(wire.Channel.HEALTH, wire.encode(self.health()))

    def _handle_command(self, command: wire.Command) -> None:
        if command.action == "stored":
            self._handle_stored(command.stored)  # one per hub batch: not worth a log line
            return
        _LOGGER.info("command %s for alert %s (%s)", command.action, command.alert, command.reason)
        if command.action in buzzer.BUZZER_ACTIONS:
            with self._buzzer_lock:
                self._set_buzzer(buzzer.on_command(self.buzzer, command))
        elif command.action == "set_offset":
            self.set_offset(command)
        elif command.action == "indicator":
            indicator = self.indicators.get(command.target)
            if indicator is None:
                _LOGGER.info("no %r indicator on this node; command ignored", command.target)
            else:
                indicator.show(command.state or "off")

    def set_offset(self, command: wire.Command) -> None:
        """Apply a calibration offset from the hub at once, keep it in the node's state, and say so in the status.

        Only the hub can publish on this device's ``cmd`` topic (the broker's ACL); the node
        still checks what it is told: the sensor must be one of its temperature sensors, and
        the offset is bounded by the wire contract (±``wire.MAX_OFFSET`` °C).
        """
        if command.offset is None:
            _LOGGER.warning("set_offset without an offset ignored")
            return
        try:
            info = offsets.check_target(command.sensor, self.infos)
        except offsets.OffsetRefused as error:
            _LOGGER.warning("set_offset refused: %s", error)
            return
        entry = offsets.HubOffset(offset=command.offset, calibration=command.calibration,
                                  hardware_id=info.hardware_id, applied_at=round(self.clock.wall(), 3))
        with self._offsets_lock:
            updated = {**self.hub_offsets, info.sensor: entry}
            offsets.save(self._offsets_path, updated)
            self.hub_offsets = updated
        _LOGGER.info("calibration offset of %s now %+.3f °C (check %s; config: %s)", info.sensor, entry.offset,
                     entry.calibration, info.offset)
        if self.link.connected.is_set():
            try:
                self.link.publish(wire.Channel.STATUS, self._status("online"), retain=True)
            except ConnectionError as error:
                _LOGGER.warning("status after a new offset not sent: %s", error)

    def _handle_hub_heartbeat(self) -> None:
        self.hub_last_seen = self.clock.monotonic()

    def check_fail_local(self, measurements: list[Measurement]) -> None:
        """Sound (or stop) the buzzer by itself when a limit is crossed and the hub is out of reach."""
        local = self.settings.local_alarm
        if not local.enabled:
            return
        now = self.clock.monotonic()
        unreachable = hub_unreachable(self.link.connected.is_set(), self.hub_last_seen, self._started_mono, now,
                                      local.hub_silence_s)
        with self._buzzer_lock:
            decision = evaluate(self.buzzer.local, self.limits, ((m.sensor, m.value) for m in measurements), now,
                                unreachable, local.delay_s)
            if decision.action != "none":
                _LOGGER.info("fail-local %s: %s", decision.action, decision.reason)
            self._set_buzzer(buzzer.with_local(self.buzzer, decision.state))

    @property
    def fail_local(self) -> FailLocalState:
        return self.buzzer.local

    def press_alarm_button(self) -> None:
        """The kitchen's button: silence what sounds now, here at once, and tell the hub who/when (an event).

        The event goes through the outbox like any other, so the hub records the
        acknowledgement even if it hears of the press only after the network is back.
        A press with nothing sounding does nothing (and a bouncing contact costs nothing).
        """
        with self._buzzer_lock:
            state, alerts, sensors = buzzer.silence_all(self.buzzer)
            self._set_buzzer(state)
        if not alerts and not sensors:
            _LOGGER.info("alarm button pressed with nothing sounding")
            return
        _LOGGER.info("alarm button silenced alerts %s and local excursions %s", alerts, sensors)
        self.record_event(wire.ALARM_BUTTON_SENSOR, wire.ALARM_BUTTON_KIND, "pressed",
                          {"alerts": ",".join(str(a) for a in alerts), "sensors": ",".join(sensors)})

    def _set_buzzer(self, state: buzzer.BuzzerState) -> None:
        """Keep the new state and drive the buzzer from it (under ``_buzzer_lock``): on while anything holds it."""
        self.buzzer = state
        wanted = buzzer.sounding(state)
        if wanted and not self.alarm.active:
            self.alarm.sound(buzzer.reason(state, self.clock.monotonic()))
        elif not wanted and self.alarm.active:
            _LOGGER.info("local alarm off: nothing holds it (%s)", buzzer.report(state).model_dump_json())
            self.alarm.silence()

    # -- running -------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until ``stop()``; sources are started and closed here."""
        for source in self.sources:
            source.start(self.record_event)
        publisher = threading.Thread(target=self._publisher_loop, name="outbox-publisher", daemon=True)
        publisher.start()
        self.link.start()
        next_read = {index: self.clock.monotonic() for index, s in enumerate(self.sources) if s.interval_s}
        next_health = self.clock.monotonic()
        try:
            while not self._stop.is_set():
                now = self.clock.monotonic()
                measurements: list[Measurement] = []
                for index, due in next_read.items():
                    if due <= now:
                        source = self.sources[index]
                        measurements.extend(self._read(source))
                        interval = source.interval_s or 1.0
                        # Keep the cadence; after a stall (a slow bus, a loaded CPU) skip the missed
                        # slots instead of reading again at once: two reads in the same millisecond
                        # would share a timestamp, and the hub keys readings by (sensor, ts) (a stall
                        # between a read and its stamp: ``distinct_stamp``). A slot
                        # less than half an interval away counts as missed too (a stall of just under
                        # an interval otherwise reads twice within microseconds).
                        slot = due + interval
                        next_read[index] = slot if slot - now >= interval / 2 else now + interval
                self.record_measurements(measurements)
                self.check_fail_local(measurements)
                if next_health <= now:
                    self._warn_if_never_synced()
                    self._send_health()
                    next_health = now + self.settings.heartbeat_s
                wake = min([next_health, *next_read.values()])
                self._stop.wait(max(0.0, wake - self.clock.monotonic()))
        finally:
            self._stop.set()
            publisher.join(timeout=5)
            self.link.stop(self._status("offline"))
            for source in self.sources:
                source.close()
            if self.button is not None:
                self.button.close()
            close_alarm = getattr(self.alarm, "close", None)
            if close_alarm is not None:
                close_alarm()
            for indicator in self.indicators.values():
                indicator.close()
            self.outbox.close()

    def _read(self, source: Source) -> list[Measurement]:
        try:
            return source.read()
        except Exception as error:
            # A driver bug must not stop the other sensors; it shows up as a fault reading.
            _LOGGER.exception("source %s failed", type(source).__name__)
            return [Measurement(info.sensor, info.kind, None, info.unit, fault=f"error: {error}"[:64])
                    for info in source.describe()]

    def stop(self) -> None:
        self._stop.set()
        self._wake_publisher.set()


def cpu_temperature(path: Path = Path("/sys/class/thermal/thermal_zone0/temp")) -> float | None:
    """The SoC temperature a Pi reports (millidegrees), or None where there is none."""
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None
