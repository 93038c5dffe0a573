"""The registry of source kinds: a config's ``kind`` names one of these classes.

Each class declares its own ``Options`` model (its config keys, documented on the
model) and is built as ``cls(sensor, options, context)``.
"""

from __future__ import annotations

from pydantic import ValidationError

from edge.config import SourceSettings
from edge.sources.base import Measurement, Source, SourceBase, SourceContext
from edge.sources.gpio import Door, MainsPower, PatrolButton, SampleButtons
from edge.sources.modbus import ModbusRtu
from edge.sources.scanner import BarcodeScanner, TagReader
from edge.sources.serial_line import SerialLine
from edge.sources.simulated import SimulatedDoor, SimulatedTemperature
from edge.sources.w1 import Ds18b20

__all__ = [
    "SOURCES",
    "Measurement",
    "Source",
    "SourceBase",
    "SourceContext",
    "build_source",
    "check_source_options",
]


#: Hardware libraries (gpiozero, pyserial, pymodbus) are imported only when a source of
#: that kind is built, so validating a config or running a simulated node needs none of them.
SOURCES: dict[str, type[SourceBase]] = {
    "ds18b20": Ds18b20,
    "modbus": ModbusRtu,
    "serial_line": SerialLine,
    "door": Door,
    "power": MainsPower,
    "sample_buttons": SampleButtons,
    "barcode_scanner": BarcodeScanner,
    "tag_reader": TagReader,
    "patrol_button": PatrolButton,
    "simulated_temperature": SimulatedTemperature,
    "simulated_door": SimulatedDoor,
}


def check_source_options(settings: SourceSettings) -> list[tuple[str, tuple[str | int, ...]]]:
    """Problems with one source entry, each as (message, key path within the entry)."""
    cls = SOURCES.get(settings.kind)
    if cls is None:
        known = ", ".join(sorted(SOURCES))
        return [(f"unknown source kind {settings.kind!r} (known: {known})", ("kind",))]
    if cls.requires_sensor and not settings.sensor:
        return [(f"a {settings.kind} source needs a sensor id", ("kind",))]
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
