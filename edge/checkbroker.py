"""Does the broker a config names answer: the address, the port, and with TLS the school CA and the host name.

``check-config --online`` asks before the agent is started, so a wrong host, a closed port
or a CA that did not sign the broker's certificate is said on the installer's screen,
not hours later in the journal.

It does not log in as the device: the packaged broker takes a device's user name as its
client id (``use_username_as_clientid``), so a check logged in as the device would push
the running agent off and end its session. It connects without credentials instead: a
broker that answers refuses that login with a CONNACK ("not authorised"), which proves
the listener, the TLS handshake and the MQTT protocol all work. The device's own
password is proved by the agent's first connection (``connected to …`` in its log).

The TLS handshake is made the way the agent makes it (``edge.link.make_client``): with the
device's client certificate when the config names one, since a broker with
``require_certificate true`` closes the handshake of a client without one. A broker that
*accepts* the anonymous login is a problem, not a pass: anyone on the school's network
could then publish readings or alarms in any device's name.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import BrokerSettings
from edge.link import close_client

#: How long to wait for the broker's CONNACK once the connection is open.
ANSWER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BrokerAnswer:
    """What the broker said: ``ok`` when it answered at all; ``line`` in words for the installer."""

    ok: bool
    line: str


def _client(broker: BrokerSettings) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True, protocol=mqtt.MQTTv311)
    if broker.tls is not None:
        # The agent's own certificate too: a broker that asks for one refuses a handshake without it.
        client.tls_set(ca_certs=str(broker.tls.ca_file),
                       certfile=str(broker.tls.cert_file) if broker.tls.cert_file else None,
                       keyfile=str(broker.tls.key_file) if broker.tls.key_file else None,
                       tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return client


def _closed_hint(broker: BrokerSettings) -> str:
    """Why a broker may close the connection before answering, for this config."""
    if broker.tls is not None and broker.tls.cert_file is None:
        return ("TLS on a plain port, or the other way round? or does the broker ask for a client certificate"
                " (require_certificate)? then set broker.tls.cert_file and broker.tls.key_file")
    return "TLS on a plain port, or the other way round?"


def check_broker(broker: BrokerSettings, timeout_s: float = ANSWER_TIMEOUT_S) -> BrokerAnswer:
    """Connect to ``broker`` without credentials and wait for its answer."""
    where = f"{broker.host}:{broker.port} ({'TLS' if broker.tls is not None else 'plain MQTT'})"
    answered = threading.Event()
    reasons: list[ReasonCode] = []
    closed: list[str] = []

    def on_connect(_client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        reasons.append(reason)
        answered.set()

    def on_disconnect(_client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if not reasons:
            closed.append(str(reason))
            answered.set()

    client = _client(broker)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except ssl.SSLCertVerificationError as error:
        return BrokerAnswer(False, f"broker: {where}: its certificate is not trusted by broker.tls.ca_file"
                                   f" {broker.tls.ca_file if broker.tls else ''}: {error.verify_message}")
    except (OSError, ValueError) as error:
        return BrokerAnswer(False, f"broker: {where}: no connection: {error}")
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return BrokerAnswer(False, f"broker: {where}: connected, but no MQTT answer within {timeout_s:g} s"
                                       f" (is it the broker's port? {_closed_hint(broker)})")
    finally:
        close_client(client)
    if not reasons:
        return BrokerAnswer(False, f"broker: {where}: the connection was closed without an MQTT answer"
                                   f" ({_closed_hint(broker)})")
    if not reasons[0].is_failure:
        return BrokerAnswer(False, f"broker: {where}: the broker accepts anonymous clients: a login without"
                                   " user name or password was let in; set allow_anonymous false on its listener")
    return BrokerAnswer(True, f"broker: {where} answers (an anonymous login was refused as it should be:"
                              f" {reasons[0]}); the device's own password is proved by the agent's first connection")
