"""Devices that print readings as lines of text on a serial port, parsed by a pattern from the config.

Many cheap thermometers, data loggers and Arduino-style nodes print something like
``T1=4.25C`` once a second. The pattern must have a named group ``value`` and may
have a group ``sensor`` (the device's own label, mapped to a sensor id by
``labels``). Each poll takes the newest value per sensor from whatever arrived since
the previous one; a sensor silent for ``stale_after_s`` is a ``stale`` fault.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from edge.sources.base import Measurement, SourceBase, SourceContext, SourceOptions
from edge.sources.common import SensorMeta, duplicate_ids
from edge.wire import SensorInfo

_LOGGER = logging.getLogger(__name__)

#: A line longer than this is noise (a baud-rate mismatch prints no newlines at all).
MAX_LINE = 512


class LineSensorOptions(SensorMeta):
    #: The label the device prints for this sensor (the ``sensor`` group); empty for a one-sensor device.
    label: str = ""
    #: value = parsed * scale + offset.
    scale: float = 1.0


class SerialLineOptions(SourceOptions):
    """Keys of a ``serial_line`` source."""

    #: A device (``/dev/ttyUSB0``) or any pyserial URL (``loop://`` in tests).
    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    #: A regular expression with a named group ``value`` and optionally ``sensor``; searched in each line.
    pattern: str
    kind: str = "temperature"
    unit: str = "°C"
    interval_s: float = Field(default=10.0, gt=0)
    #: A sensor with no line for this long is reported as a ``stale`` fault.
    stale_after_s: float = Field(default=60.0, gt=0)
    sensors: list[LineSensorOptions] = Field(min_length=1)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        if "value" not in compiled.groupindex:
            raise ValueError("the pattern needs a named group (?P<value>…)")
        return pattern

    @model_validator(mode="after")
    def _labels(self) -> SerialLineOptions:
        has_label = "sensor" in re.compile(self.pattern).groupindex
        if not has_label and len(self.sensors) > 1:
            raise ValueError("several sensors need a (?P<sensor>…) group in the pattern to tell them apart")
        if has_label and any(not s.label for s in self.sensors):
            raise ValueError("with a (?P<sensor>…) group every sensor needs its label")
        duplicates = duplicate_ids([s.sensor for s in self.sensors]) + duplicate_ids([s.label for s in self.sensors])
        if duplicates:
            raise ValueError(f"duplicate sensor or label: {', '.join(duplicates)}")
        return self


class SerialLine(SourceBase):
    Options = SerialLineOptions

    def __init__(self, sensor: str, options: SerialLineOptions, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self.interval_s = options.interval_s
        self._monotonic = context.monotonic
        self._pattern = re.compile(options.pattern)
        self._by_label = {s.label: s for s in options.sensors}
        self._latest: dict[str, tuple[float, float]] = {}  # sensor id -> (value, monotonic when seen)
        self._started = context.monotonic()
        self._buffer = b""
        self._port: Any = None

    def describe(self) -> list[SensorInfo]:
        return [s.info(self.options.kind, self.options.unit) for s in self.options.sensors]

    def _open(self) -> Any:
        if self._port is None:
            import serial  # noqa: PLC0415 - hardware libraries load only where used

            self._port = serial.serial_for_url(self.options.port, baudrate=self.options.baudrate, timeout=0)
        return self._port

    def feed(self, data: bytes, now: float) -> None:
        """Parse complete lines out of ``data`` (a partial last line waits for the next poll)."""
        self._buffer += data
        *lines, self._buffer = re.split(rb"\r\n|\r|\n", self._buffer)
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""
        for raw in lines:
            self._parse(raw.decode("utf-8", errors="replace").strip(), now)

    def _parse(self, line: str, now: float) -> None:
        match = self._pattern.search(line)
        if match is None:
            if line:
                _LOGGER.debug("unparsed line on %s: %r", self.options.port, line)
            return
        label = match.groupdict().get("sensor") or ""
        spec = self._by_label.get(label) if "sensor" in self._pattern.groupindex else self.options.sensors[0]
        if spec is None:
            return  # a channel of the device nobody configured
        try:
            value = float(match.group("value")) * spec.scale + spec.offset
        except ValueError:
            return
        if math.isfinite(value):
            self._latest[spec.sensor] = (round(value, 4), now)

    def read(self) -> list[Measurement]:
        now = self._monotonic()
        o = self.options
        try:
            port = self._open()
            waiting = port.in_waiting
            if waiting:
                self.feed(port.read(waiting), now)
        except OSError as error:  # serial.SerialException is an OSError: a USB adapter was unplugged
            _LOGGER.warning("serial port %s: %s", o.port, error)
            self.close()
            return [Measurement(s.sensor, o.kind, None, o.unit, fault="port_unavailable") for s in o.sensors]
        measurements = []
        for spec in o.sensors:
            seen = self._latest.get(spec.sensor)
            if seen is not None and now - seen[1] <= o.stale_after_s:
                measurements.append(Measurement(spec.sensor, o.kind, seen[0], o.unit))
            elif seen is not None or now - self._started > o.stale_after_s:
                measurements.append(Measurement(spec.sensor, o.kind, None, o.unit, fault="stale"))
        return measurements

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
