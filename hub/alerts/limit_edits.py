"""Limits set for one sensor through the web app: validated, stored with the audit, applied at once.

An edit sets the whole band of a sensor — low, high, the hard limits that alarm
without delay, the delay and the hysteresis — so what the canteen manager typed is
exactly what is in force; it beats the config file (it is the newer, audited
decision). ``None`` for the delay or hysteresis means the hub's default.

The rule protects itself. Each profile has a regulatory band (GB 31654-2021:
refrigeration 0–8 °C, freezing at or below −12 °C; ``HubConfig.bands`` for a
province's own): limits inside it are the canteen's choice and take effect at once,
limits beyond it loosen the rule and become a *proposal* — with a reason — that a
second person holding ``limits.approve`` must approve before it is in force (the
proposer cannot approve their own). And the numbers themselves must be plausible
for the kind of unit: a fridge limit of 40 °C is a typo, not a decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import FieldError

#: Plausible cold-chain temperatures; anything outside is a typo (−180 for −18).
TEMPERATURE_RANGE = (-60.0, 60.0)
#: What any limit of a unit of each profile may be set to at all (beyond the band only with approval).
EDIT_RANGES: dict[str, tuple[float, float]] = {
    "fridge": (-10.0, 20.0),
    "sample_fridge": (-10.0, 20.0),
    "freezer": (-40.0, 0.0),
}
#: The limit fields an edit sets (what a report prints before and after).
LIMIT_FIELDS = ("low", "high", "hard_low", "hard_high", "delay_s", "hysteresis")
#: Longer than this and an excursion never alarms in a working day.
MAX_DELAY_S = 4 * 3600.0


class LimitsEditError(FieldError):
    """An edit that cannot be in force; ``field`` names the offending field for the 422."""


class LimitsEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    low: float | None = Field(default=None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    high: float | None = Field(default=None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    hard_low: float | None = Field(default=None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    hard_high: float | None = Field(default=None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    delay_s: float | None = Field(default=None, ge=0, le=MAX_DELAY_S)
    hysteresis: float | None = Field(default=None, ge=0, le=10)
    #: Why: required when the limits go beyond the regulatory band (it goes to the approver and the report).
    reason: str = Field(default="", max_length=200)

    def limits(self) -> dict[str, Any]:
        """What is stored and put in force: the limit fields without the reason."""
        return self.model_dump(include=set(LIMIT_FIELDS))


class Band(Protocol):
    """A regulatory band (``hub.settings.Band``)."""

    @property
    def low(self) -> float | None: ...

    @property
    def high(self) -> float | None: ...


def check(edit: LimitsEdit) -> None:
    """Raise ``LimitsEditError`` naming the field when the band does not make sense."""
    if edit.low is None and edit.high is None:
        raise LimitsEditError("high", "give a low or a high limit (a sensor without limits never alarms)")
    if edit.low is not None and edit.high is not None and edit.low >= edit.high:
        raise LimitsEditError("high", f"must be above low ({edit.low:g})")
    if edit.hard_high is not None and edit.high is not None and edit.hard_high < edit.high:
        raise LimitsEditError("hard_high", f"must not be below high ({edit.high:g})")
    if edit.hard_low is not None and edit.low is not None and edit.hard_low > edit.low:
        raise LimitsEditError("hard_low", f"must not be above low ({edit.low:g})")
    band = [v for v in (edit.low, edit.high) if v is not None]
    if edit.hysteresis is not None and len(band) == 2 and edit.hysteresis * 2 >= band[1] - band[0]:
        raise LimitsEditError("hysteresis", "must be less than half the band between low and high")


def check_range(edit: LimitsEdit, profile: str) -> None:
    """Raise ``LimitsEditError`` for a limit no unit of this profile could sensibly have (a typo)."""
    low, high = EDIT_RANGES.get(profile, TEMPERATURE_RANGE)
    for name in ("low", "high", "hard_low", "hard_high"):
        value = getattr(edit, name)
        if value is not None and not low <= value <= high:
            raise LimitsEditError(name, f"must be between {low:g} and {high:g} °C for this unit"
                                        f" · 该设备的温度限值须在 {low:g} ~ {high:g} °C 之间")


def beyond_band(limits: Mapping[str, Any], band: Band | None) -> list[str]:
    """The sides (``low``/``high``) on which ``limits`` are looser than the band: empty when they are within it.

    Dropping a side the band has (no high limit on a fridge) is the loosest of all.
    """
    if band is None:
        return []
    loose = []
    if band.low is not None and (limits.get("low") is None or limits["low"] < band.low):
        loose.append("low")
    if band.high is not None and (limits.get("high") is None or limits["high"] > band.high):
        loose.append("high")
    return loose


def merged(base: dict[str, Any], edit: dict[str, Any] | None) -> dict[str, Any]:
    """The limit fields with an edit applied: its limits replace the base's, even where it has none."""
    if edit is None:
        return base
    result = dict(base)
    for key in ("low", "high", "hard_low", "hard_high"):
        result[key] = edit.get(key)
    for key in ("delay_s", "hysteresis"):
        if edit.get(key) is not None:
            result[key] = edit[key]
    return result
