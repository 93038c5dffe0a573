"""SMS through a GSM/4G modem on a serial port: the channel that still works when the school's internet is down.

The modem speaks AT commands (3GPP TS 27.005). The hub switches it to PDU mode and
writes UCS-2 PDUs itself (see ``pdu``), waits for the ``>`` prompt after
``AT+CMGS=<length>``, ends the PDU with Ctrl-Z and waits for ``+CMGS: <mr>`` then
``OK``. Every wait has a deadline: a modem that hangs must fail the delivery so the
dispatcher falls back, not hang the hub. The port is opened per send, so a USB
modem that re-enumerated after a brown-out is picked up again.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from hub.notify.base import DeliveryResult, Notification
from hub.notify.messages import render, without_links
from hub.notify.pdu import PHONE_PATTERN, DeliveredSms, PduError, decode_deliver, encode_submit

_LOGGER = logging.getLogger(__name__)

CTRL_Z = b"\x1a"
ESC = b"\x1b"
#: Final result codes (TS 27.007 §5.5 / TS 27.005 §3.2.5) that end a command.
_FINAL_OK = ("OK",)
_FINAL_ERRORS = ("ERROR", "+CMS ERROR", "+CME ERROR", "NO CARRIER")
#: A plain SMS is about 160 characters on a phone screen; 4 UCS-2 parts is 268 characters.
DEFAULT_SMS_CHARS = 200


class SerialPort(Protocol):
    """The part of ``serial.Serial`` the modem uses (tests hand in the same on a pty)."""

    def write(self, data: bytes) -> int | None: ...
    def read(self, size: int = 1) -> bytes: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


OpenSerial = Callable[[str, int], SerialPort]
#: Makes the reply code an SMS to a number offers for an alarm (hub.auth.smscodes.SmsCodes.mint).
MintCode = Callable[[str, int], str]


class ModemError(RuntimeError):
    """The modem refused (``ERROR``, ``+CMS ERROR: n``) or did not answer in time."""


class ModemTimeout(ModemError, TimeoutError):
    """No final answer before the deadline."""


def open_serial(url: str, baudrate: int) -> SerialPort:
    """Open a port by URL (``/dev/ttyUSB2``, ``/dev/pts/5``, ``rfc2217://…``) with a short read timeout."""
    import serial  # noqa: PLC0415 - pyserial is only needed on hubs that have a modem

    port: SerialPort = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1, write_timeout=5)
    return port


class SerialModem:
    """One modem on one port; channels that share it (one per tier, say) share this object and its lock."""

    def __init__(self, url: str, *, baudrate: int = 115200, command_timeout_s: float = 5.0,
                 send_timeout_s: float = 60.0, opener: OpenSerial = open_serial) -> None:
        self.url = url
        self._baudrate = baudrate
        self._command_timeout = command_timeout_s
        # The network can take tens of seconds to accept an SMS (TS 27.005 allows it);
        # the +CMGS wait is therefore longer than a local command's.
        self._send_timeout = send_timeout_s
        self._opener = opener
        self._lock = threading.Lock()
        self._reference = 0

    def send_sms(self, number: str, text: str) -> list[int]:
        """Send ``text`` to ``number``; returns the network message references, raises ``ModemError``."""
        with self._lock:
            self._reference = (self._reference + 1) % 256
            parts = encode_submit(number, text, reference=self._reference)
            try:
                port = self._opener(self.url, self._baudrate)
            except Exception as error:  # pyserial raises SerialException / OSError / ValueError
                raise ModemError(f"cannot open {self.url}: {error}") from error
            try:
                session = _Session(port)
                port.reset_input_buffer()
                session.command("ATE0", self._command_timeout)  # echo off: fewer bytes to skip
                session.command("AT+CMGF=0", self._command_timeout)  # PDU mode
                return [session.submit(part.tpdu_length, part.hex, self._command_timeout, self._send_timeout)
                        for part in parts]
            finally:
                port.close()


    def read_inbox(self) -> list[DeliveredSms]:
        """Every received SMS on the SIM (``AT+CMGL=4``), each deleted once read; raises ``ModemError``.

        A PDU the hub cannot read is deleted too (logged by its index only): it would otherwise
        be read again every time and fill the SIM.
        """
        with self._lock:
            try:
                port = self._opener(self.url, self._baudrate)
            except Exception as error:
                raise ModemError(f"cannot open {self.url}: {error}") from error
            try:
                session = _Session(port)
                port.reset_input_buffer()
                session.command("ATE0", self._command_timeout)
                session.command("AT+CMGF=0", self._command_timeout)
                lines = session.command("AT+CMGL=4", self._command_timeout)
                found: list[DeliveredSms] = []
                for index, pdu in _listed(lines):
                    try:
                        found.append(decode_deliver(pdu))
                    except PduError as error:
                        _LOGGER.warning("SMS %d on %s unreadable, deleted: %s", index, self.url, error)
                    session.command(f"AT+CMGD={index}", self._command_timeout)
                return found
            finally:
                port.close()


