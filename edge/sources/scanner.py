"""Serial readers that print one code per line: the food-sample barcode scanner, and patrol tag readers.

Staff scan the label on each sample box; every scan is a ``sample`` event carrying
the code (and the meal, when the label encodes it). An RFID/NFC reader at a patrol
checkpoint (``tag_reader``) works the same way: each tag it prints is a ``patrol``
event carrying the tag id. Readers end a code with CR, LF or both, depending on how
they were configured; all three work.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, field_validator

from edge.sources.base import EventSink, SourceBase, SourceContext, SourceOptions
from edge.wire import UNSAFE_TEXT_RE, ScalarValue, SensorInfo

_LOGGER = logging.getLogger(__name__)


class ScannerOptions(SourceOptions):
    """Keys of a ``barcode_scanner`` source."""

    #: A device (``/dev/ttyACM0``, ``/dev/serial/by-id/…``) or any pyserial URL.
    port: str = Field(min_length=1)
    baudrate: int = Field(default=9600, gt=0)
    #: Codes must match this (searched); a named group ``code`` narrows what is kept and a
    #: group ``meal`` reads the meal from the label. Anything else scanned is ignored.
    pattern: str = r"(?P<code>\S+)"
    #: The meal to record when the code does not say (empty: the hub decides from the time).
    meal: str = ""
    #: Seconds to wait before reopening a port that went away (a scanner unplugged).
    reopen_s: float = Field(default=5.0, gt=0)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        return pattern


class TagReaderOptions(ScannerOptions):
    """Keys of a ``tag_reader`` source: an RFID/NFC reader printing tag ids (``meal`` is not used)."""

    #: The same tag read again within this many seconds is one visit (a card held on the reader).
    repeat_s: float = Field(default=5.0, ge=0, le=600)


class BarcodeScanner(SourceBase):
    Options: ClassVar[type[SourceOptions]] = ScannerOptions
    #: The event each accepted line becomes, and the sensor's defaults.
    event_kind: ClassVar[str] = "sample"
    event_state: ClassVar[str] = "scanned"
    default_sensor: ClassVar[str] = "sample-scanner"
    default_name: ClassVar[str] = "留样扫码"

    def __init__(self, sensor: str, options: ScannerOptions, context: SourceContext) -> None:
        self.sensor = sensor or self.default_sensor
        self.options = options
        self._pattern = re.compile(options.pattern)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: Any = None

    def describe(self) -> list[SensorInfo]:
        return [SensorInfo(sensor=self.sensor, kind=self.event_kind, name=self.default_name)]

    def start(self, emit: EventSink) -> None:
        self._thread = threading.Thread(target=self._run, args=(emit,), name=f"scanner-{self.sensor}", daemon=True)
        self._thread.start()

    def detail_for(self, line: str) -> dict[str, str | int | float | bool | None] | None:
        """What a scanned line records, or ``None`` when it is not a sample code.

        Control characters a scanner adds (a GS1 group separator, a prefix set in the
        scanner) are dropped first: the wire refuses them in event text.
        """
        match = self._pattern.search(UNSAFE_TEXT_RE.sub("", line))
        if match is None:
            return None
        groups = match.groupdict()
        code = groups.get("code") or match.group(0)
        detail: dict[str, str | int | float | bool | None] = {"code": code[:64], "input": "scanner"}
        meal = groups.get("meal") or self.options.meal
        if meal:
            detail["meal"] = meal
        return detail

    def _run(self, emit: EventSink) -> None:
        import serial  # noqa: PLC0415 - hardware libraries load only where used

        buffer = b""
        while not self._stop.is_set():
            try:
                if self._port is None:
                    self._port = serial.serial_for_url(self.options.port, baudrate=self.options.baudrate,
                                                       timeout=0.2)
                chunk = self._port.read(256)
            except OSError as error:
                _LOGGER.warning("scanner %s: %s; retrying", self.options.port, error)
                self._close_port()
                self._stop.wait(self.options.reopen_s)
                continue
            buffer += chunk
            *lines, buffer = re.split(rb"\r\n|\r|\n", buffer)
            buffer = buffer[-256:]
            for raw in lines:
                line = raw.decode("utf-8", errors="replace").strip()
                detail = self.detail_for(line) if line else None
                if detail is not None:
                    emit(self.sensor, self.event_kind, self.event_state, detail)
                elif line:
                    _LOGGER.info("scanner %s: ignored %r", self.sensor, line)

    def _close_port(self) -> None:
        if self._port is not None:
            with contextlib.suppress(OSError):
                self._port.close()
            self._port = None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._close_port()


class TagReader(BarcodeScanner):
    """An RFID/NFC reader at a patrol checkpoint: each tag read is a ``patrol`` event (detail ``tag``).

    The hub maps the tag (fixed at a checkpoint) or this reader's sensor key (a reader
    installed at one) to a checkpoint; tag ids are upper-cased so readers that print
    hex in either case agree.
    """

    Options = TagReaderOptions
    event_kind = "patrol"
    event_state = "visited"
    default_sensor = "tag-reader"
    default_name = "巡更读卡器"

    def __init__(self, sensor: str, options: TagReaderOptions, context: SourceContext) -> None:
        super().__init__(sensor, options, context)
        self._repeat_s = options.repeat_s
        self._monotonic: Callable[[], float] = context.monotonic
        self._last_read: dict[str, float] = {}

    def detail_for(self, line: str) -> dict[str, ScalarValue] | None:
        match = self._pattern.search(UNSAFE_TEXT_RE.sub("", line))  # as for sample codes: plain text only
        if match is None:
            return None
        tag = (match.groupdict().get("code") or match.group(0)).upper()[:64]
        now = self._monotonic()
        last = self._last_read.get(tag)
        self._last_read[tag] = now
        if last is not None and now - last < self._repeat_s:
            return None
        return {"tag": tag, "input": "tag_reader"}
