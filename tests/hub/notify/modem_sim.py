"""A simulated GSM modem on the far end of a pty, and an SMS-SUBMIT decoder written apart from the encoder.

The decoder follows 3GPP TS 23.040 field by field from the raw octets, so a bug
in ``hub.notify.pdu`` cannot hide behind the same bug here.
"""

from __future__ import annotations

import os
import select
import threading
from dataclasses import dataclass, field
from typing import Literal

Behaviour = Literal["ok", "error", "cms_error", "silent"]


@dataclass
class DecodedSms:
    number: str
    dcs: int
    text: str
    #: (reference, total, sequence) when the part carries a concatenation header.
    concat: tuple[int, int, int] | None
    declared_length: int
    actual_length: int


def decode_submit(pdu_hex: str) -> DecodedSms:
    octets = list(bytes.fromhex(pdu_hex))
    pos = 0
    smsc_len = octets[pos]
    pos += 1 + smsc_len
    tpdu_start = pos
    first = octets[pos]
    pos += 1
    assert first & 0x03 == 0x01, "TP-MTI must be SMS-SUBMIT"
    udhi = bool(first & 0x40)
    vpf = (first >> 3) & 0x03
    pos += 1  # TP-MR
    digits = octets[pos]
    toa = octets[pos + 1]
    pos += 2
    address_octets = octets[pos: pos + (digits + 1) // 2]
    pos += len(address_octets)
    nibbles = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in address_octets)[:digits]
    number = ("+" if toa == 0x91 else "") + nibbles
    pos += 1  # TP-PID
    dcs = octets[pos]
    pos += 1
    if vpf == 0b10:
        pos += 1
    elif vpf in (0b01, 0b11):
        pos += 7
    udl = octets[pos]
    pos += 1
    user_data = bytes(octets[pos:])
    assert len(user_data) == udl, f"TP-UDL says {udl} octets, {len(user_data)} follow"
    concat = None
    if udhi:
        udhl = user_data[0]
        header = user_data[1: 1 + udhl]
        i = 0
        while i < len(header):
            iei, iedl = header[i], header[i + 1]
            data = header[i + 2: i + 2 + iedl]
            if iei == 0x00:
                concat = (data[0], data[1], data[2])
            i += 2 + iedl
        user_data = user_data[1 + udhl:]
    text = user_data.decode("utf-16-be")
    return DecodedSms(number=number, dcs=dcs, text=text, concat=concat, declared_length=-1,
                      actual_length=len(octets) - tpdu_start)


def encode_deliver(number: str, text: str, *, ucs2: bool = True) -> str:
    """An SMS-DELIVER PDU (with an SMSC field) as a modem lists it, built from TS 23.040 by hand.

    ``ucs2=False`` packs digits and Latin letters as GSM 7-bit septets (what a phone sends for "1").
    """
    smsc = bytes([0x07, 0x91, 0x68, 0x31, 0x08, 0x10, 0x05, 0xF0])  # +8613800150... as the SIM's SMSC
    digits = number.lstrip("+")
    padded = digits + ("F" if len(digits) % 2 else "")
    address = bytes([len(digits), 0x91 if number.startswith("+") else 0x81]) + bytes(
        int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))
    scts = bytes.fromhex("62211020000023")  # 2026-12-01 02:00:00 +08 in swapped semi-octets
    if ucs2:
        data = text.encode("utf-16-be")
        user = bytes([0x08]) + scts + bytes([len(data)]) + data
    else:
        septets = [ord(c) for c in text]  # digits, letters and space are the same code in GSM 7-bit
        bits = sum(value << (7 * index) for index, value in enumerate(septets))
        packed = bits.to_bytes((7 * len(septets) + 7) // 8, "little")
        user = bytes([0x00]) + scts + bytes([len(septets)]) + packed
    return (smsc + bytes([0x04]) + address + bytes([0x00]) + user).hex().upper()


@dataclass
class SimulatedModem:
    """Answers AT commands on a pty master; ``path`` is the slave for ``serial_for_url``."""

    behaviour: Behaviour = "ok"
    echo: bool = True
    received: list[DecodedSms] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    #: Messages on the SIM, by index, as SMS-DELIVER PDU hex (``deliver`` puts one there).
    inbox: dict[int, str] = field(default_factory=dict)
    path: str = ""

    def __post_init__(self) -> None:
        self._master, self._slave = os.openpty()
        self.path = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._mr = 0

    def __enter__(self) -> SimulatedModem:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self._master)
        os.close(self._slave)

    def deliver(self, number: str, text: str, *, ucs2: bool = True) -> None:
        """An SMS arrives from ``number``: stored on the SIM until the hub lists and deletes it."""
        self.inbox[max(self.inbox, default=0) + 1] = encode_deliver(number, text, ucs2=ucs2)

    def _write(self, text: str) -> None:
        os.write(self._master, text.encode("ascii"))

    def _run(self) -> None:
        buffer = b""
        pdu_length: int | None = None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                buffer += os.read(self._master, 1024)
            except OSError:
                return
            while True:
                if pdu_length is not None:
                    if b"\x1a" not in buffer:
                        break
                    pdu, buffer = buffer.split(b"\x1a", 1)
                    self._on_pdu(pdu.decode("ascii").strip(), pdu_length)
                    pdu_length = None
                    continue
                if b"\r" not in buffer:
                    break
                line, buffer = buffer.split(b"\r", 1)
                command = line.decode("ascii", "replace").strip()
                if not command:
                    continue
                pdu_length = self._on_command(command)

    def _on_command(self, command: str) -> int | None:
        self.commands.append(command)
        if self.behaviour == "silent":
            return None
        if self.echo:
            self._write(command + "\r")
        upper = command.upper()
        if upper == "ATE0":
            self.echo = False
        if upper == "AT+CMGL=4":
            listing = "".join(f"\r\n+CMGL: {index},0,,{len(pdu) // 2 - 8}\r\n{pdu}"
                              for index, pdu in sorted(self.inbox.items()))
            self._write(f"{listing}\r\n\r\nOK\r\n")
            return None
        if upper.startswith("AT+CMGD="):
            self.inbox.pop(int(upper.split("=", 1)[1].split(",")[0]), None)
        if upper.startswith("AT+CMGS="):
            if self.behaviour == "error":
                self._write("\r\nERROR\r\n")
                return None
            self._write("\r\n> ")
            return int(upper.split("=", 1)[1])
        self._write("\r\nOK\r\n")
        return None

    def _on_pdu(self, pdu_hex: str, declared: int) -> None:
        decoded = decode_submit(pdu_hex)
        decoded.declared_length = declared
        self.received.append(decoded)
        if self.behaviour == "cms_error":
            self._write("\r\n+CMS ERROR: 500\r\n")
            return
        self._mr += 1
        self._write(f"\r\n+CMGS: {self._mr}\r\n\r\nOK\r\n")
