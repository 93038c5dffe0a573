"""Every route is checked by the server: walked from ``app.routes``, so a new route cannot slip through."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.responses import StreamingResponse
from starlette.routing import Mount

from hub.auth.deps import Require, current_user
from hub.auth.roles import Permission, Role, allows
from hub.runtime import Hub
from tests.hub.auth_helpers import bearer

#: Open without credentials: liveness for watchdogs, the login form, the API's description.
#: A new device's config is fetched with its one-time enrolment token, which is the credential.
PUBLIC = {("GET", "/api/health"), ("GET", "/login"), ("POST", "/login"), ("GET", "/openapi.json"),
          ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
          ("GET", "/api/devices/enrol/{token}"),
          # The school CA's certificate a new device trusts the broker by: public, like any certificate.
          ("GET", "/api/devices/ca.crt"),
          # One-tap alarm links: the token (or the alarm-scoped cookie it set) is the credential (hub.api.links).
          ("GET", "/link/{alert_id}"), ("POST", "/link/{alert_id}/acknowledge"), ("POST", "/link/{alert_id}/actions"),
          ("GET", "/link/{alert_id}/{token}"), ("POST", "/link/{alert_id}/{token}"),
          # A place's QR code: the token names the place; strangers may only report, bounded (hub.api.places).
          ("GET", "/q/{token}"), ("POST", "/q/{token}")}

#: What the routes that change things (or read the audit log) must demand.
EXPECTED = {
    ("POST", "/api/alerts/{alert_id}/acknowledge"): Permission.ALERT_ACK,
    ("POST", "/api/alerts/{alert_id}/close"): Permission.ALERT_CLOSE,
    ("POST", "/api/alerts/{alert_id}/verify"): Permission.ALERT_VERIFY,
    ("POST", "/api/silences"): Permission.SILENCE_EDIT,
    ("DELETE", "/api/silences/{silence_id}"): Permission.SILENCE_EDIT,
    ("PUT", "/api/sensors/{device}/{sensor}/limits"): Permission.LIMITS_EDIT,
    ("POST", "/api/limits/proposals/{proposal_id}/approve"): Permission.LIMITS_APPROVE,
    ("POST", "/api/limits/proposals/{proposal_id}/reject"): Permission.LIMITS_APPROVE,
    ("POST", "/api/calendar/overrides"): Permission.CALENDAR_EDIT,
    ("DELETE", "/api/calendar/overrides/{override_id}"): Permission.CALENDAR_EDIT,
    ("GET", "/api/audit"): Permission.AUDIT_VIEW,
    ("GET", "/api/audit/verify"): Permission.AUDIT_VIEW,
    ("POST", "/api/samples"): Permission.SAMPLE_LOG,
    ("POST", "/api/places"): Permission.CHECK_EDIT,
    ("POST", "/api/places/{place_id}/retire"): Permission.CHECK_EDIT,
    ("POST", "/api/scan-reports/{report_id}/file"): Permission.ORDER_ASSIGN,
    ("POST", "/api/scan-reports/{report_id}/dismiss"): Permission.ORDER_ASSIGN,
    ("POST", "/api/samples/{record_id}/discard"): Permission.SAMPLE_DISCARD,
    ("POST", "/api/samples/{record_id}/people"): Permission.SAMPLE_DISCARD,
    ("GET", "/api/users"): Permission.ADMIN,
    ("POST", "/api/users"): Permission.ADMIN,
    ("PATCH", "/api/users/{user_id}"): Permission.ADMIN,
    ("POST", "/api/users/{user_id}/password"): Permission.ADMIN,
    ("GET", "/api/alerts"): Permission.VIEW,
    ("GET", "/api/readings"): Permission.VIEW,
    ("GET", "/api/deadletters"): Permission.VIEW,
    ("GET", "/metrics"): Permission.VIEW,
    ("GET", "/samples/daily"): Permission.VIEW,
    ("POST", "/api/checks/{template}"): Permission.CHECK_FILL,
    ("POST", "/api/workorders"): Permission.HAZARD_REPORT,
    ("POST", "/api/workorders/{order_id}/assign"): Permission.ORDER_ASSIGN,
    ("POST", "/api/workorders/{order_id}/fix"): Permission.ORDER_FIX,
    # The reporter accepts or reopens their own report's fix; the safety group (order.accept) any (the service checks).
    ("POST", "/api/workorders/{order_id}/accept"): Permission.HAZARD_REPORT,
    ("POST", "/api/workorders/{order_id}/reopen"): Permission.HAZARD_REPORT,
    ("POST", "/api/workorders/{order_id}/start"): Permission.ORDER_FIX,
    ("POST", "/api/checks/{template}/lines"): Permission.CHECK_FILL,
    ("POST", "/api/checks/runs/{run_id}/items/{item}/reject"): Permission.ORDER_ACCEPT,
    ("POST", "/api/checks/rejections/{rejection_id}/refill"): Permission.CHECK_FILL,
    ("POST", "/api/workorders/{order_id}/notes"): Permission.HAZARD_REPORT,
    ("POST", "/api/workorders/{order_id}/photos"): Permission.HAZARD_REPORT,
    ("GET", "/checks"): Permission.VIEW,
    ("POST", "/api/calibration/{device}/{sensor}/checks"): Permission.ADMIN,
    ("POST", "/api/calibration/checks/{check_id}/certificate"): Permission.ADMIN,
    ("GET", "/api/calibration/{device}/{sensor}/proposal"): Permission.ADMIN,
    ("GET", "/api/calibration"): Permission.VIEW,
    ("POST", "/api/visitors"): Permission.VISITOR_REGISTER,
    ("POST", "/api/visitors/{visit_id}/check-in"): Permission.VISITOR_REGISTER,
    ("POST", "/api/visitors/{visit_id}/check-out"): Permission.VISITOR_REGISTER,
    ("POST", "/api/visitors/{visit_id}/answer"): Permission.VISITOR_ANSWER,
    ("POST", "/api/visitors/{visit_id}/again"): Permission.VISITOR_REGISTER,
    ("POST", "/api/visitors/invitations"): Permission.VISITOR_INVITE,
    ("PUT", "/api/visitors/classes/{username}"): Permission.ADMIN,
    ("POST", "/api/leaves"): Permission.LEAVE_ISSUE,
    ("POST", "/api/leaves/without-slip"): Permission.VISITOR_REGISTER,
    ("POST", "/api/leaves/{leave_id}/out"): Permission.VISITOR_REGISTER,
    ("POST", "/api/leaves/{leave_id}/back"): Permission.VISITOR_REGISTER,
    ("GET", "/api/visitors/today"): Permission.VISITOR_REGISTER,
    ("GET", "/api/visitors/register/day"): Permission.VISITOR_REGISTER,
    ("GET", "/api/visitors/register/month"): Permission.VISITOR_REGISTER,
}


def _dependencies(dependant: Dependant) -> Iterator[object]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependencies(sub)


def _is_api(route: RouteContext) -> bool:
    return isinstance(route.original_route, APIRoute)


def _permissions(route: RouteContext) -> set[Permission]:
    """Every permission a route demands, from its own and its router's dependencies."""
    dependant: Dependant = route.dependant
    return {call.permission for call in _dependencies(dependant) if isinstance(call, Require)}


