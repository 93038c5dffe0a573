"""Config keys every measuring source shares: how a sensor is announced and corrected."""

from __future__ import annotations

from pydantic import Field, model_validator

from edge.sources.base import SourceOptions
from edge.wire import ID_PATTERN, SensorInfo

#: The profiles the hub (and fail-local) know limits for; see edge.failsafe.PROFILE_LIMITS.
PROFILES = ("", "fridge", "freezer", "sample_fridge", "cold_room", "ambient")


class SensorMeta(SourceOptions):
    """One sensor's identity, limits and calibration, as written under a source in the config."""

    #: The id the hub files readings under (unique within the device).
    sensor: str = Field(pattern=ID_PATTERN)
    #: A human name for dashboards and alarms ("二号冷藏柜").
    name: str = Field(default="", max_length=64)
    #: ``fridge`` (0–8 °C), ``freezer`` (≤ -12 °C), ``sample_fridge`` (0–8 °C) … or empty.
    profile: str = ""
    #: Explicit limits; each overrides the profile's bound on its side.
    low: float | None = None
    high: float | None = None
    #: Added to every value: the installer's calibration against a reference thermometer (the baseline; a check
    #: recorded at the hub replaces it on the node, see docs/install-pi.md).
    offset: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> SensorMeta:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r} (known: {', '.join(p for p in PROFILES if p)})")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def info(self, kind: str, unit: str, hardware_id: str = "") -> SensorInfo:
        """How the sensor is announced; its offset is the YAML's (the agent reports one the hub set instead)."""
        return SensorInfo(sensor=self.sensor, kind=kind, unit=unit, name=self.name, profile=self.profile,
                          low=self.low, high=self.high, offset=self.offset, offset_source="config",
                          hardware_id=hardware_id)


def duplicate_ids(ids: list[str]) -> list[str]:
    """Ids that appear more than once (two probes under one id would mix their series at the hub)."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for item in ids:
        if item in seen:
            duplicates.add(item)
        seen.add(item)
    return sorted(duplicates)
