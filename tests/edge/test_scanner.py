from __future__ import annotations

from collections.abc import Mapping

from edge.sources import SourceContext
from edge.sources.scanner import BarcodeScanner, ScannerOptions
from edge.wire import ScalarValue
from tests.conftest import wait_for
from tests.edge.conftest import PtyPort


def test_each_scan_is_a_sample_event(pty_port: PtyPort) -> None:
    options = ScannerOptions.model_validate({
        "port": pty_port.path, "meal": "lunch",
        "pattern": r"^LY-(?P<code>(?P<meal>breakfast|lunch|dinner)?-?\d{6,})$"})
    scanner = BarcodeScanner("", options, SourceContext())
    events: list[tuple[str, str, str, dict[str, ScalarValue]]] = []

    def emit(sensor: str, kind: str, state: str, detail: Mapping[str, ScalarValue] | None = None) -> None:
        events.append((sensor, kind, state, dict(detail or {})))

    scanner.start(emit)
    # pyserial flushes the input buffer when it opens a port: send once the scanner is listening.
    wait_for(lambda: scanner._port is not None, timeout=5)
    try:
        # Scanners end codes with CR, LF or both; the third line is a product barcode, not a sample.
        pty_port.send(b"LY-dinner-20240901\rLY-123456\r\n6901234567892\nLY-breakfast-000")
        wait_for(lambda: len(events) >= 2, timeout=5)
        pty_port.send(b"777\n")
        wait_for(lambda: len(events) >= 3, timeout=5)
    finally:
        scanner.close()
    assert events == [
        ("sample-scanner", "sample", "scanned", {"code": "dinner-20240901", "meal": "dinner", "input": "scanner"}),
        ("sample-scanner", "sample", "scanned", {"code": "123456", "meal": "lunch", "input": "scanner"}),
        ("sample-scanner", "sample", "scanned", {"code": "breakfast-000777", "meal": "breakfast",
                                                 "input": "scanner"}),
    ]