def _listed(lines: Sequence[str]) -> list[tuple[int, str]]:
    """(index, PDU hex) of each message in an ``AT+CMGL`` answer: a ``+CMGL: i,stat,,len`` line, then the PDU."""
    found: list[tuple[int, str]] = []
    for line, following in itertools.pairwise(lines):
        if line.startswith("+CMGL:"):
            index = line.split(":", 1)[1].split(",", 1)[0].strip()
            if index.isdigit():
                found.append((int(index), following))
    return found


class _Session:
    def __init__(self, port: SerialPort) -> None:
        self._port = port
        self._buffer = b""

    def _fill(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise ModemTimeout("modem did not answer in time")
        self._buffer += self._port.read(256)

    def _lines(self) -> list[str]:
        *complete, self._buffer = self._buffer.split(b"\n")
        return [line.decode("ascii", "replace").strip() for line in complete if line.strip()]

    def _final(self, deadline: float, what: str) -> list[str]:
        seen: list[str] = []
        while True:
            for line in self._lines():
                seen.append(line)
                if line in _FINAL_OK:
                    return seen
                if line.startswith(_FINAL_ERRORS):
                    raise ModemError(f"{what}: {line}")
            try:
                self._fill(deadline)
            except ModemTimeout:
                raise ModemTimeout(f"{what}: no answer (got {seen[-3:] or 'nothing'})") from None

    def command(self, command: str, timeout: float) -> list[str]:
        self._port.write(command.encode("ascii") + b"\r")
        return self._final(time.monotonic() + timeout, command)

    def submit(self, length: int, pdu_hex: str, prompt_timeout: float, send_timeout: float) -> int:
        command = f"AT+CMGS={length}"
        self._port.write(command.encode("ascii") + b"\r")
        deadline = time.monotonic() + prompt_timeout
        # The prompt is "\r\n> " with no line end, so look for it in the raw buffer.
        while b">" not in self._buffer:
            for line in self._lines():
                if line.startswith(_FINAL_ERRORS):
                    raise ModemError(f"{command}: {line}")
            try:
                self._fill(deadline)
            except ModemTimeout:
                self._port.write(ESC)  # leave the prompt if it comes late, so the modem is usable again
                raise ModemTimeout(f"{command}: no '>' prompt") from None
        self._buffer = self._buffer.split(b">", 1)[1]
        self._port.write(pdu_hex.encode("ascii") + CTRL_Z)
        lines = self._final(time.monotonic() + send_timeout, command)
        reference = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("+CMGS:")), None)
        if reference is None:
            raise ModemError(f"{command}: OK without +CMGS")
        return int(reference) if reference.isdigit() else -1


def reply_hint(code: str, alert_id: int, locale: str) -> str:
    """The last line of an alarm SMS: how to acknowledge by replying."""
    if locale == "en":
        return f"Reply 1 (or ACK {code}) to acknowledge #{alert_id}"
    return f"回复 1（或“确认 {code}”）即确认 #{alert_id}"


class SmsChannel:
    """Texts each configured number (and any ``+…`` recipient of the notification); ok only if all got it."""

    def __init__(self, name: str, modem: SerialModem, numbers: Sequence[str], *,
                 max_chars: int = DEFAULT_SMS_CHARS, clock: Callable[[], float] = time.monotonic,
                 mint_code: MintCode | None = None) -> None:
        for number in numbers:
            if not PHONE_PATTERN.match(number):
                raise ValueError(f"phone number {number!r} must be international, e.g. +8613800138000")
        self._name = name
        self._modem = modem
        self._numbers = tuple(numbers)
        self._max_chars = max_chars
        self._clock = clock
        #: With it, an SMS asking for an acknowledgement ends with a reply code (hub.alerts.smsreplies).
        self._mint_code = mint_code

    @property
    def modem(self) -> SerialModem:
        return self._modem

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_chars(self) -> int | None:
        return self._max_chars

    def send(self, notification: Notification) -> DeliveryResult:
        started = self._clock()
        extra = [r for r in notification.recipients if PHONE_PATTERN.match(r)]
        numbers = list(dict.fromkeys([*self._numbers, *extra]))
        if not numbers:
            return DeliveryResult.failure("no phone numbers")
        text = render(notification, self._max_chars)
        errors: list[str] = []
        for number in numbers:
            try:
                self._modem.send_sms(number, self._with_reply_code(notification, number) or text)
            except (ModemError, PduError) as error:
                _LOGGER.warning("SMS to %s via %s failed: %s", number, self._modem.url, error)
                errors.append(f"{number}: {error}")
        latency = self._clock() - started
        if errors:
            return DeliveryResult.failure("; ".join(errors), latency)
        return DeliveryResult.success(latency)

    def _with_reply_code(self, notification: Notification, number: str) -> str | None:
        """The text with a reply code of its own for ``number``, or None (no codes, or nothing to acknowledge)."""
        if self._mint_code is None or not notification.wants_ack or notification.alert_id is None:
            return None
        try:
            code = self._mint_code(number, notification.alert_id)
        except Exception:  # the alarm goes out without a code rather than not at all
            _LOGGER.exception("cannot make an SMS reply code for alert %s", notification.alert_id)
            return None
        hint = reply_hint(code, notification.alert_id, notification.locale)
        return f"{render(without_links(notification), self._max_chars - len(hint) - 1)}\n{hint}"
