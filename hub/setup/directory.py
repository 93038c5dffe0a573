"""The sensors as the settings in force name and profile them, for features that list sensors by kind of unit.

The state store keeps what each device announced; a name or a profile given on the
admin page (or in the YAML) lives in the settings. A feature that picks "every
refrigerator" (the daily check's prefill) reads them through this, so a probe the
admin assigned to a freezer counts among the freezers from that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.alerts.limits import profile_of
from hub.alerts.ports import Directory
from hub.settings import HubConfig


class ConfiguredDirectory:
    """A ``Directory`` whose sensors carry the name and profile in force."""

    def __init__(self, directory: Directory, rules: Callable[[], HubConfig]) -> None:
        self._directory = directory
        self._rules = rules

    def devices(self) -> list[dict[str, Any]]:
        return self._directory.devices()

    def sensors(self) -> list[dict[str, Any]]:
        config = self._rules()
        found = []
        for sensor in self._directory.sensors():
            override = config.sensors.get(sensor["key"])
            name = override.name if override is not None and override.name else sensor["name"]
            found.append({**sensor, "name": name, "profile": profile_of(sensor, config)})
        return found
