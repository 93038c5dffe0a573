"""Time on a device with no real-time clock.

A Raspberry Pi boots with the time it last saved (or 1970) and only learns the real
time from NTP, possibly hours later. Readings taken before then carry wrong wall
times. Each outbox row stores the wall and monotonic clocks at the moment it was
written; once the clock is synchronised, the difference between the old and the new
wall-minus-monotonic offsets is exactly the correction to apply (the monotonic
clock never jumps). That only holds within one boot: rows from an earlier boot that
never saw a synced clock stay flagged as unsynchronised.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import json
import time
from typing import Any, Literal, Protocol

#: ``ntp_adjtime`` returns TIME_ERROR while the kernel's STA_UNSYNC flag is set — the
#: flag systemd-timesyncd and chrony clear once they have disciplined the clock.
_TIME_ERROR = 5


#: A stamp this far behind the last one (or less) is moved past it; further back is a clock step, kept.
STAMP_BACKSTEP_MS = 1000


class Clock(Protocol):
    def wall(self) -> float: ...
    def monotonic(self) -> float: ...
    def synced(self) -> bool: ...


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # find_library runs `ldconfig -p`: once per process, not on every tick of an unsynced Pi.
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name is not None else None


def kernel_clock_synced() -> bool:
    """Ask the kernel whether an NTP daemon has synchronised the clock."""
    libc = _libc()
    if libc is None:  # pragma: no cover - every Linux has a libc
        return False
    timex = ctypes.create_string_buffer(512)  # zeroed: modes=0 reads without changing anything
    return bool(libc.ntp_adjtime(timex) != _TIME_ERROR)


class SystemClock:
    """The real clocks; ``sync_check="assume"`` is for simulated agents on a server."""

    def __init__(self, sync_check: Literal["kernel", "assume"] = "kernel") -> None:
        self._sync_check = sync_check
        self._known_synced = False

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def synced(self) -> bool:
        # Once synced, stays synced for this boot: a later NTP hiccup does not make the
        # wall clock wrong again, and re-flagging would split one outage's data.
        if not self._known_synced:
            self._known_synced = self._sync_check == "assume" or kernel_clock_synced()
        return self._known_synced


def distinct_stamp(wall: float, mono: float, synced: bool, last: tuple[int, int] | None) -> tuple[int, int]:
    """A tick's wall and monotonic times in whole milliseconds, the one its time comes from later than the last.

    The hub keys a reading by (sensor, millisecond), so two ticks stamped in one millisecond
    would be stored as one reading. The agent already reads at most every half interval,
    but it stamps after reading: a tick stalled between its read and its stamp (a loaded
    CPU, a slow SD card) can be stamped within a millisecond of the next one. A synced
    reading's time is its wall time: a stamp in the last one's millisecond, or slightly
    behind it (a small backward step of the wall clock), is moved 1 ms past it; a wall clock
    stepped back further than ``STAMP_BACKSTEP_MS`` is a new time and is kept. An unsynced
    reading's time is its monotonic time, which the hub re-stamps (and the node re-anchors):
    that one is moved past the last. Both times move together, so the outbox row keeps the
    clock's wall-minus-monotonic offset.
    """
    ms, mono_ms = round(wall * 1000), round(mono * 1000)
    if last is None:
        return ms, mono_ms
    last_ms, last_mono_ms = last
    if synced:
        behind = last_ms + 1 - ms
        shift = behind if 0 < behind <= STAMP_BACKSTEP_MS else 0
    else:
        shift = max(0, last_mono_ms + 1 - mono_ms)
    return ms + shift, mono_ms + shift


def reanchor_delta(written_wall: float, written_mono: float, now_wall: float, now_mono: float) -> float:
    """Seconds to add to a timestamp taken when wall-minus-monotonic was the written offset."""
    return (now_wall - now_mono) - (written_wall - written_mono)


def reanchor_payload(payload: bytes, delta: float) -> bytes:
    """Shift every timestamp in a telemetry or event payload by ``delta`` and mark it re-anchored."""
    message: dict[str, Any] = json.loads(payload)
    items = message.get("readings", [message])
    for item in items:
        if not item.get("clock_synced", True):
            item["ts"] = round(item["ts"] + delta, 3)
            item["clock_synced"] = True
            item["reanchored"] = True
            item.pop("mono", None)  # the time is known now: nothing for the hub to re-stamp
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


#: How long a node may run with the kernel saying "unsynchronised" before the agent says so in its log.
UNSYNCED_WARN_AFTER_S = 600.0

NEVER_SYNCED_ADVICE = (
    "the kernel has not reported the clock synchronised (ntp_adjtime: TIME_ERROR). Readings taken until it"
    " does are held at the hub as 'time not yet known' (时间未知), out of the rules and reports, until the"
    " node's clock syncs. If this machine's time is kept by its host (many VMs and containers never clear"
    " the kernel's flag), set 'clock_sync_check: assume' in the device config.")


def unsynced_too_long(synced: bool, sync_check: str, uptime_s: float, after_s: float = UNSYNCED_WARN_AFTER_S) -> bool:
    """Whether a node has run unsynchronised long enough to say so: a Pi syncs within minutes of the network."""
    return sync_check == "kernel" and not synced and uptime_s >= after_s


def clock_report(sync_check: str, kernel_synced: bool) -> str:
    """The clock line of ``xiaoan edge check-config --online``: what this machine's clock means for readings."""
    if sync_check == "assume":
        return "clock: clock_sync_check is 'assume': every reading is taken as correctly timed"
    if kernel_synced:
        return "clock: the kernel reports the clock synchronised"
    return ("clock: WARNING: " + NEVER_SYNCED_ADVICE
            + " (a Pi that booted a moment ago may simply not have synced yet: check again in a few minutes)")
