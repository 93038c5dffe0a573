"""One school per hub (hub.sites): another school's devices never become this hub's records or alarms."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from edge import wire
from hub.app import create_app
from hub.auth.roles import Role
from hub.cli import main
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.sites import SiteConflict, SiteGuard, refusal, served_site
from tests.hub.auth.test_routes import PUBLIC, _concrete, _endpoints
from tests.hub.auth_helpers import bearer


def inbound(site: str, device: str, channel: wire.Channel, payload: dict[str, object]) -> Inbound:
    return Inbound(wire.topic(site, device, channel), json.dumps(payload).encode(), 1, 1, 0.0)


def status() -> dict[str, object]:
    return {"state": "online", "boot_id": "b1", "ts": 1.0,
            "sensors": [{"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge"}]}


def hot(device: str, seq: int, ts: float) -> dict[str, object]:
    return {"device": device, "boot_id": "b1", "seq": seq,
            "readings": [{"sensor": "fridge-1", "kind": "temperature", "value": 12.0, "unit": "°C", "ts": ts}]}


def feed_two_schools(hub: Hub) -> list[object]:
    """School A's fridge, then school B's, both too warm past the delay; what the hub confirmed."""
    held: list[object] = []
    for site, device in (("school-a", "fridge-a"), ("school-b", "fridge-b")):
        held += hub.pipeline.process([inbound(site, device, wire.Channel.STATUS, status())])
        held += hub.pipeline.process([inbound(site, device, wire.Channel.TELEMETRY, hot(device, 1, 1000.0))])
    hub.engine.tick(1061.0)
    return held


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60)), connect_mqtt=False)
    yield running
    running.stop()


def test_a_second_school_s_fridge_is_a_dead_letter_not_an_alarm_a_cook_here_could_acknowledge(hub: Hub) -> None:
    held = feed_two_schools(hub)
    (alert,) = hub.state.alerts()
    assert alert.subject.startswith("fridge-a/")
    assert [d["device"] for d in hub.state.devices()] == ["fridge-a"]
    assert hub.state.sensors() and all(s["device"] == "fridge-a" for s in hub.state.sensors())
    refused = [letter for letter in hub.state.dead_letters() if "fridge-b" in letter["topic"]]
    assert len(refused) == 2
    assert all(letter["reason"] == "site: this hub serves site 'school-a', not 'school-b' (one school per hub)"
               for letter in refused)
    # Not confirmed: school B's Pi keeps its readings for its own school's hub.
    assert all(getattr(item, "device", None) != "fridge-b" for item in held)
    assert hub.sites is not None and hub.sites.site == "school-a"


def test_the_configured_site_is_served_even_before_any_device(tmp_path: Path) -> None:
    hub = Hub(HubSettings(home=tmp_path, site="school-b", rules=HubConfig(alarm_delay_s=60)), connect_mqtt=False)
    try:
        feed_two_schools(hub)
        (alert,) = hub.state.alerts()
        assert alert.subject.startswith("fridge-b/")
    finally:
        hub.stop()


def test_a_hub_that_holds_two_schools_from_before_names_its_own_before_it_starts(tmp_path: Path) -> None:
    first = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    for site, device in (("school-a", "fridge-a"), ("school-b", "fridge-b")):  # as a hub before this rule did
        first.state.record_status(site, device, "online", "b1", "1.0", 1.0, 2.0, [])
    first.stop()
    with pytest.raises(SiteConflict, match=r"2 schools .*school-a, school-b.*XIAOAN_SITE"):
        Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    named = Hub(HubSettings(home=tmp_path, site="school-a"), connect_mqtt=False)
    try:
        assert named.sites is not None and named.sites.site == "school-a"
    finally:
        named.stop()


def test_xiaoan_hub_names_the_two_schools_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    first = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    for site, device in (("school-a", "fridge-a"), ("school-b", "fridge-b")):
        first.state.record_status(site, device, "online", "b1", "1.0", 1.0, 2.0, [])
    first.stop()
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    monkeypatch.delenv("XIAOAN_SITE", raising=False)
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        assert main(["hub"]) == 2
    finally:
        os.umask(umask)  # ``xiaoan hub`` narrows this process's umask first
    err = capsys.readouterr().err
    assert err.startswith("xiaoan: this hub holds devices of 2 schools (school-a, school-b)") and "Traceback" not in err


def test_a_restarted_hub_keeps_the_site_its_devices_gave_it(tmp_path: Path) -> None:
    first = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    first.pipeline.process([inbound("school-a", "fridge-a", wire.Channel.STATUS, status())])
    first.stop()
    again = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    try:
        again.pipeline.process([inbound("school-b", "fridge-b", wire.Channel.STATUS, status())])
        assert [d["device"] for d in again.state.devices()] == ["fridge-a"]
    finally:
        again.stop()


def test_the_site_rules() -> None:
    assert served_site("school-a", ["school-b", "school-c"]) == "school-a"
    assert served_site("+", ["school-a", "school-a", ""]) == "school-a"
    assert served_site("+", []) is None
    assert refusal("a", "a") is None
    guard = SiteGuard(None)
    assert guard.admit("a") is None and guard.site == "a"
    assert guard.admit("b") == "this hub serves site 'a', not 'b' (one school per hub)"
    assert guard.site == "a"


def test_a_cook_of_school_a_is_refused_on_every_route_of_school_b_s_hub(tmp_path: Path) -> None:
    """Each school's hub has its own accounts: a token, session or alarm link of A opens nothing at B."""
    school_a = Hub(HubSettings(home=tmp_path / "a", site="school-a"), connect_mqtt=False)
    school_b = Hub(HubSettings(home=tmp_path / "b", site="school-b", rules=HubConfig(alarm_delay_s=60)),
                   connect_mqtt=False)
    try:
        feed_two_schools(school_b)
        (alarm,) = school_b.state.alerts()
        _, headers = bearer(school_a, Role.CANTEEN_STAFF)
        headers["Accept"] = "application/json"
        with TestClient(create_app(school_b.settings, hub=school_b)) as client:
            checked = 0
            for method, path, _route in _endpoints(client):
                if (method, path) in PUBLIC:
                    continue
                concrete = _concrete(path).replace("/alerts/1", f"/alerts/{alarm.id}")
                response = client.request(method, concrete, headers=headers)
                assert response.status_code == 401, (method, path, response.status_code)
                checked += 1
            assert checked >= 150
            assert client.post(f"/api/alerts/{alarm.id}/acknowledge", headers=headers,
                               json={"reason": "checked"}).status_code == 401
        assert school_b.state.alerts()[0].state == "firing"
    finally:
        school_a.stop()
        school_b.stop()


@pytest.mark.parametrize("site", ["school/a", "school-a/#", "+/x", "", "学校"])
def test_a_site_that_is_no_topic_level_is_refused_naming_it(site: str) -> None:
    """XIAOAN_SITE becomes the hub's subscription (``xiaoan/v1/{site}/#``): a wildcard or slash there is refused."""
    with pytest.raises(ValidationError, match="site"):
        HubSettings(site=site)
    assert HubSettings(site="school-001").site == "school-001"
