"""The vocabulary of checklists and work orders as ``StrEnum``s (stored, sent and shown as their text)."""

from __future__ import annotations

from enum import StrEnum


class Cadence(StrEnum):
    """How often a checklist is due: 日巡视 / 周排查 / 月总查."""

    #: Each day it runs on (日巡视, 日管控).
    DAILY = "daily"
    #: Once a week, on the week's last day it runs on (周排查).
    WEEKLY = "weekly"
    #: Once a month, on the month's last day it runs on (月总查, 月调度).
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
    """What a checklist's line asks for (the page shows the matching field; the record prints it)."""

    #: 合格 / 不合格 / 不适用.
    YES_NO = "yes_no"
    #: A number with a range (e.g. a cooked dish's core temperature ≥ 70 °C); outside it is a failure.
    NUMBER = "number"
    #: One of the template's options; some options may count as a failure (``fail_options``).
    CHOICE = "choice"
    #: Free text (a week's summary, the next month's plan).
    TEXT = "text"
    #: A photo taken on the spot is the answer (the page opens the camera, not the gallery).
    PHOTO = "photo"
    #: A signature drawn on the page, kept as a PNG photo; the record prints 已签名 with who and when.
    SIGNATURE = "signature"


class Answer(StrEnum):
    """What a line stands for once answered (a number or a choice is judged into one of these)."""

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

    #: 紧急: 24 h to fix by default; its overdue alarm is critical.
    HIGH = "high"
    #: 一般: 72 h by default.
    NORMAL = "normal"
    #: 不急: 7 days by default.
    LOW = "low"


class OrderState(StrEnum):
    """A work order's state: 发现 → 上报 (reported) → 处理 (assigned, in progress, fixed) → 验收 (accepted)."""

    #: Reported, waiting to be assigned.
    REPORTED = "reported"
    #: Given to a person, with a due time by its urgency.
    ASSIGNED = "assigned"
    #: The assignee has started on it.
    IN_PROGRESS = "in_progress"
    #: Done, waiting for 验收 by the reporter or the safety group.
    FIXED = "fixed"
    #: Accepted: closed (it takes notes only).
    ACCEPTED = "accepted"
    #: The fix was not accepted: back to the assignee, with the reason.
    REOPENED = "reopened"


class Category(StrEnum):
    """What a hazard or a repair is about (the board and the report group by it)."""

    #: 电气: wiring, sockets, switchboards, lights.
    ELECTRICAL = "electrical"
    #: 水管/漏水: pipes, taps, leaks, drains.
    WATER = "water"
    #: 门锁: doors, locks, gates, windows' catches.
    DOOR_LOCK = "door_lock"
    #: 校舍: walls, roofs, railings, floors, stairs.
    BUILDING = "building"
    #: 设备: equipment other than the kitchen's (projectors, sports gear, lab benches).
    EQUIPMENT = "equipment"
    #: 食堂: the canteen and its kitchen equipment.
    CANTEEN = "canteen"
    #: 消防: extinguishers, hydrants, exits, emergency lights.
    FIRE = "fire"
    #: 其他.
    OTHER = "other"


class ScanState(StrEnum):
    """A report sent by scanning a place's code without signing in: waits for a staff member to triage it."""

    #: Waiting to be triaged.
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
    """A step someone takes on a work order (each audited; ``rules.TRANSITIONS`` says from which state)."""

    #: Give it to a person, with a due time.
    ASSIGN = "assign"
    #: The fixer has started on it.
    START = "start"
    #: The fix is done (what was done, after-photos).
    FIX = "fix"
    #: 验收通过, by someone other than the fixer.
    ACCEPT = "accept"
    #: 验收不通过, with the reason.
    REOPEN = "reopen"
    #: A note; changes no state.
    NOTE = "note"


#: States someone still has to work on (their due time counts).
OPEN_ORDER_STATES: tuple[OrderState, ...] = (OrderState.REPORTED, OrderState.ASSIGNED, OrderState.IN_PROGRESS,
                                             OrderState.REOPENED)
