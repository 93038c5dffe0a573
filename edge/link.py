"""The edge's MQTT connection: credentials, TLS, Last Will, retained status, TCP_NODELAY.

paho-mqtt runs its network loop in its own thread and reconnects by itself; QoS 1
messages that were in flight when the link dropped are re-sent by paho after the
reconnect. A PUBACK only frees a place in the publishing window: the outbox deletes
a row when the hub confirms it (``stored`` on ``cmd``), and sends every unconfirmed
row again after each reconnect (``on_ready``), since a broker that crashed has lost
what it had acknowledged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import wire
from edge.config import BrokerSettings

_LOGGER = logging.getLogger(__name__)

#: The hub's own heartbeat; edges that stop hearing it sound their buzzer locally.
HUB_HEARTBEAT_TOPIC = f"{wire.TOPIC_ROOT}/{wire.WIRE_VERSION}/_hub/heartbeat"


def stop_loop(client: mqtt.Client) -> None:
    """Stop the network thread and wait for it to end.

    paho's ``loop_stop`` reads its thread reference several times, and the thread clears
    it as it ends (once it has been told to stop, or after sending a DISCONNECT). When the
    thread ends between two of those reads, ``loop_stop`` raises AttributeError although
    the thread is gone (paho-mqtt issue #872, open in 2.2.0): a hub or an edge stopping
    must not fail on that.
    """
    with contextlib.suppress(AttributeError):  # the thread had already ended: what loop_stop waits for
        client.loop_stop()


def close_client(client: mqtt.Client) -> None:
    """Disconnect, then wait for the network thread to end (``stop_loop``)."""
    client.disconnect()
    stop_loop(client)


def make_client(client_id: str, broker: BrokerSettings, password: str, clean_session: bool = True,
                manual_ack: bool = False) -> mqtt.Client:
    """A paho client configured the way every xiaoan process needs it."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    client.username_pw_set(broker.username, password)
    if broker.tls is not None:
        client.tls_set(
            ca_certs=str(broker.tls.ca_file),
            certfile=str(broker.tls.cert_file) if broker.tls.cert_file else None,
            keyfile=str(broker.tls.key_file) if broker.tls.key_file else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.reconnect_delay_set(min_delay=1, max_delay=30)

    def nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        # Nagle's algorithm holds small packets for ~40 ms waiting for more data;
        # an alarm must not wait for that.
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    client.on_socket_open = nodelay
    return client


def hub_reads_lanes(payload: bytes) -> bool:
    """Whether the hub's retained lanes message says it consumes the backfill lane (empty: it was withdrawn)."""
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get(wire.LANES_KEY) is True


class EdgeLink:
    """One device's session with the broker."""

    def __init__(
        self,
        site: str,
        device: str,
        broker: BrokerSettings,
        status_online: Callable[[], bytes],
        status_offline: bytes,
        on_command: Callable[[wire.Command], None],
        on_published: Callable[[int], None],
        on_hub_heartbeat: Callable[[], None],
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.site = site
        self.device = device
        self._broker = broker
        self._status_online = status_online
        self._on_command = on_command
        self._on_published = on_published
        self._on_hub_heartbeat = on_hub_heartbeat
        self._on_ready = on_ready
        self.connected = threading.Event()
        #: The hub said (``wire.HUB_LANES_TOPIC``, retained) that it consumes the backfill lane.
        self.hub_lanes = False
        self._ready_mid: int | None = None
        self._client = make_client(f"edge-{site}-{device}", broker, broker.resolved_password())
        self._client.will_set(wire.topic(site, device, wire.Channel.STATUS), status_offline, qos=1, retain=True)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_publish = self._handle_publish
        self._client.on_subscribe = self._handle_subscribe
        self._client.on_message = self._handle_message

    def start(self) -> None:
        """Connect in the background; paho keeps retrying until ``stop``."""
        self._client.connect_async(self._broker.host, self._broker.port, keepalive=self._broker.keepalive_s)
        self._client.loop_start()

    def publish(self, channel: wire.Channel, payload: bytes, retain: bool = False,
                lane: wire.Lane = wire.Lane.LIVE) -> int:
        """Queue a QoS 1 message; returns its message id (acknowledged via ``on_published``).

        A backfill message goes on the backfill topic only when the hub said it reads it
        (``hub_lanes``); an older hub gets it on the live topic, as it always did.
        """
        if lane is wire.Lane.BACKFILL and not self.hub_lanes:
            lane = wire.Lane.LIVE
        info = self._client.publish(wire.topic(self.site, self.device, channel, lane), payload, qos=1,
                                    retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"publish refused by paho: {mqtt.error_string(info.rc)}")
        return info.mid

    def stop(self, offline_payload: bytes) -> None:
        """Say goodbye cleanly (retained offline status), then disconnect."""
        if self.connected.is_set():
            info = self._client.publish(
                wire.topic(self.site, self.device, wire.Channel.STATUS), offline_payload, qos=1, retain=True
            )
            info.wait_for_publish(timeout=3)
        close_client(self._client)

    def _handle_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                        _props: Properties | None) -> None:
        if reason.is_failure:
            _LOGGER.error("broker refused %s: %s", self.device, reason)
            return
        # The hub's lanes first, in a SUBSCRIBE of its own: the broker sends its retained message right
        # after that SUBACK, so it is read before the second SUBACK makes the node ready and the backlog is
        # sent on the lane the hub reads. A broker whose ACL predates the lanes sends nothing: no lanes.
        client.subscribe(wire.HUB_LANES_TOPIC, 1)
        _, self._ready_mid = client.subscribe(
            [(wire.topic(self.site, self.device, wire.Channel.CMD), 1), (HUB_HEARTBEAT_TOPIC, 0)]
        )
        client.publish(wire.topic(self.site, self.device, wire.Channel.STATUS), self._status_online(),
                       qos=1, retain=True)
        _LOGGER.info("connected to %s:%s as %s", self._broker.host, self._broker.port, self.device)

    def _handle_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, _reasons: list[ReasonCode],
                          _props: Properties | None) -> None:
        if mid != self._ready_mid:
            return  # the lanes' SUBACK: the node is ready at the next one
        # Ready only now: right after on_connect paho re-sends the messages that were in
        # flight when the link dropped. Letting the outbox publish new rows from inside
        # on_connect would send them ahead of those, out of order.
        self._on_ready()
        self.connected.set()

    def _handle_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                           _props: Properties | None) -> None:
        self.connected.clear()
        _LOGGER.warning("disconnected from broker: %s", reason)

    def _handle_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: ReasonCode,
                        _props: Properties | None) -> None:
        self._on_published(mid)

    def _handle_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == HUB_HEARTBEAT_TOPIC:
            self._on_hub_heartbeat()
            return
        if message.topic == wire.HUB_LANES_TOPIC:
            self.hub_lanes = hub_reads_lanes(bytes(message.payload))
            return
        try:
            command = wire.decode(wire.Channel.CMD, bytes(message.payload))
        except wire.WireError as error:
            _LOGGER.warning("ignored invalid command on %s: %s", message.topic, error.reason)
            return
        self._on_command(command)
