"""The web app's pages: a view per role, rendered on the hub, kept live by ``/static/app.js``.

``?part=NAME`` answers one section of a view (the same template the page includes),
which the page script fetches when the live stream says that section changed — one
place renders every section, in the user's language.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.alerts.engine import AlertEngine
from hub.api.admin_channels import public_rota, public_settings, rota_gaps
from hub.api.admin_setup import public_setup
from hub.api.checks import WorkOrderPublic, rejection_public, scan_report_public, templates_public
from hub.api.deps import (
    AccountsDep,
    AlertsDep,
    CalibrationDep,
    ChecksDep,
    EnrolmentDep,
    GateDep,
    NotifySettingsDep,
    PhotoRootDep,
    PipelineStatusDep,
    ReportsDep,
    RowId,
    SamplesDep,
    SchoolSetupDep,
    SeriesDep,
    SettingsDep,
    StateDep,
    TzDep,
    VisitorsDep,
)
from hub.api.visitors import LeavePublic, VisitPublic
from hub.auth.deps import CurrentUser, require
from hub.auth.roles import Permission, Role, allows
from hub.auth.users import User, attribution
from hub.checks import rules as check_rules
from hub.checks.config import TemplateConfig
from hub.checks.kinds import OPEN_ORDER_STATES, Cadence, Category, ItemKind, OrderState
from hub.errors import FieldError, NotFound
from hub.gate.monitor import GateMonitor
from hub.notify.channel_forms import FORM_KINDS
from hub.setup.model import ColdProfile, SensorRole
from hub.store.state import StateStore
from hub.web import views
from hub.web.render import HOME, Renderer
from hub.web.sparks import HourlyCache

router = APIRouter(tags=["pages"], include_in_schema=False)

Viewer = Annotated[User, Depends(require(Permission.VIEW))]
Admin = Annotated[User, Depends(require(Permission.ADMIN))]
#: The sections of each view that can be fetched alone.
PARTS = {"checks": ("board",), "visitors": ("book",),
         "canteen": ("tiles", "alarms", "samples", "silences"), "gate": ("defaults", "gates", "alarms", "patrols"),
         "safety": ("history", "verify", "health", "silences", "calendar", "defaults"),
         "admin": ("devices", "sensors", "silences", "calendar", "defaults", "setup_sensors", "setup_calendar",
                   "setup_patrols")}
#: Work orders the checks page shows at first (overdue first); the rest behind a link.
BOARD_ORDERS = 40
#: The default escalation routes, which the page names in words (others show their id).
KNOWN_ROUTES = ("canteen", "canteen_manager", "safety_officer", "gatekeeper", "admin")
#: Sections shown only to a role that may change what they list.
PART_PERMISSIONS = {"silences": Permission.SILENCE_EDIT, "calendar": Permission.CALENDAR_EDIT}


def renderer(request: Request, tz: TzDep, settings: SettingsDep, accounts: AccountsDep) -> Renderer:
    """The app's one template environment, made on the first page this app serves."""
    found: Renderer | None = getattr(request.app.state, "renderer", None)
    if found is None:

        def person(username: str) -> str:
            """An alert's actor as pages show it: the display name with the username (read when shown)."""
            user = accounts.user_by_name(username) if username else None
            return attribution(user.username, user.display_name) if user is not None else username

        found = request.app.state.renderer = Renderer(tz, settings.banner, person)
    return found


RendererDep = Annotated[Renderer, Depends(renderer)]


def sparks(request: Request) -> HourlyCache:
    """The tiles' hourly means, kept between page loads of this app (``hub.web.sparks``)."""
    found: HourlyCache | None = getattr(request.app.state, "sparks", None)
    if found is None:
        found = request.app.state.sparks = HourlyCache()
    return found


SparksDep = Annotated[HourlyCache, Depends(sparks)]


def _editable(store: StateStore, engine: AlertEngine, gate: GateMonitor, user: User, data: dict[str, Any],
              now: float) -> dict[str, Any]:
    """Silences and calendar overrides for the roles that may change them (the forms come with the lists)."""
    if allows(user.role, Permission.SILENCE_EDIT):
        data.update(views.silences(store, engine))
    if allows(user.role, Permission.CALENDAR_EDIT):
        data.update(views.calendar(engine, gate, now))
    return data


