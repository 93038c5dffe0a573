"""Places with a printed QR code, and the reports strangers send by scanning one.

Part of the checks component (``ChecksService.places``), over the same record: a place's
code holds a random token, so a code of another school or of a retired place names
nothing; a stranger's report is taken only when the school turned it on, within its
bounds (``rules.scan_refusal``: counted on the record in the report's own transaction, so
they hold across restarts), kept as plain text, and becomes a work order
only when a staff member files it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from collections.abc import Callable

from hub.alerts.ports import AuditTrail
from hub.checks import rules
from hub.checks.config import ChecksConfig
from hub.checks.kinds import Category, ScanRefusal, ScanState, Urgency
from hub.checks.store import CheckStore, NewOrder, Place, PlaceScan, ScanReport
from hub.errors import Conflict, FieldError, NotFound
from hub.safetext import typed_problem

_LOGGER = logging.getLogger(__name__)

#: Who the audit chain names for a report sent by scanning a code without signing in (not a username).
SCAN_ACTOR = "(scan)"


class ScanRefused(FieldError):
    """A report from a scan without signing in that was not taken, and why (429 for the limits)."""

    def __init__(self, reason: ScanRefusal) -> None:
        super().__init__("place", f"report refused: {reason.value}", 403 if reason is ScanRefusal.CLOSED else 429)
        self.reason = reason


def _place_token() -> str:
    """A place's code: unguessable, so a code cannot be made up for a place, nor one school's used at another."""
    return secrets.token_urlsafe(12)


def order_subject(order_id: int) -> str:
    return f"workorder:{order_id}"


def typed(field_name: str, text: str, lines: bool = False) -> str:
    """Text typed into a form, stripped; a control or direction character is refused naming the field."""
    problem = typed_problem(text, lines)
    if problem is not None:
        raise FieldError(field_name, problem)
    return text.strip()


class PlaceCodes:
    """The places of the checks component: their codes, what a scan opens, strangers' reports and their triage."""

    def __init__(self, store: CheckStore, config: ChecksConfig, record: AuditTrail,
                 clock: Callable[[], float]) -> None:
        self.store = store
        self.config = config
        self._record = record
        self._clock = clock
        store.seed_places(config.places, _place_token, clock())
        #: Mixed into a stranger's address before it is kept: the record holds no address, only its hash.
        self._salt = store.source_salt(lambda: secrets.token_hex(16))

    def all(self) -> list[Place]:
        return self.store.places()

    def add(self, name: str, actor: str, now: float | None = None) -> Place:
        now = self._clock() if now is None else now
        name = typed("name", name)
        if not name:
            raise FieldError("name", "name the place · 请填写地点名称")
        try:
            place = self.store.add_place(name, _place_token(), actor, now)
        except sqlite3.IntegrityError:
            raise Conflict("name", f"a place named {name!r} already has a code · 该地点已有二维码") from None
        self._record.append_audit(now, actor, "place.add", f"place:{place.id}", {"name": name})
        return place

    def retire(self, place_id: int, actor: str, now: float | None = None) -> Place:
        """The place's code is refused from now on (a lost or copied sticker: add the place again for a new one)."""
        now = self._clock() if now is None else now
        if self.store.place(place_id) is None:
            raise NotFound("place_id", f"no place {place_id}")
        if not self.store.retire_place(place_id, actor, now):
            raise Conflict("place_id", f"place {place_id} is already retired · 该地点二维码已停用")
        self._record.append_audit(now, actor, "place.retire", f"place:{place_id}", {})
        found = self.store.place(place_id)
        assert found is not None
        return found

    def scanned(self, token: str) -> Place:
        """The place a scanned code names; an unknown code (another school's, made up) or a retired one: 404."""
        place = self.store.place_by_token(token)
        if place is None or place.retired_at is not None:
            raise NotFound("token", "no place has this code · 二维码无效或已停用")
        return place

    def seen(self, place: Place, actor: str, now: float | None = None) -> PlaceScan:
        """A signed-in person opened a place's code: when and where is on the record (walking the route);
        the scan opens that place's lines of the checklists in progress."""
        now = self._clock() if now is None else now
        scan = self.store.add_scan(place, actor, now)
        self._record.append_audit(now, actor, "place.scan", f"place:{place.id}", {"name": place.name,
                                                                                 "scan": scan.id})
        return scan

    def _source(self, address: str) -> str:
        return hashlib.sha256(f"{self._salt}:{address}".encode()).hexdigest()[:24]

    def report(self, token: str, category: Category, text: str, address: str,
                    now: float | None = None) -> ScanReport:
        """Keep a report from a place's code by someone not signed in, within the school's bounds.

        Refused (``ScanRefused``) when the school has not turned it on, when the address or the place
        sent too many in the last hour, or when too many wait to be triaged. Kept as plain text;
        it opens no work order until a staff member files it.
        """
        now = self._clock() if now is None else now
        place = self.scanned(token)
        text = typed("text", text, lines=True)
        if not text:
            raise FieldError("text", "say what is wrong · 请写明问题")
        limits = self.config.scan_reports
        report_id, refusal = self.store.add_scan_report(
            place.id, category, text, self._source(address), now,
            lambda counts: rules.scan_refusal(limits.enabled, counts.by_source, counts.by_place, counts.pending,
                                              limits))
        if refusal is not None or report_id is None:
            # Debug only: a flood of refused reports must not become a flood in the log.
            _LOGGER.debug("report by scan at place %s refused: %s", place.id, refusal)
            raise ScanRefused(refusal or ScanRefusal.QUEUE)
        self._record.append_audit(now, SCAN_ACTOR, "scan.report", f"place:{place.id}", {"report": report_id,
                                                                               "category": category.value})
        found = self.store.scan_report(report_id)
        assert found is not None
        return found

    def pending(self) -> list[ScanReport]:
        """Reports from scans waiting to be triaged, oldest first."""
        return self.store.scan_reports(ScanState.PENDING)

    def _report(self, report_id: int) -> ScanReport:
        found = self.store.scan_report(report_id)
        if found is None:
            raise NotFound("report_id", f"no report {report_id}")
        return found

    def file(self, report_id: int, title: str, urgency: Urgency, actor: str, category: Category | None = None,
                  now: float | None = None) -> int:
        """Make a report from a scan into a work order, reported by the person who triaged it; its id."""
        now = self._clock() if now is None else now
        report = self._report(report_id)
        place = self.store.place(report.place_id)
        title = typed("title", title) or report.text[:80]
        order = NewOrder(title, place.name if place else "", f"扫码上报 #{report.id}：{report.text}", urgency,
                         rules.order_due_at(now, urgency, self.config.order_due_h),
                         category=category or report.category)
        order_id = self.store.triage_scan(report_id, ScanState.FILED, actor, now, "", order)
        if not order_id:
            raise Conflict("report_id", f"report {report_id} was triaged already · 该上报已处理")
        self._record.append_audit(now, actor, "scan.file", f"scan:{report_id}", {"order": order_id})
        self._record.append_audit(now, actor, "order.report", order_subject(order_id),
                                  {"title": title, "place": order.place, "urgency": urgency.value,
                                   "category": order.category.value, "scan": report_id})
        return order_id

    def dismiss(self, report_id: int, reason: str, actor: str, now: float | None = None) -> ScanReport:
        now = self._clock() if now is None else now
        self._report(report_id)
        reason = typed("reason", reason)
        if not reason:
            raise FieldError("reason", "say why it is not a hazard · 请写明原因")
        if self.store.triage_scan(report_id, ScanState.DISMISSED, actor, now, reason, None) is None:
            raise Conflict("report_id", f"report {report_id} was triaged already · 该上报已处理")
        self._record.append_audit(now, actor, "scan.dismiss", f"scan:{report_id}", {"reason": reason})
        return self._report(report_id)
