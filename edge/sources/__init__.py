"""The registry of source kinds: a config's ``kind`` names one of these classes.

Each class declares its own ``Options`` model (its config keys, documented on the
model) and is built as ``cls(sensor, options, context)``.
"""

from __future__ import annotations

from pydantic import ValidationError

from edge.config import SourceSettings
from edge.sources.base import Measurement, Source, SourceBase, SourceContext
from edge.sources.simulated import SimulatedDoor, SimulatedTemperature

__all__ = [
    "SOURCES",
    "Measurement",
    "Source",
    "SourceBase",
    "SourceContext",
    "build_source",
    "check_source_options",
]


SOURCES: dict[str, type[SourceBase]] = {
    "simulated_temperature": SimulatedTemperature,
    "simulated_door": SimulatedDoor,
}


def check_source_options(settings: SourceSettings) -> list[tuple[str, tuple[str | int, ...]]]:
    """Problems with one source entry, each as (message, key path within the entry)."""
    cls = SOURCES.get(settings.kind)
    if cls is None:
        known = ", ".join(sorted(SOURCES))
        return [(f"unknown source kind {settings.kind!r} (known: {known})", ("kind",))]
    try:
        cls.Options.model_validate(settings.options())
    except ValidationError as error:
        return [(item["msg"], tuple(item["loc"])) for item in error.errors()]
    return []


def build_source(settings: SourceSettings, context: SourceContext) -> Source:
    """Instantiate the source an (already checked) config entry describes."""
    cls = SOURCES[settings.kind]
    options = cls.Options.model_validate(settings.options())
    return cls(settings.sensor, options, context)
