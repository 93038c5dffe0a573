"""The calibration vocabulary as StrEnums (stored and served as their text)."""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    """How the probe was checked."""

    #: In crushed ice and water, which is 0.0 °C at sea level (no reference thermometer needed).
    ICE_POINT = "ice_point"
    #: Beside a calibrated reference thermometer (its certificate number is recorded).
    REFERENCE = "reference"


class Standing(StrEnum):
    """Where a probe stands with its calibration, by its last check on the current probe."""

    #: No check on record for this probe.
    NEVER = "never"
    OK = "ok"
    #: The next check is due within ``remind_days``.
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    #: The last check was outside the tolerance: an alarm until re-checked OK or the probe is replaced.
    FAILED = "failed"


class OffsetSource(StrEnum):
    """Where the offset a node applies comes from (its status says)."""

    #: The installer's YAML on the node: the baseline.
    CONFIG = "config"
    #: A check recorded at the hub, sent to the node with ``set_offset``.
    HUB = "hub"


#: Alarm subjects of a probe's calibration start with this: not ``device/sensor``, whose alarms sound the buzzer.
SUBJECT_PREFIX = "calibration:"


def subject_of(device: str, sensor: str) -> str:
    """The alarm subject of a probe's calibration (ids hold no ``:``, so it splits back unambiguously)."""
    return f"{SUBJECT_PREFIX}{device}:{sensor}"


def sensor_of(subject: str) -> str | None:
    """``device/sensor`` of a calibration alarm's subject; None for any other subject."""
    if not subject.startswith(SUBJECT_PREFIX):
        return None
    device, _, sensor = subject[len(SUBJECT_PREFIX):].partition(":")
    return f"{device}/{sensor}" if device and sensor else None
