"""Limits set for one sensor through the web app: validated, stored with the audit, applied at once.

An edit sets the whole band of a sensor — low, high, the hard limits that alarm
without delay, the delay and the hysteresis — so what the canteen manager typed is
exactly what is in force; it beats the config file (it is the newer, audited
decision). ``None`` for the delay or hysteresis means the hub's default.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import FieldError

#: Plausible cold-chain temperatures; anything outside is a typo (−180 for −18).
TEMPERATURE_RANGE = (-60.0, 60.0)
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