def _streams(route: RouteContext) -> bool:
    response_class = getattr(route, "response_class", None)
    return isinstance(response_class, type) and issubclass(response_class, StreamingResponse)


def _signed_in(route: RouteContext) -> bool:
    return current_user in set(_dependencies(route.dependant))


def _endpoints(client: TestClient) -> list[tuple[str, str, RouteContext]]:
    found: list[tuple[str, str, RouteContext]] = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route.original_route, Mount):
            continue  # static files
        assert route.path is not None
        found.extend((method, route.path, route) for method in sorted(route.methods or ()) if method != "HEAD")
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_the_public_ones_refuses_anonymous_requests(client: TestClient) -> None:
    checked = 0
    for method, path, _ in _endpoints(client):
        if (method, path) in PUBLIC:
            continue
        response = client.request(method, _concrete(path), headers={"Accept": "application/json"})
        assert response.status_code == 401, (method, path, response.status_code, response.text[:200])
        checked += 1
    assert checked >= 40


def test_public_routes_answer_without_credentials(client: TestClient) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    # No token, an unknown one: refused as not found, never as a page that asks for a sign-in.
    assert client.get("/api/devices/enrol/" + "x" * 43).status_code == 404


def test_every_write_route_demands_more_than_being_signed_in(client: TestClient) -> None:
    """A route that changes something names its permission; ``view`` alone is for reading."""
    for method, path, route in _endpoints(client):
        if (method, path) in PUBLIC or not _is_api(route):
            continue
        permissions = _permissions(route)
        assert permissions or _signed_in(route), (method, path)
        if (method, path) in EXPECTED:
            assert EXPECTED[(method, path)] in permissions, (method, path, permissions)
        own_account = path.startswith(("/api/me", "/api/tokens", "/logout"))
        if method != "GET" and not own_account:
            assert permissions - {Permission.VIEW}, f"{method} {path} needs a permission beyond view"


def test_expected_table_matches_real_routes(client: TestClient) -> None:
    routes = {(method, path) for method, path, _ in _endpoints(client)}
    assert set(EXPECTED) <= routes


@pytest.mark.parametrize("role", list(Role))
def test_each_role_against_each_permission_bearing_route(client: TestClient, hub: Hub, role: Role) -> None:
    """403 exactly when the role lacks a permission the route demands; otherwise never 401/403."""
    _, headers = bearer(hub, role)
    headers["Accept"] = "application/json"
    for method, path, route in _endpoints(client):
        if (method, path) in PUBLIC or not _is_api(route) or path == "/logout" or (method, path) == (
                "DELETE", "/api/tokens/{token_id}"):  # would revoke the token making these requests
            continue
        permissions = _permissions(route)
        allowed = all(allows(role, p) for p in permissions)
        if allowed and _streams(route):
            continue  # an event stream answers for as long as the client listens
        response = client.request(method, _concrete(path), headers=headers)
        if allowed:
            assert response.status_code not in (401, 403), (role, method, path, response.text[:200])
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)


def test_html_pages_send_people_to_the_login_form(client: TestClient) -> None:
    response = client.get("/samples/daily?date=2026-10-12", headers={"Accept": "text/html"},
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsamples%2Fdaily%3Fdate%3D2026-10-12"
    api = client.get("/api/alerts", headers={"Accept": "text/html"}, follow_redirects=False)
    assert api.status_code == 401  # programs get an answer they can read, not a form


def test_roles_reaching_above_themselves(client: TestClient, hub: Hub) -> None:
    _, gatekeeper = bearer(hub, Role.GATEKEEPER)
    _, staff = bearer(hub, Role.CANTEEN_STAFF)
    verify = client.post("/api/alerts/1/verify", json={}, headers=gatekeeper)
    assert verify.status_code == 403 and "alert.verify" in verify.json()["detail"]
    assert client.post("/api/users", json={"username": "x1", "role": "admin"}, headers=staff).status_code == 403
    assert client.get("/api/users", headers=staff).status_code == 403
    assert client.get("/api/audit", headers=staff).status_code == 403
    assert client.get("/api/tokens", params={"all": "true"}, headers=staff).status_code == 403
