"""Schemathesis against the hub's own OpenAPI spec: whatever a schema allows (and much it does not), no 5xx.

Every operation of ``/openapi.json`` (except the endless event stream) gets generated
requests, valid ones and deliberately invalid ones, with an admin's token, on a hub
that has devices, sensors, readings, alarms and sample records to find. Runs are
bounded and derandomized, so a run is the same run every time. Figures go to
test-artifacts/security.json for docs/security.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case as AnyCase
from schemathesis.schemas import APIOperation

from hub.alerts.kinds import AlertState
from hub.app import create_app
from hub.auth.roles import Role
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from tests.faults.harness import record_figures
from tests.hub.auth_helpers import bearer
from tests.hub.web.conftest import SENSORS, Feed

pytestmark = pytest.mark.slow

Case = AnyCase[APIOperation[Any, Any, Any, Any]]

#: Generated requests per operation and mode; about a minute and a half for the whole spec on two busy cores.
EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 20}
#: An event stream answers for as long as the client listens. A device's config is fetched with a one-time
#: token of 43 random characters: every fuzzed one is a 404 (tests/hub/test_device_enrolment.py tries it).
SKIP = {("GET", "/api/stream"), ("GET", "/api/devices/enrol/{token}")}


@dataclass
class Fuzzed:
    cases: int = 0
    #: Answers by status: the fuzzing must reach the routes, not stop at the door (401).
    answers: dict[str, int] = field(default_factory=dict)
    operations: set[str] = field(default_factory=set)
    #: Operations that answered a 2xx at least once.
    succeeded: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)


class Admin:
    """An admin's token, renewed when a generated request has revoked it or disabled its account."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.headers: dict[str, str] = {}
        self.renew()

    def renew(self) -> None:
        _, self.headers = bearer(self.hub, Role.ADMIN)

    def current(self) -> dict[str, str]:
        user = self.hub.accounts.token_user(self.headers["Authorization"].removeprefix("Bearer "))
        if user is None or user.role is not Role.ADMIN:
            self.renew()
        return self.headers


@pytest.fixture
def populated(tmp_path: Path) -> Iterator[tuple[Hub, TestClient]]:
    """Two devices with sensors and readings, alarms in several states, sample records, notes and a channel."""
    hub = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    try:
        with TestClient(create_app(hub.settings, hub=hub), base_url="http://hub.test") as client:
            for device in ("dev-a", "dev-b"):
                feed = Feed(hub, device)
                feed.status(SENSORS)
                for value in (4.0, 12.5, 4.2):
                    feed.reading("fridge-1", value)
                feed.reading("freezer-1", -18.0)
            feed.reading("fridge-1", 13.0)  # a firing alarm beside the resolved ones
            (resolved, *_) = hub.state.alerts([AlertState.RESOLVED])
            assert resolved.id is not None
            hub.engine.act(resolved.id, "close", "王师傅", "已报修")
            _, admin = bearer(hub, Role.ADMIN)
            for meal in ("breakfast", "lunch"):
                logged = client.post("/api/samples", headers=admin,
                                     json={"meal": meal, "dishes": [{"name": "红烧肉", "weight_g": 150}]})
                assert logged.status_code == 201, logged.text
            # What the newer routes list: a note, an interim action, a channel and an enrolled device's absence.
            (firing,) = hub.state.alerts([AlertState.FIRING])
            for url, body in ((f"/api/alerts/{resolved.id}/notes", {"text": "补充说明"}),
                              (f"/api/alerts/{firing.id}/actions", {"text": "已转移食品"})):
                assert client.post(url, headers=admin, json=body).status_code == 201
            kept = client.put("/api/admin/notify/channels/duty", headers=admin,
                              json={"kind": "webhook", "label": "值班群", "url": "http://127.0.0.1:9/hook"})
            assert kept.status_code == 200, kept.text
            yield hub, client
    finally:
        hub.stop()


def _fuzz(case: Case, admin: Admin, found: Fuzzed) -> None:
    """Send one case; an exception escaping the app (the test client re-raises them) is a server error too."""
    found.cases += 1
    try:
        status = case.call(headers=admin.current()).status_code
    except Exception as error:  # anything the app raised would have been a 500
        found.server_errors.append(f"{case.as_curl_command()} → {type(error).__name__}: {error}")
        return
    found.answers[str(status)] = found.answers.get(str(status), 0) + 1
    if 200 <= status < 300:
        found.succeeded.add(f"{case.operation.method.upper()} {case.operation.path}")
    if status >= 500:
        found.server_errors.append(f"{case.as_curl_command()} → {status}")


def test_no_server_error_on_any_operation(populated: tuple[Hub, TestClient]) -> None:
    hub, client = populated
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    admin = Admin(hub)
    found = Fuzzed()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the hub's own spec must be valid
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        found.operations.add(f"{operation.method.upper()} {operation.path}")
        for mode, examples in EXAMPLES.items():
            strategy: st.SearchStrategy[Case] = operation.as_strategy(generation_mode=mode)

            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case: Case) -> None:
                _fuzz(case, admin, found)

            try:
                run()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing in the operation can be made invalid
    record_figures("api_schemathesis", {"operations": len(found.operations), "cases": found.cases,
                                        "server_errors": len(found.server_errors), "answers": found.answers,
                                        "operations_succeeded": len(found.succeeded)},
                   file="security.json")
    assert len(found.operations) >= 60
    assert "401" not in found.answers
    # Generated requests reach the handlers and succeed on most operations, not on a few that answer anything:
    # many write routes need a record that exists and a body that makes sense, and get a 2xx rarely or never.
    assert len(found.succeeded) >= len(found.operations) * 0.55, sorted(found.operations - found.succeeded)
    assert not found.server_errors, "\n".join(found.server_errors)
