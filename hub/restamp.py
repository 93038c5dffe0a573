"""Readings taken before a node's clock synced: held until their time is known, then re-stamped.

A Pi without a real-time clock that boots with the network up publishes readings at
once, stamped with whatever its wall clock says (1970, or the time it last saved)
and flagged ``clock_synced: false``. Those times are wrong by an unknown amount, so
the hub does not store them as times: it holds such a reading (with the edge's
monotonic clock when it was taken, ``Reading.mono``) out of the series store, the
rules and the reports, and lists it as "time not yet known" (时间未知).

Once the node's clock is synced its heartbeat carries the anchor of its boot
(``Health.ts`` and ``Health.mono`` read together, ``clock_synced: true``). The
monotonic clock never jumps within a boot, so ``mono + (anchor wall − anchor mono)``
is the reading's true time: the hub writes every held reading of that boot to the
series store at that time (SQLite or InfluxDB, whose hourly rollups of those hours
it recomputes), deletes it from the hold and writes one audit entry with the count.

Idempotent: the first anchor of a boot is kept (later heartbeats of the same boot
differ only by NTP slewing), writing a reading at the same time twice is one point,
and the audit counts only the held rows this re-stamp removed — a second re-stamp
finds none and records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hub.store.base import HOUR_S, StoredReading
from hub.store.state import UntimedReading

#: The action of the audit entry each re-stamp writes (detail: boot, readings moved, offset).
AUDIT_ACTION = "readings_restamped"
#: How readings whose time is not yet known are labelled where readings are listed.
TIME_UNKNOWN = "时间未知 · time not yet known"


def anchor_offset(wall: float, mono: float) -> float:
    """Wall minus monotonic at the anchor: add it to a monotonic time of the same boot to get its wall time."""
    return wall - mono


def restamped_ts(mono: float, offset: float) -> float:
    """A held reading's true time, to the millisecond both stores keep."""
    return round(mono + offset, 3)


def restamp(held: Sequence[UntimedReading], offset: float) -> list[StoredReading]:
    """The held readings of one boot as stored readings at their true times (flagged synced: the time is known)."""
    return [StoredReading(r.sensor, restamped_ts(r.mono, offset), r.value, r.fault, True) for r in held]


def hour_spans(timestamps: Iterable[float]) -> list[tuple[float, float]]:
    """The hours the timestamps fall in, as [start, end) spans of contiguous hours: one rollup query each."""
    spans: list[list[int]] = []
    for hour in sorted({int(ts) // HOUR_S * HOUR_S for ts in timestamps}):
        if spans and spans[-1][1] == hour:
            spans[-1][1] = hour + HOUR_S
        else:
            spans.append([hour, hour + HOUR_S])
    return [(float(start), float(end)) for start, end in spans]
