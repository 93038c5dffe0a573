"""The ``calibration:`` section of the hub config: tolerance, intervals, reminders, the live window."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from edge.wire import MAX_OFFSET


class CalibrationConfig(BaseModel):
    """Keys under ``calibration:`` in the hub's YAML config (docs/alerts.md, "Calibration")."""

    model_config = ConfigDict(extra="forbid")

    #: A probe passes when it read within this many °C of the reference (as found, and after correction).
    tolerance_c: float = Field(default=0.5, gt=0, le=MAX_OFFSET)
    #: Days between checks, unless the sensor's profile has its own below (6 months).
    interval_days: int = Field(default=182, ge=1, le=3660)
    #: Days between checks per profile (``fridge``, ``freezer``, ``sample_fridge`` …).
    profile_interval_days: dict[str, int] = Field(default_factory=dict)
    #: A check due within this many days is a reminder to ``remind_routes``.
    remind_days: int = Field(default=14, ge=0, le=366)
    #: The notification routes the reminders go to.
    remind_routes: list[str] = Field(default_factory=lambda: ["admin", "canteen_manager"], max_length=8)
    #: Seconds of the probe's readings the guided check averages (the reference is held beside it that long).
    window_s: float = Field(default=60.0, gt=0, le=3600)

    def interval_s(self, profile: str) -> float:
        """Seconds between checks of a probe of ``profile``."""
        return float(self.profile_interval_days.get(profile, self.interval_days)) * 86_400.0
