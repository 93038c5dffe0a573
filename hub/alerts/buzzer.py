"""The kitchen buzzers: what the hub wants each node's buzzer to do about each alert, and getting it there.

The node derives its buzzer from the alerts it was told about (edge.buzzer), so the
hub tells it, per alert, one of three things: sound (``alarm_on``), silenced
(``silence``: someone acknowledged it, or a silence covers its sensor) or over
(``alarm_off``). What the hub wants is a pure function of the alert's *current* state
and the silences in force (``wanted``), never of the event that prompted the look: a
batch that fired and resolved an alert in one go sends ``alarm_off`` alone, not a chirp.

Commands travel at QoS 1 and are idempotent, but a node reconnects with a clean
session, so what was sent while it was away is lost. Hence three ways back to the
truth: what is wanted is sent again whenever a device comes online (a new status) or
the hub's own broker connection comes back, and a node's heartbeat reports why its
buzzer is on or off, and whatever differs from what is wanted is sent again.

The node's alarm button reaches the hub as an event (``wire.ALARM_BUTTON_KIND``); the
firing alerts it silenced are acknowledged by the device through the engine's ``act``,
so the lifecycle and the audit chain record who (the device) and when.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from edge import wire
from hub.alerts.kinds import AlertState
from hub.alerts.lifecycle import Action, LifecycleError
from hub.alerts.ports import AlertHistory, Directory
from hub.rules.silence import Silence, silencing
from hub.store.base import StoredEvent
from hub.store.state import Alert

_LOGGER = logging.getLogger(__name__)

#: ``publish(device, command)``; raises (ConnectionError) when the command cannot be handed to the broker.
PublishCommand = Callable[[str, wire.Command], None]

#: How long an ``alarm_off`` is remembered, so the listener calls of one batch send it once.
OFF_KEPT_S = 60.0
#: A heartbeat is compared with what is wanted only for alerts whose last command went out at least this
#: long before the heartbeat was seen: an earlier one may have been written before the command arrived.
RESEND_GRACE_S = 5.0


class BuzzerWant(enum.StrEnum):
    """What the hub wants a node's buzzer to do about one alert."""

    SOUND = "sound"
    SILENCE = "silence"
    OFF = "off"

    @property
    def action(self) -> str:
        return {BuzzerWant.SOUND: "alarm_on", BuzzerWant.SILENCE: "silence", BuzzerWant.OFF: "alarm_off"}[self]


def device_and_sensor(subject: str) -> tuple[str, str] | None:
    """``("canteen-1", "fridge-1")`` for a sensor's alert; ``None`` for one that is not a device's sensor."""
    if "/" not in subject:
        return None  # a device, a meal's samples, a notification channel: no buzzer of its own
    device, sensor = subject.split("/", 1)
    return device, sensor


def wanted(alert: Alert, silences: Sequence[Silence], now: float, tz: ZoneInfo) -> BuzzerWant | None:
    """What the buzzer of the alert's device should do about it now; ``None``: nothing to tell the node.

    Firing sounds unless a silence in force covers it; acknowledged is silenced (someone
    is on it); a pending alert is not an alarm yet; every other state is over.
    """
    if device_and_sensor(alert.subject) is None:
        return None
    state = alert.state
    if state is AlertState.FIRING:
        covered = silencing(list(silences), alert.rule, alert.subject, now, tz) is not None
        return BuzzerWant.SILENCE if covered else BuzzerWant.SOUND
    if state is AlertState.ACKNOWLEDGED:
        return BuzzerWant.SILENCE
    if state is AlertState.PENDING:
        return None
    return BuzzerWant.OFF


class BuzzerRecord(AlertHistory, Directory, Protocol):
    """What the buzzers read of the hub's record: alerts (one by id, or by state) and devices."""

    def alert(self, alert_id: int) -> Alert | None: ...


class Acknowledge(Protocol):
    """The engine's ``act``: a person's (here: a device's) action on an alert, through lifecycle and audit."""

    def __call__(self, alert_id: int, action: Action, who: str, text: str = "",
                 data: dict[str, Any] | None = None) -> Alert: ...


class AlertSource(Protocol):
    """The engine, as far as the buzzers care: it tells its listeners of every alert change."""

    def add_listener(self, listener: Callable[[Alert], None]) -> None: ...


class Feed(Protocol):
    """The ingest pipeline, as far as the buzzers care: the stored events."""

    def add_event_listener(self, listener: Callable[[list[StoredEvent]], None]) -> None: ...


@dataclass(frozen=True)
class _Sent:
    device: str
    want: BuzzerWant
    at: float