def _page(web: Renderer, request: Request, user: User, view: str, part: str | None, data: dict[str, Any]
          ) -> HTMLResponse:
    if part is None:
        return web.render(f"{view}.html", request, user, view=view, **data)
    needed = PART_PERMISSIONS.get(part)
    if part not in PARTS[view] or (needed is not None and not allows(user.role, needed)):
        raise NotFound("part", f"no section {part!r}")
    return web.render(f"parts/{view}_{part}.html", request, user, view=view, **data)


@router.get("/")
def home(user: CurrentUser) -> RedirectResponse:
    """Each role starts where its work is."""
    return RedirectResponse(HOME[user.role], status_code=303)


@router.get("/canteen", response_class=HTMLResponse)
def canteen(store: StateDep, engine: AlertsDep, series: SeriesDep, samples: SamplesDep, gate: GateDep,
            photo_root: PhotoRootDep, web: RendererDep, cache: SparksDep, request: Request, user: Viewer,
            part: str | None = None) -> Response:
    now = time.time()
    data = views.canteen(store, engine, series, samples, photo_root, now, cache)
    return _page(web, request, user, "canteen", part, _editable(store, engine, gate, user, data, now))


@router.get("/gate", response_class=HTMLResponse)
def gate_page(store: StateDep, engine: AlertsDep, gate: GateDep, photo_root: PhotoRootDep, web: RendererDep,
              request: Request, user: Viewer, part: str | None = None) -> Response:
    return _page(web, request, user, "gate", part, views.gate(store, engine, gate, photo_root, time.time()))


def _day_start(tz: ZoneInfo, day: dt.date | None, offset_days: int = 0) -> float | None:
    if day is None:
        return None
    return dt.datetime.combine(day + dt.timedelta(days=offset_days), dt.time(0), tz).timestamp()


@router.get("/safety", response_class=HTMLResponse)
def safety(
    store: StateDep, engine: AlertsDep, gate: GateDep, reports: ReportsDep, status: PipelineStatusDep,
    photo_root: PhotoRootDep, tz: TzDep, web: RendererDep, request: Request, user: Viewer,
    part: str | None = None,
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
    unit: Annotated[str | None, Query(max_length=130)] = None,
) -> Response:
    now = time.time()
    today = dt.datetime.fromtimestamp(now, tz).date()
    start = from_ or today - dt.timedelta(days=7)
    end = to or today
    if end < start:
        raise FieldError("to", "must not be before from")
    filters = {"since": _day_start(tz, start), "until": _day_start(tz, end, 1), "kind": kind or None,
               "state": state or None, "subject": unit or None}
    week = today.isocalendar()
    monday = today - dt.timedelta(days=today.weekday())
    health = {"mqtt_connected": status.mqtt_connected, "uptime_s": status.uptime_s(now),
              "dead_letters": status.dead_letters, "pipeline": status.counters}
    data = _editable(store, engine, gate, user, views.safety(store, engine, photo_root, health, filters), now)
    data["filters"] = {"from": start.isoformat(), "to": end.isoformat(), "kind": kind or "", "state": state or "",
                       "unit": unit or ""}
    data["week"] = f"{week.year}-W{week.week:02d}"
    data["week_start"], data["week_end"] = monday.isoformat(), (monday + dt.timedelta(days=6)).isoformat()
    # Shown as "第 49 周（11 月 30 日–12 月 6 日）"; the ISO form stays in the form fields the API reads.
    data["week_number"], data["week_monday"], data["week_sunday"] = week.week, monday, monday + dt.timedelta(days=6)
    data["signoffs"] = views.signoffs(reports, "weekly", data["week"])
    return _page(web, request, user, "safety", part, data)


