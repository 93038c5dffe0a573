"""Closed records: once the safety officer has signed a period's report, its records stay as signed.

The weekly report is built from the alarm history, the sample register, the limit
changes and the school calendar. A signature vouches for them as they stood, so a
change to any of them that falls in a signed period is refused (409, naming the
period and who signed it); what a person still has to say about it is added as a
note, which is kept beside the record, audited, and never changes it.

This module is the port the features are given (``SignedPeriods``) and the words of
the refusal; the report component implements the port (``hub.report.signed``).
Nothing here imports the features or the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.errors import Conflict


@dataclass(frozen=True)
class SignedPeriod:
    """A period whose report is signed: ``[start, end)`` in UTC epoch seconds."""

    kind: str
    label: str
    signer_name: str
    start: float
    end: float
    #: When it was signed: a record still open then was printed as open, and goes on.
    signed_at: float


class SignedPeriods(Protocol):
    """Which signed period, if any, a time or a span of time falls in."""

    def covering(self, start: float, end: float | None = None) -> SignedPeriod | None:
        """The signed period containing ``start`` (or overlapping ``[start, end]``); None when none does."""
        ...


class NothingSigned:
    """For a component used without reports (a tool, a test of one feature): no period is signed."""

    def covering(self, start: float, end: float | None = None) -> SignedPeriod | None:
        return None


def signed_message(what: str, what_zh: str, signed: SignedPeriod) -> str:
    """The refusal's words, in English and Chinese like the hub's other refusals."""
    return (f"{what} is in {signed.label}, whose report {signed.signer_name} signed; the records of a signed"
            f" period cannot be changed, add a note instead · {what_zh}属于已审核签字的 {signed.label}"
            f"（{signed.signer_name}），记录不能再修改，如需说明请添加备注")


class PeriodSigned(Conflict):
    """A change to a record of a signed period (409)."""

    def __init__(self, field: str | None, what: str, what_zh: str, signed: SignedPeriod) -> None:
        super().__init__(field, signed_message(what, what_zh, signed))
        self.signed = signed


def refuse_signed(periods: SignedPeriods, field: str | None, what: str, what_zh: str, start: float,
                  end: float | None = None) -> None:
    """Raise ``PeriodSigned`` when ``start`` (or ``[start, end]``) falls in a signed period."""
    signed = periods.covering(start, end)
    if signed is not None:
        raise PeriodSigned(field, what, what_zh, signed)
