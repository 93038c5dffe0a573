"""Device accounts changed while the broker runs, through Mosquitto's dynamic security plugin.

The hub runs as its own user: it can neither write the broker's password file nor send
Mosquitto a reload signal. The plugin (``mosquitto_dynamic_security.so``, shipped in
Debian's mosquitto package) keeps accounts and roles in ``dynsec.json`` and changes them
at once when its administrator publishes a command on ``$CONTROL/dynamic-security/v1``;
the broker writes the file itself. The hub holds that administrator's password
(``xiaoan-admin``) and nothing of the broker's files.

Each device added from the admin page is one plugin client with one role of the same
name; the role's ACL is ``hub.broker.device_topics`` — the rule the ACL file of
``xiaoan provision`` follows — so a device from the page is confined exactly as one
from the command line. Deleting or disabling a client disconnects its session.

One command round trip per connection: the administrator's session is named after
its account on the devices' door, so two at once would drop each other; a lock keeps
them in turn.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import TlsSettings
from edge.link import close_client
from hub.broker import device_topics
from hub.errors import FieldError

_LOGGER = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"


class DynsecError(FieldError):
    """The broker did not carry out a command; the message says which and why (never a password)."""

    status = 502

    def __init__(self, message: str) -> None:
        super().__init__("broker", message)


@dataclass(frozen=True)
class DynsecSettings:
    """Where the plugin's administrator logs in: the devices' door of the school's broker."""

    host: str
    port: int
    username: str
    password: str
    tls: TlsSettings | None = None
    timeout_s: float = 10.0


class Dynsec:
    """Create, confine, re-key, disable and delete device clients of the plugin."""

    def __init__(self, settings: DynsecSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def create_device(self, site: str, device: str) -> None:
        """A client that cannot log in yet (no password) and its role: write its own channels, read its ``cmd``."""
        topics = device_topics(site, device)
        acls: list[dict[str, Any]] = [
            {"command": "addRoleACL", "rolename": device, "acltype": "publishClientSend", "topic": topic,
             "allow": True} for topic in topics.write]
        acls += [{"command": "addRoleACL", "rolename": device, "acltype": "subscribeLiteral", "topic": topic,
                  "allow": True} for topic in topics.read]
        self.run([{"command": "createRole", "rolename": device}, *acls,
                  {"command": "createClient", "username": device, "roles": [{"rolename": device}]}])

    def set_password(self, device: str, password: str) -> None:
        """Give the client its password and let it log in."""
        self.run([{"command": "setClientPassword", "username": device, "password": password},
                  {"command": "enableClient", "username": device}])

    def disable(self, device: str) -> None:
        """Refuse the client's logins from now on and disconnect it (a replaced Pi's old password)."""
        self.run([{"command": "disableClient", "username": device}])

    def delete_device(self, device: str) -> None:
        """Remove the client and its role; a connected session is dropped. Already gone counts as done."""
        self.run([{"command": "deleteClient", "username": device}, {"command": "deleteRole", "rolename": device}],
                 missing_ok=True)

    def run(self, commands: list[dict[str, Any]], missing_ok: bool = False) -> None:
        """Send ``commands`` in one message and check each answer."""
        responses = self._round_trip({"commands": commands})
        for command, response in zip(commands, responses, strict=False):
            error = response.get("error") if isinstance(response, dict) else "no answer"
            if error and not (missing_ok and "not found" in str(error).lower()):
                subject = command.get("username") or command.get("rolename") or ""
                raise DynsecError(f"broker: {command['command']} {subject}: {error}")
        if len(responses) < len(commands):
            raise DynsecError(f"broker: answered {len(responses)} of {len(commands)} commands")

    def _round_trip(self, payload: dict[str, Any]) -> list[Any]:
        settings = self.settings
        answered = threading.Event()
        subscribed = threading.Event()
        found: list[Any] = []
        refused: list[str] = []

        def on_connect(client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode,
                       _properties: Any) -> None:
            if reason.is_failure:
                refused.append(str(reason))
                answered.set()
                subscribed.set()
                return
            client.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(_client: mqtt.Client, _userdata: Any, _mid: int, _reasons: Any, _properties: Any) -> None:
            subscribed.set()

        def on_message(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
            try:
                body = json.loads(message.payload)
            except ValueError:
                return
            found.extend(body.get("responses", []) if isinstance(body, dict) else [])
            answered.set()

        with self._lock:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.username, clean_session=True,
                                 protocol=mqtt.MQTTv311)
            client.username_pw_set(settings.username, settings.password)
            if settings.tls is not None:
                client.tls_set(ca_certs=str(settings.tls.ca_file))
            client.on_connect = on_connect
            client.on_subscribe = on_subscribe
            client.on_message = on_message
            try:
                client.connect(settings.host, settings.port, keepalive=30)
            except OSError as error:
                raise DynsecError(f"broker: cannot reach {settings.host}:{settings.port}: {error}") from None
            client.loop_start()
            try:
                if not subscribed.wait(settings.timeout_s) or refused:
                    raise DynsecError(f"broker: the administrator {settings.username!r} could not log in"
                                      f" ({', '.join(refused) or 'no answer'})")
                client.publish(CONTROL_TOPIC, json.dumps(payload), qos=1)
                if not answered.wait(settings.timeout_s):
                    raise DynsecError("broker: no answer from the dynamic security plugin"
                                      " (is it loaded on the devices' door?)")
            finally:
                close_client(client)
        _LOGGER.info("dynamic security: %s", ", ".join(str(c.get("command")) for c in payload["commands"]))
        return found
