"""Modbus RTU probes on RS-485 (cold rooms, industrial thermometers), read with pymodbus.

One source is one bus (a serial port or USB–RS-485 adapter); each register entry is
one sensor on it: slave address, register, data type and linear scaling. A probe
that does not answer is a ``timeout`` fault, a garbled answer a ``crc`` fault, and
a Modbus exception (wrong register) a ``modbus_exception_<code>`` fault — the other
probes on the bus are still read.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from edge.sources.base import Measurement, SourceBase, SourceContext, SourceOptions
from edge.sources.common import SensorMeta, duplicate_ids
from edge.wire import SensorInfo

_LOGGER = logging.getLogger(__name__)

DataType = Literal["int16", "uint16", "int32", "uint32", "float32"]
_REGISTERS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}


def crc16_modbus(frame: bytes) -> int:
    """The CRC-16/MODBUS of ``frame`` (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame_crc_ok(frame: bytes) -> bool:
    """Whether an RTU frame's last two bytes (little-endian) are the CRC of the rest."""
    return len(frame) >= 4 and crc16_modbus(frame[:-2]) == int.from_bytes(frame[-2:], "little")


class RegisterOptions(SensorMeta):
    #: The probe's Modbus slave address on the bus (1–247).
    slave: int = Field(ge=1, le=247)
    #: Register address as sent on the wire (0-based; "40001" in a manual is address 0).
    address: int = Field(ge=0, le=65535)
    function: Literal["holding", "input"] = "holding"
    data_type: DataType = "int16"
    #: Order of the two registers of 32-bit values (``big``: high word first, the common case).
    word_order: Literal["big", "little"] = "big"
    #: value = raw * scale + offset (many probes send tenths of a degree: scale 0.1).
    scale: float = 1.0
    kind: str = "temperature"
    unit: str = "°C"


class ModbusOptions(SourceOptions):
    """Keys of a ``modbus`` source: one RS-485 bus and the registers read from it."""

    #: A device (``/dev/ttyUSB0``, ``/dev/serial/by-id/…``) or any pyserial URL.
    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    #: Seconds to wait for one answer; an RS-485 probe answers in tens of milliseconds.
    timeout_s: float = Field(default=1.0, gt=0, le=30)
    retries: int = Field(default=1, ge=0, le=5)
    interval_s: float = Field(default=10.0, gt=0)
    registers: list[RegisterOptions] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ModbusOptions:
        if duplicates := duplicate_ids([r.sensor for r in self.registers]):
            raise ValueError(f"duplicate sensor: {', '.join(duplicates)}")
        return self


class ModbusRtu(SourceBase):
    """Polls each configured register; faults are per register, so one dead probe hides no other."""

    Options = ModbusOptions

    def __init__(self, sensor: str, options: ModbusOptions, context: SourceContext) -> None:
        self.sensor = sensor
        self.options = options
        self.interval_s = options.interval_s
        self._client: Any = None
        self._received = b""

    def describe(self) -> list[SensorInfo]:
        return [r.info(r.kind, r.unit) for r in self.options.registers]

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        # pymodbus drops a frame with a bad CRC and then times out; keeping the raw
        # bytes tells a garbled answer (noise, a missing terminator) from silence.
        if not sending:
            self._received = data
        return data

    def _connect(self) -> Any:
        if self._client is None:
            from pymodbus.client import ModbusSerialClient  # noqa: PLC0415 - hardware libraries load only where used

            o = self.options
            self._client = ModbusSerialClient(o.port, baudrate=o.baudrate, parity=o.parity, stopbits=o.stopbits,
                                              bytesize=o.bytesize, timeout=o.timeout_s, retries=o.retries,
                                              trace_packet=self._trace_packet)
        if not self._client.connect():
            raise ConnectionError(f"cannot open {self.options.port}")
        return self._client

    def read(self) -> list[Measurement]:
        try:
            client = self._connect()
        except ConnectionError:
            _LOGGER.warning("modbus port %s unavailable", self.options.port)
            return [Measurement(r.sensor, r.kind, None, r.unit, fault="port_unavailable")
                    for r in self.options.registers]
        return [self._read_register(client, register) for register in self.options.registers]

    def _read_register(self, client: Any, register: RegisterOptions) -> Measurement:
        from pymodbus.exceptions import ModbusException  # noqa: PLC0415 - hardware libraries load only where used

        count = _REGISTERS[register.data_type]
        self._received = b""
        call = client.read_holding_registers if register.function == "holding" else client.read_input_registers
        try:
            response = call(register.address, count=count, device_id=register.slave)
        except ModbusException as error:
            fault = "crc" if self._received and not frame_crc_ok(self._received) else "timeout"
            _LOGGER.warning("modbus %s (slave %s): %s (%s)", register.sensor, register.slave, fault, error)
            return Measurement(register.sensor, register.kind, None, register.unit, fault=fault)
        if response.isError():
            code = getattr(response, "exception_code", 0)
            return Measurement(register.sensor, register.kind, None, register.unit,
                               fault=f"modbus_exception_{code}")
        raw = client.convert_from_registers(response.registers, getattr(client.DATATYPE, register.data_type.upper()),
                                            word_order=register.word_order)
        value = float(raw) * register.scale + register.offset
        if not math.isfinite(value):
            return Measurement(register.sensor, register.kind, None, register.unit, fault="not_a_number")
        return Measurement(register.sensor, register.kind, round(value, 4), register.unit)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
