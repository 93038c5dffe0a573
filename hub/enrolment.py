"""Devices added, replaced and revoked from the admin page, and their config files fetched once.

Adding a device makes its broker account at once (``hub.dynsec``) but gives it no
password yet, and issues an enrolment token: 32 random bytes, shown to the admin once,
kept here only as its SHA-256. The first fetch of ``/api/devices/enrol/{token}`` within
its lifetime uses the token up, draws the device's password, gives it to the broker and
answers with the config file. The password thus exists in clear only in that one
answer: never in a URL, a page, a log or this database, and a token read after the
fact (a browser history, a proxy log) opens nothing.

Replacing a device (a Pi that died) disables its old password on the broker now, which
drops a connected session, and issues a new token under the same name; revoking (a
stolen Pi) deletes the account and its role. Every change is audited with the admin's
name; a fetch is audited under the device's name.

The names follow ``hub.provision``'s rules (``check_device``), the ACL follows
``hub.broker.device_topics``: ``xiaoan provision`` and the page differ only in where
the account lives (the password file or the plugin).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from hub.dynsec import Dynsec
from hub.errors import FieldError, NotFound
from hub.provision import ProvisionError, check_device
from hub.sites import SiteGuard
from hub.store.sqlite import Migration, SqliteStore
from hub.store.state import StateStore

#: How long an enrolment token can be used (once).
TOKEN_TTL_S = 30 * 60
#: Where a device keeps the school CA's certificate (docs/install-pi.md): its config names this path.
DEVICE_CA_PATH = "/etc/xiaoan/ca.crt"
#: The TLS port of the devices' door when the hub is not told another (firmware-config/mosquitto/xiaoan.conf).
TLS_PORT = 8883


def device_templates() -> Path:
    """The example configs a new device's file starts from (firmware-config/devices/).

    From a checkout they sit beside the packages; a wheel installs them under
    ``<prefix>/share/xiaoan/`` (pyproject's data-files), where an installed hub finds them.
    """
    checkout = Path(__file__).resolve().parent.parent / "firmware-config" / "devices"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "xiaoan" / "firmware-config" / "devices"


class DeviceRole(StrEnum):
    COLD_CHAIN = "cold_chain"  # 冷链节点
    GATE = "gate"  # 门岗节点
    SAMPLE_STATION = "sample_station"  # 留样台

    @property
    def template(self) -> str:
        return {"cold_chain": "canteen-cold-chain.yaml", "gate": "gate-node.yaml",
                "sample_station": "sample-station.yaml"}[self.value]


class DeviceState(StrEnum):
    WAITING = "waiting"  # token issued, config not fetched yet
    ENROLLED = "enrolled"  # config fetched, password set
    REVOKED = "revoked"


class EnrolmentError(FieldError):
    """A request that cannot be carried out; ``field`` names the input at fault."""


class TokenRefused(NotFound):
    """An enrolment token that is unknown, used already or expired (the answer does not say which)."""

    def __init__(self) -> None:
        super().__init__("token", "this install link is unknown, used already or expired; ask the admin for a new"
                         " one (replace the device on the admin page)")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS enrolled_devices (
    name TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    role TEXT NOT NULL,
    state TEXT NOT NULL,
    added_at REAL NOT NULL,
    added_by TEXT NOT NULL,
    changed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS enrol_tokens (
    token_sha256 TEXT PRIMARY KEY,
    device TEXT NOT NULL REFERENCES enrolled_devices(name),
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS enrol_tokens_device ON enrol_tokens(device);
"""


@dataclass(frozen=True)
class EnrolledDevice:
    name: str
    site: str
    role: DeviceRole
    state: DeviceState
    added_at: float
    added_by: str
    changed_at: float


@dataclass(frozen=True)
class Enrolment:
    """A token just issued: shown to the admin once, never stored in clear."""

    device: EnrolledDevice
    token: str
    expires_at: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class EnrolmentStore(SqliteStore):
    """The devices added from the admin page and their tokens' hashes, in ``devices.sqlite3``."""

    STORE = "devices"
    MIGRATIONS = (Migration(1, "devices added from the admin page, enrolment tokens (hashed)", _SCHEMA),)

    def get(self, name: str) -> EnrolledDevice | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM enrolled_devices WHERE name = ?", (name,)).fetchone()
        return _device(row) if row else None

    def all(self) -> list[EnrolledDevice]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM enrolled_devices ORDER BY site, name").fetchall()
        return [_device(row) for row in rows]

    def add(self, device: EnrolledDevice) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO enrolled_devices VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (device.name, device.site, device.role.value, device.state.value, device.added_at,
                        device.added_by, device.changed_at))

    def set_state(self, name: str, state: DeviceState, now: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE enrolled_devices SET state = ?, changed_at = ? WHERE name = ?",
                       (state.value, now, name))

    def issue(self, name: str, token: str, now: float, expires_at: float) -> None:
        """Record ``token``'s hash for ``name``; earlier unused tokens of the device stop working."""
        with self.transaction() as db:
            db.execute("UPDATE enrol_tokens SET used_at = ? WHERE device = ? AND used_at IS NULL", (now, name))
            db.execute("INSERT INTO enrol_tokens VALUES (?, ?, ?, ?, NULL)", (token_hash(token), name, now,
                                                                               expires_at))

    def cancel_tokens(self, name: str, now: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE enrol_tokens SET used_at = ? WHERE device = ? AND used_at IS NULL", (now, name))

    def use(self, token: str, now: float) -> EnrolledDevice:
        """Use ``token`` up (once, whoever asks at the same moment) and return its device."""
        with self.transaction() as db:
            row = db.execute("UPDATE enrol_tokens SET used_at = ? WHERE token_sha256 = ? AND used_at IS NULL"
                             " AND expires_at > ? RETURNING device", (now, token_hash(token), now)).fetchone()
            if row is None:
                raise TokenRefused
            found = db.execute("SELECT * FROM enrolled_devices WHERE name = ?", (row[0],)).fetchone()
        device = _device(found)
        if device.state is DeviceState.REVOKED:
            raise TokenRefused
        return device


def _device(row: sqlite3.Row | tuple[Any, ...]) -> EnrolledDevice:
    name, site, role, state, added_at, added_by, changed_at = tuple(row)
    return EnrolledDevice(name, site, DeviceRole(role), DeviceState(state), added_at, added_by, changed_at)


@dataclass(frozen=True)
class BrokerAddress:
    """How a Pi reaches the broker's devices' door (written into its config file)."""

    host: str
    port: int
    #: Where the device finds the school CA's certificate, when it connects over TLS (None: plain MQTT).
    ca_file: str | None = None


class DeviceEnrolment:
    """The rules of the admin page's device section; routes only translate to and from HTTP."""

    def __init__(self, store: EnrolmentStore, state: StateStore, dynsec: Dynsec | None,
                 clock: Callable[[], float] = time.time, token_ttl_s: float = TOKEN_TTL_S,
                 sites: SiteGuard | None = None) -> None:
        self.store = store
        #: One school per hub (hub.sites): a device of another school is refused here, before it has an account.
        self.sites = sites
        self.state = state
        self.dynsec = dynsec
        self.clock = clock
        self.token_ttl_s = token_ttl_s

    def _broker(self) -> Dynsec:
        if self.dynsec is None:
            raise EnrolmentError("broker", "this hub has no broker administrator account (XIAOAN_MQTT_ADMIN_PASSWORD"
                                 "_FILE); add devices with `xiaoan provision` (docs/install-pi.md)")
        return self.dynsec

    def add(self, name: str, site: str, role: DeviceRole, actor: str) -> Enrolment:
        try:
            check_device(name, site)
        except ProvisionError as error:
            field = "site" if str(error).startswith("site") else "name"
            raise EnrolmentError(field, str(error).split(": ", 1)[-1]) from None
        if self.store.get(name) is not None:
            raise EnrolmentError("name", f"{name!r} already exists (replace or revoke it)", status=409)
        broker = self._broker()
        refused = self.sites.admit(site) if self.sites is not None else None
        if refused is not None:
            raise EnrolmentError("site", f"{refused}; another school needs a hub of its own")
        now = self.clock()
        broker.create_device(site, name)
        device = EnrolledDevice(name, site, role, DeviceState.WAITING, now, actor, now)
        self.store.add(device)
        enrolment = self._issue(device, now)
        self.state.append_audit(now, actor, "device.added", f"device/{name}",
                                {"site": site, "role": role.value, "token_expires_at": enrolment.expires_at})
        return enrolment

    def replace(self, name: str, actor: str) -> Enrolment:
        """A new token under the same name; the old password stops working now."""
        device = self._active(name)
        self._broker().disable(name)
        now = self.clock()
        self.store.set_state(name, DeviceState.WAITING, now)
        enrolment = self._issue(self.store.get(name) or device, now)
        self.state.append_audit(now, actor, "device.replaced", f"device/{name}",
                                {"site": device.site, "token_expires_at": enrolment.expires_at})
        return enrolment

    def revoke(self, name: str, actor: str) -> EnrolledDevice:
        device = self._active(name)
        self._broker().delete_device(name)
        now = self.clock()
        self.store.cancel_tokens(name, now)
        self.store.set_state(name, DeviceState.REVOKED, now)
        self.state.append_audit(now, actor, "device.revoked", f"device/{name}", {"site": device.site})
        return self.store.get(name) or device

    def fetch(self, token: str, broker: BrokerAddress) -> str:
        """The device's config file, once: the token is used up and the device's password drawn now."""
        now = self.clock()
        device = self.store.use(token, now)
        password = secrets.token_urlsafe(24)
        self._broker().set_password(device.name, password)
        self.store.set_state(device.name, DeviceState.ENROLLED, now)
        self.state.append_audit(now, device.name, "device.config_fetched", f"device/{device.name}",
                                {"site": device.site})
        return config_text(device, broker, password)

    def _active(self, name: str) -> EnrolledDevice:
        device = self.store.get(name)
        if device is None or device.state is DeviceState.REVOKED:
            raise EnrolmentError("name", f"no device {name!r} added from this page (or it was revoked)")
        return device

    def _issue(self, device: EnrolledDevice, now: float) -> Enrolment:
        token = secrets.token_urlsafe(32)
        expires_at = now + self.token_ttl_s
        self.store.issue(device.name, token, now, expires_at)
        return Enrolment(device, token, expires_at)


def device_ca_pem(path: Path) -> str:
    """The school CA's certificate for the devices: refused if the file is not one, or holds a private key.

    It is served without sign-in (a certificate is public); a mistaken path to ``ca.key``
    must never hand out the key that signs the broker's certificate.
    """
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise EnrolmentError("device_tls_ca_file", f"{path}: cannot read the CA certificate ({error})",
                             status=503) from None
    if "PRIVATE KEY" in text or "-----BEGIN CERTIFICATE-----" not in text:
        raise EnrolmentError("device_tls_ca_file", f"{path} is not a CA certificate alone (XIAOAN_DEVICE_TLS_CA_FILE"
                             " names ca.crt, never a key)", status=503)
    return text


def config_text(device: EnrolledDevice, broker: BrokerAddress, password: str) -> str:
    """The device's edge config: its role's example with this device's site, name and account."""
    template = yaml.safe_load((device_templates() / device.role.template).read_text(encoding="utf-8"))
    account: dict[str, Any] = {"host": broker.host, "port": broker.port, "username": device.name,
                               "password": password}
    if broker.ca_file is not None:
        account["tls"] = {"ca_file": broker.ca_file}
    body: dict[str, Any] = {"site": device.site, "device": device.name, "broker": account}
    body.update({key: value for key, value in template.items() if key not in body})
    header = (f"# xiaoan edge config for {device.name} ({device.role.value}), site {device.site}.\n"
              "# Holds the device's broker password: keep it root:xiaoan, mode 640.\n"
              "# The sources below are the example's: edit them to the probes and doors fitted, then\n"
              "#   sudo /opt/xiaoan/venv/bin/xiaoan edge check-config /etc/xiaoan/edge.yaml\n")
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
