"""Devices from the admin page: add one (its broker account now, its config once by a token), replace, revoke.

The rules are ``hub.enrolment``'s; these routes translate HTTP. The config fetch needs
no sign-in — the Pi has none — the single-use token in its path is the permission.
"""

from __future__ import annotations

import shlex
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from edge.wire import ID_PATTERN
from hub.api.deps import EnrolmentDep, SettingsDep
from hub.auth.deps import require
from hub.auth.roles import Permission
from hub.auth.users import User
from hub.enrolment import (
    DEVICE_CA_PATH,
    TLS_PORT,
    BrokerAddress,
    DeviceRole,
    DeviceState,
    EnrolledDevice,
    Enrolment,
    device_ca_pem,
)
from hub.errors import NotFound
from hub.settings import HubSettings
from hub.web.qr import svg_data_url

router = APIRouter(prefix="/api", tags=["devices"])

#: Where the device's config goes on the Pi: root:xiaoan 640, as docs/install-pi.md has it.
EDGE_CONFIG_PATH = "/etc/xiaoan/edge.yaml"

AdminDep = Annotated[User, Depends(require(Permission.ADMIN))]


class DeviceCreate(BaseModel):
    name: str = Field(pattern=ID_PATTERN, description="the device's name, also its broker account")
    site: str = Field(pattern=ID_PATTERN)
    role: DeviceRole


class EnrolledDevicePublic(BaseModel):
    name: str
    site: str
    role: DeviceRole
    state: DeviceState
    added_at: float
    added_by: str
    changed_at: float

    @staticmethod
    def of(device: EnrolledDevice) -> EnrolledDevicePublic:
        return EnrolledDevicePublic(name=device.name, site=device.site, role=device.role, state=device.state,
                                    added_at=device.added_at, added_by=device.added_by, changed_at=device.changed_at)


class EnrolmentPublic(BaseModel):
    """Shown once: the link holds the token (not the password), usable once until ``expires_at``."""

    device: EnrolledDevicePublic
    url: str
    expires_at: float
    install_command: str
    qr_data_url: str = Field(description="the install link as a QR code (an SVG data URL)")


def _public(request: Request, settings: HubSettings, issued: Enrolment) -> EnrolmentPublic:
    url = str(request.url_for("fetch_config", token=issued.token))
    command = (f"curl -fsS {shlex.quote(url)} | sudo install -D -m 640 -o root -g xiaoan /dev/stdin"
               f" {EDGE_CONFIG_PATH}")
    if settings.device_tls_ca_file is not None:
        # Over TLS the Pi needs the school CA's certificate first; the config names where it put it.
        ca_url = str(request.url_for("device_ca"))
        command = (f"curl -fsS {shlex.quote(ca_url)} | sudo install -D -m 640 -o root -g xiaoan /dev/stdin"
                   f" {DEVICE_CA_PATH} && {command}")
    return EnrolmentPublic(device=EnrolledDevicePublic.of(issued.device), url=url, expires_at=issued.expires_at,
                           install_command=command, qr_data_url=svg_data_url(command))


@router.get("/devices/enrolled")
def enrolled(service: EnrolmentDep, _user: AdminDep) -> list[EnrolledDevicePublic]:
    """Devices added from the admin page, revoked ones included (for the record)."""
    return [EnrolledDevicePublic.of(device) for device in service.store.all()]


@router.post("/devices/enrolled", status_code=201)
def add_device(service: EnrolmentDep, settings: SettingsDep, user: AdminDep, request: Request,
               body: DeviceCreate) -> EnrolmentPublic:
    """Make the device's broker account now and a one-time link to its config file."""
    return _public(request, settings, service.add(body.name, body.site, body.role, user.username))


@router.post("/devices/enrolled/{name}/replace")
def replace_device(service: EnrolmentDep, settings: SettingsDep, user: AdminDep, request: Request,
                   name: str) -> EnrolmentPublic:
    """A Pi that died: the old password stops working now; a new link gives the new Pi a new one."""
    return _public(request, settings, service.replace(name, user.username))


@router.post("/devices/enrolled/{name}/revoke")
def revoke_device(service: EnrolmentDep, user: AdminDep, name: str) -> EnrolledDevicePublic:
    """A stolen Pi: its account is deleted and its session dropped."""
    return EnrolledDevicePublic.of(service.revoke(name, user.username))


@router.get("/devices/enrol/{token}", name="fetch_config", response_class=PlainTextResponse,
            responses={200: {"content": {"application/yaml": {}}}, 404: {"description": "unknown, used or expired"}})
def fetch_config(service: EnrolmentDep, settings: SettingsDep, request: Request,
                 token: Annotated[str, Field(min_length=16, max_length=128)]) -> PlainTextResponse:
    """The device's config file, once (the token is used up by this answer)."""
    host = settings.device_broker_host or request.url.hostname or settings.mqtt_host
    tls = settings.device_tls_ca_file is not None
    port = settings.device_broker_port or (TLS_PORT if tls else settings.mqtt_device_port)
    text = service.fetch(token, BrokerAddress(host, port, DEVICE_CA_PATH if tls else None))
    return PlainTextResponse(text, media_type="application/yaml",
                             headers={"Cache-Control": "no-store", "Content-Disposition": "inline; filename=edge.yaml"})


@router.get("/devices/ca.crt", name="device_ca", response_class=PlainTextResponse,
            responses={200: {"content": {"application/x-pem-file": {}}}, 404: {"description": "no TLS for devices"}})
def device_ca(settings: SettingsDep) -> PlainTextResponse:
    """The school CA's certificate a new device trusts the broker by (public, like any certificate)."""
    if settings.device_tls_ca_file is None:
        raise NotFound("device_tls_ca_file", "the devices' door of this hub is plain MQTT (no CA to fetch)")
    return PlainTextResponse(device_ca_pem(settings.device_tls_ca_file), media_type="application/x-pem-file",
                             headers={"Content-Disposition": "inline; filename=ca.crt"})
