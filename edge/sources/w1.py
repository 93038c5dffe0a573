"""DS18B20 probes on the kernel's 1-wire bus (``dtoverlay=w1-gpio``), read from sysfs.

The kernel's ``w1_therm`` driver exposes each probe as ``<base>/28-xxxxxxxxxxxx/w1_slave``::

    72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    72 01 4b 46 7f ff 0e 10 57 t=23125

The first line ends in ``YES`` when the scratchpad's CRC matched; the second carries
the temperature in millidegrees. Several readings are not temperatures at all and are
reported as faults, never as values (a fridge at 85 °C would be an alarm; a probe
that just lost power is a maintenance job).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.sources.base import Measurement, SourceBase, SourceContext, SourceOptions
from edge.sources.common import SensorMeta, duplicate_ids
from edge.wire import SensorInfo

_LOGGER = logging.getLogger(__name__)

#: 1-wire family codes of temperature probes the w1_therm driver reads the same way.
THERMOMETER_FAMILIES = {"10": "DS18S20", "22": "DS1822", "28": "DS18B20", "3b": "DS1825/MAX31850", "42": "DS28EA00"}
#: Every DS18B20 powers up with 85.0 °C in its scratchpad; seeing it means the
#: conversion never ran (a brown-out on parasite power, a probe that just reset).
POWER_ON_MILLIDEGREES = 85_000
#: What the driver reports when the probe answered with all ones (bus open: unplugged or a cut wire).
DISCONNECTED_MILLIDEGREES = -127_000
#: The datasheet's measuring range; anything outside is a corrupted read.
RANGE_MILLIDEGREES = (-55_000, 125_000)

Fault = Literal["disconnected", "crc", "power_on_value", "no_data", "malformed", "out_of_range"]


class W1Result:
    """A parsed ``w1_slave``: millidegrees or the fault that replaced them."""

    __slots__ = ("fault", "millidegrees")

    def __init__(self, millidegrees: int | None, fault: Fault | None = None) -> None:
        self.millidegrees = millidegrees
        self.fault = fault


def parse_w1_slave(text: str) -> W1Result:
    """Parse the two lines the w1_therm driver prints, classifying every known bad read."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or ":" not in lines[0]:
        return W1Result(None, "malformed")
    scratchpad, _, verdict = lines[0].partition(":")
    if not verdict.strip().endswith("YES"):
        # Noise on a long or unshielded cable corrupts bits; the driver says "NO".
        return W1Result(None, "crc")
    raw = scratchpad.split()
    if raw and all(byte == "ff" for byte in raw):
        return W1Result(None, "disconnected")
    if raw and all(byte == "00" for byte in raw):
        # A shorted data line reads all zeros, whose CRC is also zero: "valid", and 0 °C.
        return W1Result(None, "no_data")
    _, marker, value = lines[1].rpartition("t=")
    if not marker:
        return W1Result(None, "malformed")
    try:
        millidegrees = int(value.strip())
    except ValueError:
        return W1Result(None, "malformed")
    if millidegrees == POWER_ON_MILLIDEGREES:
        return W1Result(None, "power_on_value")
    if millidegrees == DISCONNECTED_MILLIDEGREES:
        return W1Result(None, "disconnected")
    if not RANGE_MILLIDEGREES[0] <= millidegrees <= RANGE_MILLIDEGREES[1]:
        return W1Result(None, "out_of_range")
    return W1Result(millidegrees)


def read_probe(base: Path, probe_id: str, attempts: int = 2) -> W1Result:
    """Read one probe, retrying once on a CRC failure (a single corrupted bit is common, two in a row is not)."""
    result = W1Result(None, "disconnected")
    for _ in range(attempts):
        try:
            text = (base / probe_id / "w1_slave").read_text(encoding="ascii", errors="replace")
        except OSError:
            # The driver removes the directory some seconds after a probe stops answering.
            return W1Result(None, "disconnected")
        result = parse_w1_slave(text)
        if result.fault != "crc":
            return result
    return result


def list_probes(base: Path) -> list[str]:
    """Ids of the temperature probes the kernel currently sees on the bus."""
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.name.split("-", 1)[0].lower() in THERMOMETER_FAMILIES)


class ProbeOptions(SensorMeta):
    #: The probe's 1-wire id as the kernel names its directory (``xiaoan edge scan`` lists them).
    id: str = Field(pattern=r"^[0-9a-fA-F]{2}-[0-9a-fA-F]{12}$")


class Ds18b20Options(SourceOptions):
    """Keys of a ``ds18b20`` source: probes on the Pi's 1-wire bus."""

    #: Seconds between reads; each probe takes ~750 ms to convert at 12-bit resolution.
    interval_s: float = Field(default=10.0, gt=0)
    #: A CRC failure is retried this many times before it is reported as a fault.
    crc_retries: int = Field(default=1, ge=0, le=5)
    #: The sysfs directory (``None``: the agent's, normally ``/sys/bus/w1/devices``).
    w1_base: Path | None = None
    probes: list[ProbeOptions] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Ds18b20Options:
        for label, ids in (("sensor", [p.sensor for p in self.probes]), ("probe id", [p.id for p in self.probes])):
            if duplicates := duplicate_ids(ids):
                raise ValueError(f"duplicate {label}: {', '.join(duplicates)}")
        return self


class Ds18b20(SourceBase):
    """Temperature probes on the 1-wire bus, each with its own sensor id, profile and calibration."""

    Options = Ds18b20Options

    def __init__(self, sensor: str, options: Ds18b20Options, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self.interval_s = options.interval_s
        self.base = Path(options.w1_base or context.w1_base)

    def describe(self) -> list[SensorInfo]:
        return [probe.info("temperature", "°C", hardware_id=probe.id.lower()) for probe in self.options.probes]

    def read(self) -> list[Measurement]:
        measurements = []
        for probe in self.options.probes:
            result = read_probe(self.base, probe.id.lower(), attempts=self.options.crc_retries + 1)
            if result.millidegrees is None:
                _LOGGER.warning("probe %s (%s): %s", probe.sensor, probe.id, result.fault)
                measurements.append(Measurement(probe.sensor, "temperature", None, "°C", fault=result.fault))
            else:
                value = round(result.millidegrees / 1000.0 + probe.offset, 3)
                measurements.append(Measurement(probe.sensor, "temperature", value, "°C"))
        return measurements
