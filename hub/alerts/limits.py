"""Which limits apply to a sensor: hub config over the edge's announcement over the profile preset."""

from __future__ import annotations

from typing import Any

from hub.alerts import limit_edits
from hub.alerts.kinds import Severity
from hub.rules.threshold import Limits
from hub.settings import DEFAULT_PROFILES, HubConfig, LimitOverride


def _merge(base: dict[str, Any], override: LimitOverride | None) -> dict[str, Any]:
    if override is None:
        return base
    return {**base, **override.model_dump(exclude_none=True)}


def profile_of(sensor: dict[str, Any], config: HubConfig) -> str:
    """The profile a sensor's limits come from: the hub config's over what the edge announced."""
    override = config.sensors.get(sensor["key"])
    return (override.profile if override and override.profile else None) or sensor.get("profile") or ""


def limits_for(sensor: dict[str, Any], config: HubConfig, edit: dict[str, Any] | None = None) -> Limits | None:
    """The threshold limits for one registered sensor, or None when it has none (no rule applies).

    ``edit`` is what was set through the web app (``hub.alerts.limit_edits``): it beats everything.
    """
    if sensor["kind"] != "temperature":
        return None
    override = config.sensors.get(sensor["key"])
    profile_name = profile_of(sensor, config)
    merged: dict[str, Any] = dict(DEFAULT_PROFILES.get(profile_name, {}))
    merged = _merge(merged, config.profiles.get(profile_name))
    # What the edge announced (its own config) beats the preset; the hub's config beats both.
    for key in ("low", "high"):
        if sensor.get(key) is not None:
            merged[key] = sensor[key]
    merged = limit_edits.merged(_merge(merged, override), edit)
    if merged.get("low") is None and merged.get("high") is None:
        return None
    return Limits(
        low=merged.get("low"),
        high=merged.get("high"),
        delay_s=merged.get("delay_s", config.alarm_delay_s),
        hysteresis=merged.get("hysteresis", config.hysteresis),
        hard_low=merged.get("hard_low"),
        hard_high=merged.get("hard_high"),
        severity=Severity(merged.get("severity", Severity.CRITICAL)),
    )
