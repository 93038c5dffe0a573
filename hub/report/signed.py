"""The signed periods, read from the report store's sign-offs: the ``hub.closed.SignedPeriods`` port."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hub.closed import SignedPeriod
from hub.report.period import PeriodKind, parse
from hub.report.store import ReportStore

_KINDS: dict[str, PeriodKind] = {"daily": "daily", "weekly": "weekly", "monthly": "monthly", "range": "range"}


class SignedReports:
    def __init__(self, store: ReportStore, tz: ZoneInfo) -> None:
        self._store = store
        self._tz = tz

    def periods(self) -> list[SignedPeriod]:
        found = []
        for signed in self._store.signoffs():
            kind = _KINDS.get(signed.kind)
            if kind is None:
                continue
            try:
                period = parse(kind, signed.label, self._tz)
            except ValueError:
                continue
            found.append(SignedPeriod(signed.kind, signed.label, signed.signer_name, period.start, period.end,
                                      signed.signed_at))
        return found

    def covering(self, start: float, end: float | None = None) -> SignedPeriod | None:
        """The first signed period containing ``start``, or overlapping ``[start, end]``."""
        last = start if end is None else max(start, end)
        for period in self.periods():
            if period.start <= last and start < period.end:
                return period
        return None
