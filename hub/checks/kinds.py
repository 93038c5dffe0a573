"""The vocabulary of checklists and work orders as ``StrEnum``s (stored, sent and shown as their text)."""

from __future__ import annotations

from enum import StrEnum


class Cadence(StrEnum):
    """How often a checklist is due: 日巡视 / 周排查 / 月总查."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class DayRule(StrEnum):
    """Which days a checklist runs on (a weekly or monthly one falls due on the last such day of its period)."""

    #: School days of the school calendar (holidays and swapped working days included).
    SCHOOL = "school"
    #: Days the canteen serves (school days plus the samples' extra open days, minus closed ones).
    CANTEEN = "canteen"
    #: Every day (the gate's night round).
    EVERY = "every"


class ItemKind(StrEnum):
    YES_NO = "yes_no"
    #: A number with a range (e.g. a cooked dish's core temperature ≥ 70 °C); outside it is a failure.
    NUMBER = "number"
    TEXT = "text"


class Answer(StrEnum):
    #: 合格 / 正常.
    OK = "ok"
    #: 不合格 / 有隐患: needs a note, and opens a hazard.
    FAIL = "fail"
    #: 不适用 (the item does not apply today).
    NA = "na"


class AutoSource(StrEnum):
    """Hub data that answers an item by itself (the person confirms, or overrides with a reason)."""

    #: Every refrigerator (profile ``fridge``) within its band today.
    FRIDGES = "fridges"
    #: Every freezer (profile ``freezer``) within its band today.
    FREEZERS = "freezers"
    #: Every meal served so far today sampled, every dish at the minimum weight.
    SAMPLES = "samples"
    #: Every closing sweep of the gate duty so far today found the gates closed.
    GATES = "gates"


class Urgency(StrEnum):
    """A hazard's urgency: sets the work order's due time (``checks.order_due_h``)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class OrderState(StrEnum):
    """A work order's state: 发现 → 上报 (reported) → 处理 (assigned, fixed) → 验收 (accepted)."""

    REPORTED = "reported"
    ASSIGNED = "assigned"
    FIXED = "fixed"
    ACCEPTED = "accepted"
    #: The fix was not accepted: back to the assignee, with the reason.
    REOPENED = "reopened"


class Category(StrEnum):
    """What a hazard or a repair is about (the board and the report group by it)."""

    ELECTRICAL = "electrical"
    WATER = "water"
    DOOR_LOCK = "door_lock"
    BUILDING = "building"
    EQUIPMENT = "equipment"
    CANTEEN = "canteen"
    FIRE = "fire"
    OTHER = "other"


class ScanState(StrEnum):
    """A report sent by scanning a place's code without signing in: waits for a staff member to triage it."""

    PENDING = "pending"
    #: Made into a work order by the person who triaged it.
    FILED = "filed"
    #: Not a hazard (a test, a joke, a duplicate): kept with the reason.
    DISMISSED = "dismissed"


class ScanRefusal(StrEnum):
    """Why a report from a scan without signing in was not taken (each a page in Chinese and English)."""

    #: The school has not turned reporting by scan on (``checks.scan_reports.enabled``).
    CLOSED = "closed"
    #: Too many reports from this address in the last hour.
    ADDRESS = "address"
    #: Too many reports for this place in the last hour.
    PLACE = "place"
    #: Too many reports waiting to be triaged: the queue is full until someone looks at it.
    QUEUE = "queue"


class OrderAction(StrEnum):
    ASSIGN = "assign"
    FIX = "fix"
    ACCEPT = "accept"
    REOPEN = "reopen"
    NOTE = "note"


#: States someone still has to work on (their due time counts).
OPEN_ORDER_STATES: tuple[OrderState, ...] = (OrderState.REPORTED, OrderState.ASSIGNED, OrderState.REOPENED)
