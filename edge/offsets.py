"""Calibration offsets the hub set (``set_offset``), kept in the node's own state across restarts.

The YAML's ``offset`` is the installer's baseline. A probe checked against a reference
thermometer at the hub gets its offset from that check: the hub sends it on the
device's ``cmd`` topic, the node applies it from the next reading on and writes it
here, so a restart (or a power cut) keeps it without anyone editing the YAML over SSH.

An offset belongs to the probe it was measured on: each entry names the probe's
hardware id (a DS18B20's 1-wire id), and a node whose config now names another probe
under that sensor (a replaced probe) drops the entry and goes back to the YAML's.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.wire import MAX_OFFSET, SensorInfo

_LOGGER = logging.getLogger(__name__)

#: The file under the node's ``state_dir``.
FILE_NAME = "offsets.json"
#: Sensors of these kinds take a calibration offset from the hub.
CALIBRATED_KINDS = frozenset({"temperature"})


class HubOffset(BaseModel):
    """One sensor's offset from a check recorded at the hub."""

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    offset: float = Field(ge=-MAX_OFFSET, le=MAX_OFFSET)
    #: The hub's calibration record.
    calibration: int | None = None
    #: The probe it was measured on (empty for a sensor without a hardware id).
    hardware_id: str = ""
    #: When the node applied it (wall clock, for the log and the file's reader).
    applied_at: float = 0.0


class OffsetFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sensors: dict[str, HubOffset] = Field(default_factory=dict)


class OffsetRefused(ValueError):
    """A ``set_offset`` the node does not apply (an unknown sensor, one that takes no offset)."""


def load(path: Path) -> dict[str, HubOffset]:
    """The offsets kept at ``path``; an unreadable file is logged and treated as none (the YAML's apply)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        _LOGGER.error("calibration offsets in %s unreadable (%s): using the config's offsets", path, error)
        return {}
    try:
        return dict(OffsetFile.model_validate_json(text).sensors)
    except ValidationError as error:
        _LOGGER.error("calibration offsets in %s invalid (%s): using the config's offsets", path, error)
        return {}


def save(path: Path, offsets: dict[str, HubOffset]) -> None:
    """Write the offsets atomically (a power cut leaves the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    data = json.dumps(OffsetFile(sensors=offsets).model_dump(mode="json"), ensure_ascii=False, indent=1)
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


def still_valid(offsets: dict[str, HubOffset], infos: dict[str, SensorInfo]) -> dict[str, HubOffset]:
    """The kept offsets whose sensor is still configured with the same probe; the others are logged and dropped."""
    kept = {}
    for sensor, entry in offsets.items():
        info = infos.get(sensor)
        if info is None or info.kind not in CALIBRATED_KINDS:
            _LOGGER.warning("calibration offset for %s dropped: no such temperature sensor in the config", sensor)
        elif entry.hardware_id != info.hardware_id:
            _LOGGER.warning("calibration offset for %s dropped: it was measured on probe %s, the config now names"
                            " %s (a replaced probe is checked again)", sensor, entry.hardware_id or "-",
                            info.hardware_id or "-")
        else:
            kept[sensor] = entry
    return kept


def check_target(sensor: str, infos: dict[str, SensorInfo]) -> SensorInfo:
    """The sensor a ``set_offset`` names, if this node has it and it takes an offset; else ``OffsetRefused``."""
    info = infos.get(sensor)
    if info is None:
        raise OffsetRefused(f"no sensor {sensor!r} on this node")
    if info.kind not in CALIBRATED_KINDS:
        raise OffsetRefused(f"sensor {sensor!r} measures {info.kind}, which takes no calibration offset")
    return info


def corrected(value: float, baseline: float | None, entry: HubOffset) -> float:
    """A value the source corrected by the YAML's offset, corrected by the hub's instead."""
    return round(value - (baseline or 0.0) + entry.offset, 3)
