"""SMS-SUBMIT PDUs (3GPP TS 23.040) with UCS-2 text, for modems in PDU mode (``AT+CMGF=0``).

Text mode (``AT+CMGF=1``) hands the modem GSM 7-bit text and mangles Chinese, so
the hub builds the PDU itself. One SMS carries 140 octets of user data: 70 UCS-2
characters, or 67 when a concatenation header (UDH) takes 6 octets, so a longer
message is split into parts the phone joins again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: International number, as written in config: ``+`` then country code and subscriber number (E.164).
PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")

#: User data of one SMS, in octets (TS 23.040 §9.2.3.24: 140 octets).
MAX_UD_OCTETS = 140
#: Octets taken by the concatenation header: UDHL(1) + IEI 00(1) + IEDL(1) + ref, total, seq (3).
CONCAT_UDH_OCTETS = 6
SINGLE_PART_UNITS = MAX_UD_OCTETS // 2  # 70 UTF-16 code units
MULTI_PART_UNITS = (MAX_UD_OCTETS - CONCAT_UDH_OCTETS) // 2  # 67
#: More than 255 parts cannot be numbered in the 8-bit concatenation element.
MAX_PARTS = 255

# First octet of an SMS-SUBMIT: TP-MTI=01 (submit), TP-RD=0, TP-VPF=10 (relative validity
# period present), TP-SRR=0; TP-UDHI (bit 6) is set when the user data starts with a header.
_FIRST_OCTET = 0x11
_UDHI = 0x40
# TP-VP relative: values 144..167 mean 12 h + (VP - 143) x 30 min, so 167 (0xA7) is 24 h. An
# alarm that could not be delivered in a day is stale; let the network drop it.
_VALIDITY_24H = 0xA7
# TP-DCS 0x08: general data coding, no message class, UCS-2 (TS 23.038 §4).
_DCS_UCS2 = 0x08
# Type of address 0x91: international number (TON=001), ISDN/E.164 numbering plan (NPI=0001).
_TOA_INTERNATIONAL = 0x91


class PduError(ValueError):
    """A message or number that cannot be put into an SMS-SUBMIT PDU."""


@dataclass(frozen=True)
class SubmitPdu:
    """One part, as the modem wants it: hex for the line after ``>``, octet count for ``AT+CMGS=``."""

    hex: str
    #: TPDU length in octets, excluding the leading SMSC field (what ``AT+CMGS=<length>`` expects).
    tpdu_length: int


def encode_address(number: str) -> bytes:
    """TP-DA: digit count, type of address, then digits as swapped semi-octets padded with F."""
    if not PHONE_PATTERN.match(number):
        raise PduError(f"phone number {number!r} must be international, e.g. +8613800138000")
    digits = number[1:]
    padded = digits + "F" if len(digits) % 2 else digits
    # Semi-octets: the first digit goes in the low nibble ("8613" -> 0x68 0x31).
    swapped = bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))
    return bytes([len(digits), _TOA_INTERNATIONAL]) + swapped


def _split_units(text: str, size: int) -> list[bytes]:
    """UTF-16-BE chunks of at most ``size`` code units, never cutting a surrogate pair in half."""
    data = text.encode("utf-16-be")
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + size * 2, len(data))
        if end < len(data) and 0xD8 <= data[end - 2] <= 0xDB:  # high surrogate at the cut: keep it for the next part
            end -= 2
        chunks.append(data[start:end])
        start = end
    return chunks


def encode_submit(number: str, text: str, reference: int = 0) -> list[SubmitPdu]:
    """The PDUs that deliver ``text`` to ``number``: one, or several joined by a concatenation header.

    ``reference`` (0..255) tells the phone which parts belong together; use a new
    one for each long message to the same number.
    """
    if not text:
        raise PduError("empty message")
    address = encode_address(number)
    units = len(text.encode("utf-16-be")) // 2
    chunks = [text.encode("utf-16-be")] if units <= SINGLE_PART_UNITS else _split_units(text, MULTI_PART_UNITS)
    if len(chunks) > MAX_PARTS:
        raise PduError(f"message too long for one concatenated SMS ({len(chunks)} parts)")
    parts: list[SubmitPdu] = []
    for seq, chunk in enumerate(chunks, start=1):
        if len(chunks) == 1:
            first, user_data = _FIRST_OCTET, chunk
        else:
            # UDH: UDHL=5, IEI=0x00 (concatenated SMS, 8-bit reference), IEDL=3, ref, total, sequence.
            header = bytes([5, 0x00, 3, reference & 0xFF, len(chunks), seq])
            first, user_data = _FIRST_OCTET | _UDHI, header + chunk
        # TP-MR 0: the modem assigns the message reference. TP-PID 0: plain SMS.
        # For UCS-2 TP-UDL counts octets of the user data, header included.
        tpdu = bytes([first, 0x00]) + address + bytes([0x00, _DCS_UCS2, _VALIDITY_24H, len(user_data)]) + user_data
        # "00": no SMSC address in the PDU — the modem uses the one stored on the SIM (AT+CSCA).
        parts.append(SubmitPdu(hex="00" + tpdu.hex().upper(), tpdu_length=len(tpdu)))
    return parts


# -- received messages (SMS-DELIVER) ---------------------------------------------------------------

#: The GSM 7-bit default alphabet (TS 23.038 §6.2.1) where it differs from nothing useful: replies are
#: digits, "确认" (UCS-2) or a few Latin words, so the basic table is enough; the rest reads as "?".
_GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
         "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


@dataclass(frozen=True)
class DeliveredSms:
    """A received SMS: who sent it (``+…`` when international) and its text."""

    number: str
    text: str


def _septets(data: bytes, count: int, skip_bits: int = 0) -> str:
    bits = int.from_bytes(data, "little")
    chars = []
    for index in range(count):
        value = (bits >> (skip_bits + 7 * index)) & 0x7F
        chars.append(_GSM7[value] if value < len(_GSM7) else "?")
    return "".join(chars)


def decode_deliver(pdu_hex: str) -> DeliveredSms:
    """Sender and text of an SMS-DELIVER PDU as ``AT+CMGL`` lists it (SMSC field first); raises PduError."""
    try:
        octets = bytes.fromhex(pdu_hex.strip())
        pos = 1 + octets[0]  # the SMSC address
        first = octets[pos]
        if first & 0x03 != 0x00:
            raise PduError("not an SMS-DELIVER")
        digits, toa = octets[pos + 1], octets[pos + 2]
        pos += 3
        address = octets[pos: pos + (digits + 1) // 2]
        pos += len(address)
        if toa & 0x70 == 0x50:  # alphanumeric sender (a carrier's notice): never an account
            number = _septets(address, digits * 4 // 7)
        else:
            swapped = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in address)[:digits]
            number = ("+" if toa & 0x70 == 0x10 else "") + swapped
        dcs = octets[pos + 1]
        pos += 2 + 7  # TP-PID, TP-DCS, TP-SCTS
        length = octets[pos]
        data = octets[pos + 1:]
        header = data[0] + 1 if first & 0x40 else 0
        if dcs & 0x0C == 0x08:  # UCS-2
            text = data[header:].decode("utf-16-be", "replace")
        elif dcs & 0x0C == 0x04:  # 8-bit data
            text = data[header:length].decode("latin-1")
        else:  # GSM 7-bit: ``length`` counts septets, the header included (padded to a septet boundary)
            skip = (header * 8 + 6) // 7
            text = _septets(data, length - skip, skip * 7)
    except (IndexError, ValueError) as error:
        raise PduError(f"unreadable SMS-DELIVER PDU: {error}") from None
    return DeliveredSms(number, text)
