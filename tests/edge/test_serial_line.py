from __future__ import annotations

import time

import pytest
import serial

from edge.sources import SourceContext
from edge.sources.serial_line import SerialLine, SerialLineOptions
from tests.conftest import wait_for
from tests.edge.conftest import PtyPort


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(port: str, clock: Ticks, **options: object) -> SerialLine:
    return SerialLine("", SerialLineOptions.model_validate({"port": port, **options}), SourceContext(monotonic=clock))


def test_two_channel_logger_through_a_pty(pty_port: PtyPort) -> None:
    clock = Ticks()
    source = make(pty_port.path, clock, pattern=r"^(?P<sensor>T\d)=(?P<value>-?\d+(\.\d+)?)C$", stale_after_s=30,
                  sensors=[{"sensor": "fridge-1", "label": "T1", "profile": "fridge", "offset": -0.5},
                           {"sensor": "freezer-1", "label": "T2", "profile": "freezer"}])
    try:
        assert source.read() == []  # nothing yet, still within the warm-up
        pty_port.send(b"boot v1.2\r\nT1=4.50C\r\nT2=-18.2C\r\nT3=20.0C\r\nT1=4.75C\r\nT2=-1")
        readings: dict[str, float | None] = {}

        def arrived() -> bool:
            readings.update({m.sensor: m.value for m in source.read()})
            return readings == {"fridge-1": 4.25, "freezer-1": -18.2}

        wait_for(arrived, timeout=5)
        pty_port.send(b"8.4C\n")  # the rest of a line split across reads
        wait_for(lambda: {m.sensor: m.value for m in source.read()}["freezer-1"] == -18.4, timeout=5)
        clock.now += 31
        assert {(m.sensor, m.fault) for m in source.read()} == {("fridge-1", "stale"), ("freezer-1", "stale")}
    finally:
        source.close()


def test_single_sensor_device_on_a_loop_url() -> None:
    # pyserial's loop:// echoes what is written: a device and its port in one object.
    clock = Ticks()
    source = make("loop://", clock, pattern=r"temp:\s*(?P<value>[-\d.]+)", kind="temperature",
                  sensors=[{"sensor": "cold-room"}])
    port = source._open()
    port.write(b"temp: 2.5\n")
    time.sleep(0.05)
    assert [(m.sensor, m.value) for m in source.read()] == [("cold-room", 2.5)]
    source.close()


def test_a_port_that_disappears_is_a_fault(tmp_path: object) -> None:
    source = make("/dev/does-not-exist", Ticks(), pattern=r"(?P<value>\d+)", sensors=[{"sensor": "x"}])
    assert [(m.sensor, m.fault) for m in source.read()] == [("x", "port_unavailable")]


@pytest.mark.parametrize(("options", "message"), [
    ({"pattern": r"(\d+)", "sensors": [{"sensor": "a"}]}, "named group"),
    ({"pattern": r"(?P<value>[", "sensors": [{"sensor": "a"}]}, "not a valid regular expression"),
    ({"pattern": r"(?P<value>\d+)", "sensors": [{"sensor": "a"}, {"sensor": "b"}]}, "several sensors"),
    ({"pattern": r"(?P<sensor>\w)=(?P<value>\d+)", "sensors": [{"sensor": "a"}]}, "needs its label"),
])
def test_bad_patterns_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SerialLineOptions.model_validate({"port": "loop://", **options})


def test_pyserial_is_what_opens_the_port(pty_port: PtyPort) -> None:
    port = serial.serial_for_url(pty_port.path, timeout=1)
    pty_port.send(b"x")
    assert port.read(1) == b"x"
    port.close()
