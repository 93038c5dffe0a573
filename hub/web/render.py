"""Pages from jinja2 templates, with what every page needs: the language, the user, the nav, the CSRF token.

The templates autoescape everything (a dish named ``<script>`` shows as text); the
pages carry no inline script, so the hub's Content-Security-Policy forbids them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.alerts.kinds import AlertKind, AlertState, Severity
from hub.auth.deps import csrf_token
from hub.auth.roles import Permission, Role, allows
from hub.auth.users import User
from hub.web import i18n

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
LANG_COOKIE = "xiaoan_lang"

#: The views, in nav order: (path, catalog key, permission needed to see it).
VIEWS: tuple[tuple[str, str, Permission], ...] = (
    ("/canteen", "nav.canteen", Permission.VIEW),
    ("/gate", "nav.gate", Permission.VIEW),
    ("/safety", "nav.safety", Permission.VIEW),
    ("/checks", "nav.checks", Permission.VIEW),
    ("/visitors", "nav.visitors", Permission.VIEW),
    ("/admin", "nav.admin", Permission.ADMIN),
)
HOME: dict[Role, str] = {Role.CANTEEN_STAFF: "/canteen", Role.CANTEEN_MANAGER: "/canteen",
                         Role.GATEKEEPER: "/gate", Role.SAFETY_OFFICER: "/safety", Role.ADMIN: "/admin",
                         Role.TEACHER: "/visitors"}
#: Words the page scripts show (the rest of the page is rendered here).
SCRIPT_KEYS = ("state.ok", "state.high", "state.low", "state.fault", "state.unknown", "state.open", "state.closed",
               "live.connected", "live.offline", "common.done", "common.loading", "limits.saved", "limits.pending",
               "admin.test_sent", "canteen.logged", "common.forbidden", "common.remaining", "admin.new_password",
               "account.mismatch", "account.changed", "alert.recorded", "attention.enable", "attention.enabled",
               "attention.title", "night.on", "night.off", "defaults.bad_window", "admin.enrol_ready",
               "calibration.proposal", "calibration.pass", "calibration.fail", "calibration.sent",
               "calibration.queued", "calibration.not_sent")

#: The badge icon beside each alert state's word (colour is never the only sign).
ALERT_STATE_ICONS: dict[AlertState, str] = {
    AlertState.FIRING: "⚠", AlertState.PENDING: "…", AlertState.ACKNOWLEDGED: "☑", AlertState.RESOLVED: "✔",
    AlertState.CLOSED: "✎", AlertState.VERIFIED: "✔✔", AlertState.CANCELLED: "✕"}
#: Alert states someone still has to act on, in the order the pages list them.
LISTED_STATES: tuple[AlertState, ...] = (AlertState.FIRING, AlertState.PENDING, AlertState.ACKNOWLEDGED,
                                         AlertState.RESOLVED)
#: States the safety page's history can be filtered by (pending is not history yet).
HISTORY_STATES: tuple[AlertState, ...] = (AlertState.FIRING, AlertState.ACKNOWLEDGED, AlertState.RESOLVED,
                                          AlertState.CLOSED, AlertState.VERIFIED, AlertState.CANCELLED)


def locale_of(request: Request, user: User | None) -> str:
    return i18n.choose(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                       user.locale if user is not None else None)


def _as_is(username: str) -> str:
    return username


class Renderer:
    def __init__(self, tz: ZoneInfo, banner: str = "", person: Callable[[str], str] = _as_is) -> None:
        self.tz = tz
        #: The hub's one-line notice (the demo says that it shortened the alarm delay).
        self.banner = banner
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters["local"] = self._local
        self.env.filters["hm"] = self._hm
        self.env.filters["num"] = _num
        #: How a page names the account that did something: display name with username (hub.auth.users.attribution).
        self.env.globals["person"] = person
        # The alert vocabulary the templates name: the catalog has a word for each (a test checks).
        self.env.globals.update(AlertState=AlertState, AlertKind=AlertKind, ALERT_STATE_ICONS=ALERT_STATE_ICONS,
                                HISTORY_STATES=HISTORY_STATES, LISTED_STATES=LISTED_STATES,
                                ALERT_KINDS=frozenset(AlertKind), SEVERITIES=frozenset(Severity))

    def _local(self, ts: float | None, fmt: str = "%m-%d %H:%M") -> str:
        return dt.datetime.fromtimestamp(ts, self.tz).strftime(fmt) if ts else "—"

    def _hm(self, ts: float | None) -> str:
        return self._local(ts, "%H:%M")

    def context(self, request: Request, user: User | None) -> dict[str, Any]:
        """What every page needs; ``user`` is None on the sign-in page (no nav, no live stream)."""
        lang = locale_of(request, user)
        t = i18n.translator(lang)

        def can(permission: str) -> bool:
            return user is not None and allows(user.role, Permission(permission))

        other = "en" if lang == "zh-CN" else "zh-CN"
        # The switch keeps the rest of the address (the sign-in page's next, the safety page's filters).
        switched = request.url.remove_query_params("part").include_query_params(lang=other)
        return {
            "request": request, "user": user, "lang": lang, "t": t, "can": can, "banner": self.banner,
            "csrf": csrf_token(request) if user is not None else "", "path": request.url.path,
            "nav": [(path, t(key)) for path, key, permission in VIEWS
                    if user is not None and allows(user.role, permission)],
            "other_lang": other, "lang_href": f"{switched.path}?{switched.query}",
            "script_words": json.dumps({key: t(key) for key in SCRIPT_KEYS}, ensure_ascii=False),
            # The page script shows times in the school's zone, never the browser's.
            "tz_name": self.tz.key,
        }

    def render(self, template: str, request: Request, user: User | None, *, status_code: int = 200,
               headers: dict[str, str] | None = None, **data: Any) -> HTMLResponse:
        context = self.context(request, user)
        html = self.env.get_template(template).render(**context, **data)
        # The Content-Security-Policy (no inline script) and no-store come from hub.auth.headers.
        response = HTMLResponse(html, status_code=status_code, headers=headers)
        chosen = request.query_params.get("lang")
        if chosen and i18n.normalize(chosen) is not None:
            response.set_cookie(LANG_COOKIE, context["lang"], max_age=365 * 86400, samesite="lax", httponly=True)
        return response


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
