"""Who may do what: the six roles of a school and the permissions each holds.

The server checks these on every route (``hub.auth.deps.require``); pages only hide
what a role cannot do, they never decide it. Reading the dashboards needs no more
than being signed in — a gatekeeper may see that a fridge is warm — but changing
anything is granted per role.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CANTEEN_STAFF = "canteen_staff"  # 食堂员工
    CANTEEN_MANAGER = "canteen_manager"  # 食堂负责人
    GATEKEEPER = "gatekeeper"  # 门卫
    SAFETY_OFFICER = "safety_officer"  # 安全员 / 食品安全管理员
    ADMIN = "admin"  # 系统管理员
    TEACHER = "teacher"  # 教师 / 班主任: invites visitors, issues leave slips for the classes they head


class Permission(StrEnum):
    VIEW = "view"  # dashboards, readings, alarms, samples, gates, devices
    ALERT_ACK = "alert.ack"  # acknowledge an alarm
    ALERT_CLOSE = "alert.close"  # record the corrective action
    ALERT_VERIFY = "alert.verify"  # verify a corrective action (验收)
    SAMPLE_LOG = "sample.log"  # log a meal's samples, print labels
    SAMPLE_DISCARD = "sample.discard"  # discard samples (and review them)
    LIMITS_EDIT = "limits.edit"  # sensors' limits (inside the regulatory band; beyond it, a proposal)
    LIMITS_APPROVE = "limits.approve"  # approve another person's limits beyond the regulatory band
    SILENCE_EDIT = "silence.edit"  # maintenance silences, within the scopes below
    SILENCE_CANTEEN = "silence.canteen"  # … of cold-chain subjects (fridges, freezers, their doors, samples)
    SILENCE_GATE = "silence.gate"  # … of gate subjects (gates, tamper switches, patrol rounds)
    SILENCE_ALL = "silence.all"  # … of everything at once (subject "*")
    CALENDAR_EDIT = "calendar.edit"  # overrides of the school calendar
    REPORT_VIEW = "report.view"  # weekly / daily / monthly reports, CSV
    REPORT_SIGN = "report.sign"  # sign off a report
    AUDIT_VIEW = "audit.view"  # the audit log
    CHECK_FILL = "check.fill"  # fill in a checklist (日巡视 / 周排查 / 月总查, the daily food-safety record)
    HAZARD_REPORT = "hazard.report"  # report a hazard or a repair, add a note to a work order
    ORDER_FIX = "order.fix"  # record the fix of a work order (after-photos, what was done)
    ORDER_ASSIGN = "order.assign"  # assign a work order to a person, with a due time
    # accept (验收) or reopen any fixed work order (a reporter may their own) — never one's own fix
    ORDER_ACCEPT = "order.accept"
    VISITOR_REGISTER = "visitor.register"  # the gate register: visitors in and out, pupils out and back, details
    VISITOR_ANSWER = "visitor.answer"  # let in or turn away a visitor waiting at the gate for oneself (the host)
    VISITOR_INVITE = "visitor.invite"  # pre-register an expected visitor (one is then their host)
    LEAVE_ISSUE = "leave.issue"  # issue a leave slip (离校单) for a pupil of a class one heads
    CHECK_EDIT = "check.edit"  # checklist templates, places and their QR codes
    ADMIN = "admin"  # users, tokens, devices, channels, test messages


_EVERYONE = {Permission.VIEW, Permission.ALERT_ACK, Permission.ALERT_CLOSE, Permission.CHECK_FILL,
             Permission.HAZARD_REPORT, Permission.ORDER_FIX, Permission.VISITOR_ANSWER}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.CANTEEN_STAFF: frozenset(_EVERYONE | {Permission.SAMPLE_LOG, Permission.SAMPLE_DISCARD}),
    Role.CANTEEN_MANAGER: frozenset(_EVERYONE | {
        Permission.SAMPLE_LOG, Permission.SAMPLE_DISCARD, Permission.LIMITS_EDIT, Permission.SILENCE_EDIT,
        Permission.SILENCE_CANTEEN, Permission.REPORT_VIEW, Permission.ORDER_ASSIGN, Permission.ORDER_ACCEPT,
        Permission.VISITOR_INVITE}),
    Role.GATEKEEPER: frozenset(_EVERYONE | {Permission.VISITOR_REGISTER}),
    Role.SAFETY_OFFICER: frozenset(_EVERYONE | {
        Permission.ALERT_VERIFY, Permission.SAMPLE_DISCARD, Permission.LIMITS_APPROVE, Permission.SILENCE_EDIT,
        Permission.SILENCE_CANTEEN, Permission.SILENCE_GATE, Permission.SILENCE_ALL, Permission.CALENDAR_EDIT,
        Permission.REPORT_VIEW, Permission.REPORT_SIGN, Permission.AUDIT_VIEW, Permission.ORDER_ASSIGN,
        Permission.ORDER_ACCEPT, Permission.VISITOR_REGISTER, Permission.VISITOR_INVITE, Permission.CHECK_EDIT}),
    Role.ADMIN: frozenset(Permission),
    Role.TEACHER: frozenset(_EVERYONE | {Permission.VISITOR_INVITE, Permission.LEAVE_ISSUE}),
}


def allows(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in GRANTS[role]
