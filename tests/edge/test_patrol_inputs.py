"""Patrol inputs at the edge: an RFID/NFC tag reader on a serial port, and a checkpoint button."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from edge.config import SourceSettings
from edge.sources import SOURCES, SourceContext, check_source_options
from edge.sources.gpio import PatrolButton, PatrolButtonOptions
from edge.sources.scanner import BarcodeScanner, TagReader, TagReaderOptions
from tests.conftest import wait_for
from tests.edge.conftest import PtyPort
from tests.edge.test_gpio import Recorder


def test_tag_reads_are_patrol_events_and_a_held_card_counts_once(pty_port: PtyPort) -> None:
    now = [1000.0]
    options = TagReaderOptions.model_validate({"port": pty_port.path, "pattern": r"(?P<code>[0-9A-Fa-f]{8,20})",
                                               "repeat_s": 5})
    reader = TagReader("gatehouse-reader", options, SourceContext(monotonic=lambda: now[0]))
    events = Recorder()
    reader.start(events)
    wait_for(lambda: reader._port is not None, timeout=5)
    try:
        # The same card read twice while held on the reader, a line of noise, another tag (lower-case hex).
        pty_port.send(b"04A1B2C3D4\r\n04A1B2C3D4\r\nREADY\r\n04a1b2c3e5\r\n")
        wait_for(lambda: len(events.events) >= 2, timeout=5)
        now[0] += 6  # the next round, the same card again
        pty_port.send(b"04A1B2C3D4\n")
        wait_for(lambda: len(events.events) >= 3, timeout=5)
    finally:
        reader.close()
    assert events.events == [
        ("gatehouse-reader", "patrol", "visited", {"tag": "04A1B2C3D4", "input": "tag_reader"}),
        ("gatehouse-reader", "patrol", "visited", {"tag": "04A1B2C3E5", "input": "tag_reader"}),
        ("gatehouse-reader", "patrol", "visited", {"tag": "04A1B2C3D4", "input": "tag_reader"}),
    ]
    assert reader.describe()[0].kind == "patrol"


def test_the_tag_reader_is_the_scanner_with_another_event() -> None:
    assert issubclass(SOURCES["tag_reader"], BarcodeScanner)
    assert SOURCES["barcode_scanner"].event_kind == "sample"  # type: ignore[attr-defined]
    problems = check_source_options(SourceSettings.model_validate({"kind": "tag_reader", "port": "loop://",
                                                                   "repeat_s": -1}))
    assert problems and problems[0][1] == ("repeat_s",)


def test_a_checkpoint_button_is_a_visit_with_a_lockout(pins: MockFactory) -> None:
    now = [50.0]
    options = PatrolButtonOptions.model_validate({"pin": 23, "lockout_s": 5})
    button = PatrolButton("checkpoint-playground", options, SourceContext(pin_factory=pins,
                                                                          monotonic=lambda: now[0]))
    events = Recorder()
    button.start(events)
    pin = pins.pin(23)

    def press() -> None:
        pin.drive_low()
        pin.drive_high()

    press()
    press()  # pressed twice: one visit
    now[0] += 6
    press()
    wait_for(lambda: len(events.events) == 2, timeout=5)
    assert events.events == [("checkpoint-playground", "patrol", "visited", {"input": "button"})] * 2
    assert check_source_options(SourceSettings.model_validate({"kind": "patrol_button", "pin": 23})) == [
        ("a patrol_button source needs a sensor id", ("kind",))]
    button.close()