@router.get("/checks", response_class=HTMLResponse)
def checks_page(checks: ChecksDep, accounts: AccountsDep, photo_root: PhotoRootDep, reports: ReportsDep,
                web: RendererDep, request: Request, user: Viewer, part: str | None = None,
                orders_shown: Annotated[Literal["first", "all"], Query(alias="orders")] = "first") -> Response:
    """Today's checklists and the open work orders, phone-first (the board is one section)."""
    now = checks.clock()
    due = checks.due(now)
    # Overdue first, then by due time; a phone shows the first ones, the rest on request (a term can leave hundreds).
    shown, waiting = checks.store.pressing((*OPEN_ORDER_STATES, OrderState.FIXED), OPEN_ORDER_STATES, now,
                                           100_000 if orders_shown == "all" else BOARD_ORDERS)
    orders = [WorkOrderPublic.of(o, now, photo_root) for o in shown]
    # A retry of the same rendered form (a phone on a bad network) is stored once.
    request_ids = {f"{c.key}/{c.period}": secrets.token_hex(8) for c in due}
    people = [info.user for info in accounts.users() if not info.disabled]
    scans = ([scan_report_public(checks, r) for r in checks.places.pending()]
             if allows(user.role, Permission.ORDER_ASSIGN) else [])
    rejected = []
    for rejection in checks.store.open_rejections(user.username):
        shown_line = rejection_public(checks, rejection)
        run = checks.store.run(rejection.run_id)
        asked = TemplateConfig.model_validate_json(run.template_json).item(rejection.item) if run else None
        if asked is not None:
            rejected.append((shown_line, asked))
    today = checks.local_day(now)
    # The food-safety records of today, this week and this month, and their sign-offs (the report sign-off's).
    record_days = [(kind, key, f"records.{kind}", reports.store.signoffs(kind, key))
                   for kind, key in (("daily", today.isoformat()),
                                     ("weekly", check_rules.period_of(Cadence.WEEKLY, today).key),
                                     ("monthly", today.strftime("%Y-%m")))]
    return _page(web, request, user, "checks", part, {"checks": due, "orders": orders, "opened_at": now,
                                                      "rejected": rejected, "records": record_days,
                                                      "request_ids": request_ids, "people": people,
                                                      "now": now, "scans": scans, "places": checks.places.all(),
                                                      "hidden_orders": waiting - len(shown),
                                                      "categories": [c.value for c in Category]})


@router.get("/checks/runs/{run_id}", response_class=HTMLResponse)
def check_review_page(checks: ChecksDep, web: RendererDep, request: Request, run_id: RowId,
                      user: Annotated[User, Depends(require(Permission.ORDER_ACCEPT))]) -> Response:
    """A completed checklist for its reviewer: each line as answered, and ↩ to send one back with the reason."""
    run = checks.store.run(run_id)
    if run is None:
        raise NotFound("run_id", f"no checklist {run_id}")
    template = TemplateConfig.model_validate_json(run.template_json)
    waiting = {r.item: r for r in checks.store.rejections_of(run_id) if r.refilled_at is None}
    texts = {item.key: item.text for item in template.items}
    lines = [(a, texts.get(a.item, a.item), waiting.get(a.item)) for a in run.answers]
    return web.render("check_review.html", request, user, view="checks", run=run, lines=lines)


@router.get("/checks/templates", response_class=HTMLResponse)
def check_templates_page(checks: ChecksDep, web: RendererDep, request: Request,
                         user: Annotated[User, Depends(require(Permission.CHECK_EDIT))]) -> Response:
    """The checklist templates for the safety officer: items, their kinds and order, the schedule."""
    return web.render("checks_templates.html", request, user, view="checks", templates=templates_public(checks),
                      places=checks.places.all(),
                      kinds=[k.value for k in ItemKind], roles=[r.value for r in Role])


