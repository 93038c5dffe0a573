"""The broker's own drop counter as a hub alarm.

Mosquitto drops QoS 1 messages for a subscriber whose queue is full
(``max_queued_messages``) — a hub that was down for too long — after it has already
acknowledged them to the edge, which then deletes them from its outbox. Those readings
are gone, and only the broker knows: it counts them in the retained
``$SYS/broker/publish/messages/dropped`` topic (since the broker started). This module
watches that counter over a connection of its own (``$SYS`` is not part of the wire
contract and must not reach the ingest pipeline) and reports a rise to the alert
engine through ``observe()``: the alarm fires at once and clears after
``dropped_quiet_s`` without a new drop, like an edge outbox that drops.

The last counter seen is kept in a small file, so a hub restart does not raise the
same drops again; a counter below it means the broker restarted and counts from 0.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import BrokerSettings
from edge.link import close_client, make_client
from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import AlertKind, RuleKind, Severity

_LOGGER = logging.getLogger(__name__)

SYS_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
RULE = RuleKind.BROKER_DROPPING
SUBJECT = "broker"


@dataclass(frozen=True)
class DropState:
    """What the hub knows of the broker's counter: the last value, and the latest rise."""

    baseline: int = 0
    last_increase: float | None = None
    increase: int = 0


def step_drops(state: DropState, counter: int, now: float) -> DropState:
    """Fold one reading of the counter into the state (a counter below the baseline: the broker restarted)."""
    baseline = 0 if counter < state.baseline else state.baseline
    if counter > baseline:
        return DropState(counter, now, counter - baseline)
    return DropState(counter, state.last_increase, state.increase)


def dropping(state: DropState, now: float, quiet_s: float) -> bool:
    """Is the alarm on: a rise within the last ``quiet_s`` seconds."""
    return state.last_increase is not None and now - state.last_increase < quiet_s


def message(increase: int, locale: str) -> str:
    if locale == "zh":
        return f"消息代理队列溢出，已丢弃 {increase} 条消息（中心端离线过久或处理过慢），这些读数已丢失"
    return (f"Broker queue overflow: {increase} messages dropped (the hub was down or too slow for too long);"
            " those readings are lost")


class BrokerDropWatch:
    """A subscriber to the broker's ``$SYS`` drop counter, feeding the alert engine from the hub's ticker."""

    def __init__(self, broker: BrokerSettings, client_id: str, engine: AlertEngine, state_file: Path,
                 quiet_s: float) -> None:
        self._engine = engine
        self._state_file = state_file
        self._quiet_s = quiet_s
        self._state = DropState(baseline=self._load_baseline())
        self._latest: int | None = None
        self._lock = threading.Lock()
        self._broker = broker
        self._client = make_client(client_id, broker, broker.resolved_password())
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    @property
    def counter(self) -> int:
        """The broker's drop counter as last folded in (since the broker started)."""
        return self._state.baseline

    def _load_baseline(self) -> int:
        try:
            return int(json.loads(self._state_file.read_text(encoding="utf-8"))["counter"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
        self._client.loop_start()

    def stop(self) -> None:
        close_client(self._client)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                    _props: Properties | None) -> None:
        if not reason.is_failure:
            client.subscribe(SYS_DROPPED_TOPIC, qos=0)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            counter = int(msg.payload.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            _LOGGER.warning("unreadable broker drop counter %r", msg.payload[:40])
            return
        with self._lock:
            self._latest = counter

    def tick(self, now: float) -> None:
        """Called by the ingest pipeline's ticker: fold in the latest counter and report the condition."""
        with self._lock:
            counter, self._latest = self._latest, None
        if counter is not None:
            before = self._state
            self._state = step_drops(before, counter, now)
            if self._state.baseline != before.baseline:
                self._save_baseline(self._state.baseline)
            if self._state.last_increase == now:
                _LOGGER.error("the broker dropped %d messages queued for the hub", self._state.increase)
        self._engine.observe(RULE, SUBJECT, dropping(self._state, now, self._quiet_s), now, kind=AlertKind.HUB,
                             severity=Severity.CRITICAL, device="hub",
                             message=message(self._state.increase, self._engine.locale),
                             data={"dropped": self._state.increase, "counter": self._state.baseline})

    def _save_baseline(self, counter: int) -> None:
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"counter": counter}), encoding="utf-8")
        temporary.replace(self._state_file)
