"""The vocabulary of the gate register as ``StrEnum``s (stored, sent and shown as their text)."""

from __future__ import annotations

from enum import StrEnum


class VisitState(StrEnum):
    """Where a visit is: invited → inside → left; an unexpected visitor waits for the host first."""

    #: Pre-registered by a teacher or the canteen manager; not arrived yet.
    EXPECTED = "expected"
    #: At the gate without an invitation: the host has been told and has not answered yet.
    WAITING = "waiting"
    #: Checked in (by the gatekeeper, or confirmed by the host).
    INSIDE = "inside"
    #: Checked out.
    LEFT = "left"
    #: The host said no: the visitor was not let in.
    DECLINED = "declined"


class IdType(StrEnum):
    """The identity document the gatekeeper looked at (only its last four characters are written down)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    DRIVER_LICENCE = "driver_licence"  # 驾驶证
    PASSPORT = "passport"  # 护照
    WORK_CARD = "work_card"  # 工作证
    OTHER = "other"  # 其他证件
    NONE = "none"  # 未查验 (an invited visitor the host vouches for)


class SlipState(StrEnum):
    """A leave slip (离校单): issued by the head teacher, the pupil out through the gate, back again."""

    ISSUED = "issued"
    OUT = "out"
    RETURNED = "returned"
    #: The pupil is not coming back today (the slip said so): nothing to wait for.
    DONE = "done"


class ExitKind(StrEnum):
    """How a pupil's departure was recorded at the gate."""

    SLIP = "slip"
    #: Left without a slip (an exception the head teacher and the safety officer are told about).
    NO_SLIP = "no_slip"