@router.get("/visitors", response_class=HTMLResponse)
def visitors_page(book: VisitorsDep, accounts: AccountsDep, web: RendererDep, request: Request, user: Viewer,
                  part: str | None = None, q: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The gate register on a phone: the gate's lists and forms, a host's visitors, a head teacher's slips."""
    now = book.clock()
    today = book.local_day(now)
    gate = allows(user.role, Permission.VISITOR_REGISTER)
    data: dict[str, Any] = {"gate": gate, "today": today.isoformat(), "month": today.strftime("%Y-%m"), "q": q or "",
                            "offset_min": round((dt.datetime.fromtimestamp(now, book.tz).utcoffset() or
                                                 dt.timedelta()).total_seconds() / 60),
                            "start_hm": dt.datetime.fromtimestamp(now, book.tz).strftime("%H:%M"),
                            "until_hm": dt.datetime.fromtimestamp(min(now + 7200, book.day_start(today) + 86_340),
                                                                  book.tz).strftime("%H:%M"),
                            "any_host": user.role in (Role.SAFETY_OFFICER, Role.ADMIN),
                            "keys": {name: secrets.token_hex(8) for name in ("register", "invite", "slip", "exit")}}
    if gate:
        data.update(waiting=[VisitPublic.of(v) for v in book.waiting()],
                    inside=[VisitPublic.of(v) for v in book.inside()],
                    expected=[VisitPublic.of(v) for v in book.expected(today)],
                    slips=[LeavePublic.of(s) for s in book.open_slips()],
                    people=[info.user for info in accounts.users() if not info.disabled])
        try:
            found = book.find(q) if q else []
        except FieldError as error:
            found, data["search_error"] = [], error.message
        data["found"] = [(VisitPublic.of(v), secrets.token_hex(8)) for v in found]
    data["mine"] = [VisitPublic.of(v) for v in book.hosted_by(user.username)]
    data["classes"] = book.classes_of(user.username)
    data["my_slips"] = [LeavePublic.of(s) for s in book.issued_by(user.username)]
    return _page(web, request, user, "visitors", part, data)


@router.get("/admin", response_class=HTMLResponse)
def admin(settings: SettingsDep, store: StateDep, engine: AlertsDep, series: SeriesDep, accounts: AccountsDep,
          gate: GateDep, enrolment: EnrolmentDep, notify: NotifySettingsDep, setup: SchoolSetupDep, web: RendererDep,
          cache: SparksDep, tz: TzDep, request: Request, user: Admin, part: str | None = None) -> Response:
    data = views.admin(settings, store, engine, series, accounts, gate, enrolment, time.time(), cache)
    data.update(setup=public_setup(setup, dt.datetime.now(tz).date()), setup_roles=[r.value for r in SensorRole],
                setup_profiles=[p.value for p in ColdProfile], min_rounds=settings.rules.gate.min_rounds_per_day)
    notify_data = public_settings(notify)
    data["notify"] = notify_data
    data["channel_words"] = {c.name: c.label or c.name for c in notify_data.channels}
    data["channel_kinds"] = [kind.value for kind in FORM_KINDS]
    data["known_routes"] = KNOWN_ROUTES
    now = time.time()
    gaps = rota_gaps(notify, accounts, gate.calendar, now, tz)
    data["rota"] = {route.name: route for route in public_rota(notify, gaps).routes}
    data["rota_choices"] = views.ROTA_CHOICES
    data["rota_choice"] = views.rota_choice
    data.update(views.rota_gaps(gaps))
    return _page(web, request, user, "admin", part, data)


@router.get("/admin/calibration", response_class=HTMLResponse)
def calibration_page(service: CalibrationDep, web: RendererDep, request: Request, user: Admin,
                     probe: Annotated[str | None, Query(max_length=130)] = None) -> Response:
    """Each probe's calibration, and the guided check of one (``?probe=device/sensor``)."""
    probes = service.probes()
    chosen = next((p for p in probes if p.key == probe), None) if probe else None
    if probe and chosen is None:
        raise NotFound("probe", f"no temperature probe {probe!r}")
    return web.render("calibration.html", request, user, view="admin", probes=probes, chosen=chosen,
                      window_s=service.config.window_s, tolerance=service.config.tolerance_c)


@router.get("/account", response_class=HTMLResponse)
def account(web: RendererDep, request: Request, user: CurrentUser) -> Response:
    """One's own account: who one is, and changing one's password."""
    return web.render("account.html", request, user, view="account")


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(store: StateDep, engine: AlertsDep, photo_root: PhotoRootDep, web: RendererDep, request: Request,
               user: Viewer, alert_id: RowId) -> Response:
    """Where a notification's link leads: the alarm, its actions and its photos."""
    found = store.alert(alert_id)
    if found is None:
        raise NotFound("alert_id", f"no alert {alert_id}")
    data: dict[str, Any] = {"alert": views.alert_item(store, engine, photo_root, found),
                            "actions": views.COMMON_ACTIONS, "reasons": views.ACK_REASONS}
    return web.render("alert.html", request, user, view="alert", **data)