class EdgeBuzzers:
    """Keeps every node's buzzer in line with the alerts (an engine listener, a ticker, an event listener)."""

    def __init__(self, record: BuzzerRecord, silences: Callable[[], list[Silence]], publish: PublishCommand,
                 tz: ZoneInfo, *, acknowledge: Acknowledge, connected: Callable[[], bool],
                 clock: Callable[[], float] = time.time) -> None:
        self._record = record
        self._silences = silences
        self._publish = publish
        self._tz = tz
        self._acknowledge = acknowledge
        self._connected = connected
        self._clock = clock
        #: Serialises deciding and sending, so two threads never send one alert's commands out of order.
        self._lock = threading.Lock()
        #: The last command sent per alert (an ``alarm_off`` is forgotten ``OFF_KEPT_S`` after it went out).
        self._sent: dict[int, _Sent] = {}
        #: Per device, the (boot, online since) whose wanted state was last pushed.
        self._online: dict[str, tuple[Any, Any] | None] = {}
        #: Per device, the heartbeat (its ``ts``) last compared, and when the hub first saw it.
        self._heartbeats: dict[str, tuple[float, float]] = {}
        self._was_connected = False

    def attach(self, engine: AlertSource, feed: Feed) -> None:
        """Hear of every alert change and see the nodes' alarm-button events (``tick`` is a scheduler duty)."""
        engine.add_listener(self.on_alert)
        feed.add_event_listener(self.on_events)

    # -- listeners -----------------------------------------------------------------------------

    def on_alert(self, alert: Alert) -> None:
        """An alert changed (the engine's listener): tell its node what is wanted of it now."""
        with self._lock:
            self._sync(alert, self._clock(), self._silences())

    def route_command(self, device: str, command: wire.Command) -> None:
        """The notification routes' ``buzzer`` channel goes through here: an ``alarm_on`` about an alert
        sends what that alert wants now (a "resolved" or "acknowledged" message must not re-sound it).

        Raises ConnectionError when that could not be handed to the broker: a failed delivery.
        """
        if command.action == "alarm_on" and command.alert is not None:
            alert = self._record.alert(command.alert)
            if alert is None:
                _LOGGER.warning("buzzer route: no alert %s; %s not sounded", command.alert, device)
                return
            with self._lock:
                sent = self._sync(alert, self._clock(), self._silences())
            if sent is False:
                raise ConnectionError(f"buzzer command for alert {command.alert} not sent to {device}")
            return
        self._publish(device, command)

    def on_events(self, events: Sequence[StoredEvent]) -> None:
        """The node's alarm button: acknowledge, as the device, the firing alerts the press silenced."""
        for event in events:
            if event.kind != wire.ALARM_BUTTON_KIND:
                continue
            try:
                detail = json.loads(event.detail)
            except ValueError:
                detail = {}
            ids = {int(i) for i in str(detail.get("alerts") or "").split(",") if i.strip().isdigit()}
            sensors = {f"{event.device}/{s.strip()}" for s in str(detail.get("sensors") or "").split(",") if s}
            for alert in self._record.alerts([AlertState.FIRING]):
                ours = device_and_sensor(alert.subject)
                if ours is None or ours[0] != event.device or (alert.id not in ids and alert.subject not in sensors):
                    continue
                assert alert.id is not None
                try:
                    self._acknowledge(alert.id, "acknowledge", event.device, "silenced with the alarm button on "
                                      f"{event.device}", data={"button_pressed_at": event.ts})
                    _LOGGER.info("alert %s acknowledged by %s (alarm button)", alert.id, event.device)
                except (LifecycleError, KeyError) as error:  # acknowledged meanwhile, or gone
                    _LOGGER.info("alarm button on %s: alert %s not acknowledged: %s", event.device, alert.id, error)

    def tick(self, now: float) -> None:
        """Silences that began or ended, devices that came online, heartbeats that disagree."""
        connected = self._connected()
        with self._lock:
            if connected and not self._was_connected:
                # The hub's own session is back (or this is the start): what was sent may be lost.
                self._sent.clear()
                self._online.clear()
            self._was_connected = connected
            if not connected:
                return
            for alert_id in [i for i, sent in self._sent.items()
                             if sent.want is BuzzerWant.OFF and now - sent.at > OFF_KEPT_S]:
                del self._sent[alert_id]
            devices = self._record.devices()
            for device in devices:
                self._follow_session(device)
            silences = self._silences()
            active = [a for a in self._record.alerts([AlertState.FIRING, AlertState.ACKNOWLEDGED])
                      if device_and_sensor(a.subject) is not None]
            for alert in active:
                self._sync(alert, now, silences)
            for device in devices:
                if device["state"] == "online":
                    self._compare_heartbeat(device, active, silences, now)

    # -- internals -----------------------------------------------------------------------------

    def _follow_session(self, device: dict[str, Any]) -> None:
        """A device online again (or for the first time since the hub started) lost what it was sent."""
        name = device["device"]
        session = (device["boot_id"], device["state_since"]) if device["state"] == "online" else None
        if self._online.get(name) == session:
            return
        self._online[name] = session
        for alert_id in [i for i, sent in self._sent.items() if sent.device == name]:
            del self._sent[alert_id]  # sent again by the sync that follows

    def _compare_heartbeat(self, device: dict[str, Any], active: list[Alert], silences: list[Silence],
                           now: float) -> None:
        """Send again what the node's latest heartbeat shows it does not have."""
        name = device["device"]
        mine = [a for a in active if a.subject.startswith(f"{name}/")]
        health = device.get("health") or {}
        report = health.get("buzzer")
        if report is None or not isinstance(health.get("ts"), int | float):
            return  # a node older than the buzzer report: the pushes above are all it gets
        ts = float(health["ts"])
        seen = self._heartbeats.get(name)
        if seen is None or seen[0] != ts:
            seen = self._heartbeats[name] = (ts, now)
        else:
            return  # compared already
        try:
            buzzer = wire.BuzzerReport.model_validate(report, strict=False)  # JSON lists for the tuples
        except ValueError:
            return
        holding, silenced = set(buzzer.alerts), set(buzzer.silenced_alerts)
        by_id = {a.id: a for a in mine if a.id is not None}
        for alert_id in sorted(holding | silenced | set(by_id)):
            alert = by_id.get(alert_id) or self._record.alert(alert_id)
            if alert is None or (device_and_sensor(alert.subject) or ("",))[0] != name:
                # The hub knows no such alert of this device (its database was replaced, say): it is over.
                sent = self._sent.get(alert_id)
                if sent is None or sent.device != name or sent.at <= seen[1] - RESEND_GRACE_S:
                    self._send(name, "", alert_id, BuzzerWant.OFF, "", now)
                continue
            want = wanted(alert, silences, now, self._tz)
            node = BuzzerWant.SOUND if alert_id in holding else BuzzerWant.SILENCE if alert_id in silenced \
                else BuzzerWant.OFF
            if want is None or want is node:
                continue
            if want is BuzzerWant.SILENCE and node is BuzzerWant.OFF and \
                    device_and_sensor(alert.subject) not in {(name, s) for s in buzzer.sensors}:
                continue  # the node is quiet about it already
            sent = self._sent.get(alert_id)
            if sent is not None and sent.at > seen[1] - RESEND_GRACE_S:
                continue  # the heartbeat may predate the command; the next one will tell
            _LOGGER.info("%s reports its buzzer %s for alert %s, wanted %s: sending again", name, node, alert_id,
                         want)
            self._sync(alert, now, silences, force=True)

    def _sync(self, alert: Alert, now: float, silences: list[Silence], force: bool = False) -> bool | None:
        """Send what the alert wants of its node's buzzer, unless that was the last thing sent (under the lock).

        The alert is read again first: listeners hear of a batch's changes one by one
        after it committed, and only the latest state counts. Returns whether a command
        went to the broker (``None``: nothing needed sending).
        """
        if alert.id is None:
            return None
        current = self._record.alert(alert.id) or alert
        want = wanted(current, silences, now, self._tz)
        where = device_and_sensor(current.subject)
        if want is None or where is None:
            return None
        last = self._sent.get(alert.id)
        if not force and last is not None and last.want is want:
            return None
        if want is BuzzerWant.OFF and last is None and not force and current.fired_at is None:
            return None  # cancelled before it fired: the node never heard of it
        return self._send(where[0], where[1], alert.id, want, current.message, now)

    def _send(self, device: str, sensor: str, alert_id: int, want: BuzzerWant, reason: str, now: float) -> bool:
        command = wire.Command.model_validate({"action": want.action, "ts": now, "reason": reason[:200],
                                              "alert": alert_id, "sensor": sensor})
        try:
            self._publish(device, command)
        except ConnectionError as error:
            _LOGGER.warning("buzzer %s for alert %s not sent to %s: %s", want.action, alert_id, device, error)
            self._sent.pop(alert_id, None)  # unknown on the node: the next look sends it again
            return False
        self._sent[alert_id] = _Sent(device, want, now)
        return True
