"""Modbus RTU against a real pymodbus server on the other end of a serial null modem (two ptys)."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from edge.sources import SourceContext
from edge.sources.modbus import ModbusOptions, ModbusRtu, crc16_modbus, frame_crc_ok
from tests.edge.conftest import NullModem

SLAVE = 5


def registers() -> list[int]:
    values = [0] * 32
    values[0] = 42  # 4.2 °C in tenths
    values[1] = struct.unpack(">H", struct.pack(">h", -185))[0]  # -18.5 °C in tenths, as int16
    values[2:4] = struct.unpack(">HH", struct.pack(">f", 3.75))  # float32, high word first
    values[4:6] = struct.unpack(">HH", struct.pack(">i", -70000))  # int32
    values[6] = 65000  # uint16
    return values


class ServerThread:
    """A pymodbus RTU server (its own asyncio loop in a thread) answering as slave 5."""

    def __init__(self, port: str) -> None:
        self.device = SimDevice(SLAVE, [SimData(0, values=registers(), datatype=DataType.REGISTERS)])
        self.loop = asyncio.new_event_loop()
        self.server: Any = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(port),), daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    async def _serve(self, port: str) -> None:
        self.server = ModbusSerialServer(self.device, framer=FramerType.RTU, port=port, baudrate=9600,
                                         ignore_missing_devices=True, trace_packet=self._only_our_slave)
        # Ready only once the port is open: pyserial flushes a port's input when it opens it, so a
        # request sent before that (a loaded machine runs the test first) would vanish unanswered.
        await self.server.serve_forever(background=True)
        self.ready.set()
        await self.server.serving

    @staticmethod
    def _only_our_slave(sending: bool, data: bytes) -> bytes:
        # On RS-485 an absent slave is silent. pymodbus 3.16 answers requests for unknown
        # ids with "device failure" despite ignore_missing_devices, so drop those answers.
        return b"" if sending and data[:1] != bytes([SLAVE]) else data

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(10)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def bus(null_modem: NullModem) -> Iterator[NullModem]:
    server = ServerThread(null_modem.a)
    yield null_modem
    server.stop()


def make(port: str, regs: list[dict[str, object]], **extra: object) -> ModbusRtu:
    # Generous: the machine running the tests is shared, and a late answer is a timeout.
    options = ModbusOptions.model_validate({"port": port, "timeout_s": 3.0, "retries": 0, "registers": regs,
                                            **extra})
    return ModbusRtu("", options, SourceContext())


def test_crc16_matches_the_specification_example() -> None:
    # Read holding registers, slave 1, address 0, count 1: the CRC every manual prints (84 0A).
    frame = bytes.fromhex("010300000001")
    assert crc16_modbus(frame).to_bytes(2, "little") == bytes.fromhex("840a")
    assert frame_crc_ok(frame + bytes.fromhex("840a")) and not frame_crc_ok(frame + b"\x00\x00")


def test_reads_every_data_type_with_scaling(bus: NullModem) -> None:
    source = make(bus.b, [
        {"sensor": "cold-room", "slave": SLAVE, "address": 0, "scale": 0.1, "profile": "fridge"},
        {"sensor": "freezer", "slave": SLAVE, "address": 1, "scale": 0.1, "offset": 0.5},
        {"sensor": "f32", "slave": SLAVE, "address": 2, "data_type": "float32"},
        {"sensor": "i32", "slave": SLAVE, "address": 4, "data_type": "int32", "scale": 0.001},
        {"sensor": "u16", "slave": SLAVE, "address": 6, "data_type": "uint16", "function": "input"},
    ])
    try:
        values = {m.sensor: (m.value, m.fault) for m in source.read()}
    finally:
        source.close()
    assert values == {"cold-room": (4.2, None), "freezer": (-18.0, None), "f32": (3.75, None),
                      "i32": (-70.0, None), "u16": (65000.0, None)}
    assert source.describe()[0].profile == "fridge"


def test_a_silent_slave_is_a_timeout_fault_and_others_still_read(bus: NullModem) -> None:
    source = make(bus.b, [
        {"sensor": "missing", "slave": 9, "address": 0},
        {"sensor": "present", "slave": SLAVE, "address": 0, "scale": 0.1},
    ], timeout_s=1.0)
    try:
        values = {m.sensor: (m.value, m.fault) for m in source.read()}
    finally:
        source.close()
    assert values == {"missing": (None, "timeout"), "present": (4.2, None)}


def test_a_garbled_answer_is_a_crc_fault(bus: NullModem) -> None:
    def flip_last_byte(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 0xFF]) if data else data

    bus.corrupt = flip_last_byte  # noise on the wire from the probe back to the Pi
    # pymodbus drops the garbled frame and waits out the timeout, so this test costs the whole
    # timeout; it must still be long enough for the answer to arrive on a loaded machine.
    source = make(bus.b, [{"sensor": "noisy", "slave": SLAVE, "address": 0}], timeout_s=8.0)
    try:
        (reading,) = source.read()
        assert (reading.value, reading.fault) == (None, "crc")
        bus.corrupt = None
        (reading,) = source.read()
        assert (reading.value, reading.fault) == (42.0, None)
    finally:
        source.close()


def test_an_unknown_register_is_a_modbus_exception_fault(bus: NullModem) -> None:
    # The slave does answer (with an exception): a long timeout costs nothing and rides out a loaded machine.
    source = make(bus.b, [{"sensor": "wrong", "slave": SLAVE, "address": 1000}], timeout_s=10.0)
    try:
        (reading,) = source.read()
    finally:
        source.close()
    assert reading.value is None and reading.fault == "modbus_exception_2"  # illegal data address


def test_the_bus_is_ready_only_once_the_slave_listens(null_modem: NullModem, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a loaded machine the server thread may open its port well after the test sends its first
    # request; opening a serial port flushes its input, so that request was lost and the read timed
    # out. Here the server is made slow to open its port, on purpose.
    listen = ModbusSerialServer.listen

    async def slow_listen(server: ModbusSerialServer) -> bool:
        await asyncio.sleep(0.5)
        return await listen(server)

    monkeypatch.setattr(ModbusSerialServer, "listen", slow_listen)
    server = ServerThread(null_modem.a)
    source = make(null_modem.b, [{"sensor": "first", "slave": SLAVE, "address": 0}], timeout_s=10.0)
    try:
        (reading,) = source.read()
    finally:
        source.close()
        server.stop()
    assert (reading.value, reading.fault) == (42.0, None)


def test_a_missing_port_is_a_fault_not_a_crash() -> None:
    source = make("/dev/does-not-exist", [{"sensor": "x", "slave": 1, "address": 0}])
    (reading,) = source.read()
    assert reading.fault == "port_unavailable"
    source.close()
