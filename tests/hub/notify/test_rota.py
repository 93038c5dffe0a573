"""The duty rota on the school calendar, edited on the admin page; and alarms acknowledged but never closed.

First the pure parts: which shifts cover a minute when shifts follow the school
calendar (public holidays, a swapped working Saturday, a vacation's weekends), and the
coming week's gaps. Then a real hub with Apprise posting to a loopback webhook: a rota
saved through the admin API is audited, versioned and in force for the next message
(a 23:00 gate alarm pages the night gatekeeper, not the day one); a mistake is refused
naming its field. Last, an alarm acknowledged and not closed reminds the person who
acknowledged it, then pages the next tier, on an injected clock.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from edge import wire
from hub.alerts.kinds import AlertKind, AlertState, RuleKind
from hub.app import create_app
from hub.auth.roles import Role
from hub.calendar import CalendarConfig, SchoolCalendar, Term
from hub.ingest import Inbound
from hub.notify.base import Notification
from hub.notify.config import load_notify_config
from hub.notify.rota import GapKind, ShiftConfig, ShiftDays, duty_gaps, on_duty
from hub.rules.escalation import UNHANDLED_HORIZON_S, Policy, Tier, Unhandled, unhandled_due
from hub.runtime import Hub
from tests.clock import Clock, local, local_time
from tests.hub.auth_helpers import authorize
from tests.hub.notify.http_sink import HttpSink
from tests.hub.notify.paging import fridge_too_warm, paged, paging_hub

SHANGHAI = ZoneInfo("Asia/Shanghai")


#: National Day week 2026 as a school's own table says it (no package needed): Oct 1–7 off, Saturday Oct 10
#: worked; the autumn term runs to Jan 20, then winter vacation.
CALENDAR = SchoolCalendar(CalendarConfig(
    national_holidays=False, holidays=[dt.date(2026, 10, d) for d in range(1, 8)], workdays=[dt.date(2026, 10, 10)],
    terms=[Term(name="秋季学期", start=dt.date(2026, 9, 1), end=dt.date(2027, 1, 20))]))

OFFICER = ShiftConfig(when=ShiftDays.SCHOOL_DAYS, start="07:00", end="19:00", people=["officer"])
DEPUTY = ShiftConfig(when=ShiftDays.HOLIDAYS, start="08:00", end="18:00", people=["deputy"])
WEEKEND_MANAGER = ShiftConfig(days=["sat", "sun"], when=ShiftDays.NON_SCHOOL_DAYS, start="07:00", end="19:00",
                              roles=[Role.CANTEEN_MANAGER])
SCHOOL_NIGHT = ShiftConfig(when=ShiftDays.SCHOOL_DAYS, start="19:00", end="07:00", people=["night"])


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-17 10:00", [OFFICER]),  # a Tuesday in term
    ("2026-10-01 10:00", [DEPUTY]),  # National Day, a Thursday: the safety officer's deputy
    ("2026-10-10 10:00", [OFFICER]),  # the swapped working Saturday is a school day
    ("2026-11-21 10:00", [WEEKEND_MANAGER]),  # an ordinary Saturday in term is no holiday
    ("2027-01-23 10:00", [DEPUTY, WEEKEND_MANAGER]),  # a Saturday of the winter vacation is both
    ("2026-10-01 03:00", [SCHOOL_NIGHT]),  # Wednesday Sep 30 was a school day: its night runs into Oct 1
    ("2026-10-02 03:00", []),  # Oct 1 was not: no night shift began that evening
])
def test_shifts_follow_the_school_calendar(at: str, expected: list[ShiftConfig]) -> None:
    assert on_duty([OFFICER, DEPUTY, WEEKEND_MANAGER, SCHOOL_NIGHT], local_time(at), CALENDAR) == expected


def test_holidays_by_the_national_table() -> None:
    """With the State Council's table (chinesecalendar), National Day 2026 is a holiday and no school day."""
    national = SchoolCalendar(CalendarConfig())
    assert national.is_holiday(dt.date(2026, 10, 1)) and not national.is_school_day(dt.date(2026, 10, 1))
    assert not national.is_holiday(dt.date(2026, 11, 21))  # a Saturday, no term dates set: a weekend
    assert on_duty([DEPUTY], local_time("2026-10-01 12:00"), national) == [DEPUTY]


def test_a_shift_needs_its_days() -> None:
    with pytest.raises(ValidationError, match="needs its days"):
        ShiftConfig(start="07:00", end="19:00", people=["x"])
    with pytest.raises(ValidationError):
        ShiftConfig.model_validate({"when": "someday", "people": ["x"]})
    # The rotas of the YAML (weekdays only) are as before.
    assert ShiftConfig.model_validate({"days": ["mon"], "start": "19:00", "end": "07:00"}).when is None


def test_the_example_yaml_has_the_deputy_on_holidays() -> None:
    """``when`` survives YAML (a key named ``on`` would be read as true): the example file as installers copy it."""
    example = Path(__file__).resolve().parents[3] / "firmware-config" / "hub" / "notify.example.yaml"
    rota = load_notify_config(example).routes["safety_officer"].rota
    assert [(shift.when, shift.people) for shift in rota] == [(ShiftDays.SCHOOL_DAYS, ["chen-officer"]),
                                                              (ShiftDays.HOLIDAYS, ["zhou-deputy"])]


def test_the_coming_weeks_gaps_on_the_calendar() -> None:
    """Seven days from Tuesday 29 Sep: the day shift is on school days only, so the National Day week is a gap."""
    day = ShiftConfig(when=ShiftDays.SCHOOL_DAYS, start="07:00", end="19:00", people=["day-gate"])
    night = ShiftConfig(days=list(("mon", "tue", "wed", "thu", "fri", "sat", "sun")), start="19:00", end="07:00",
                        people=["night-gate"])
    start = local_time("2026-09-29 12:00")
    gaps = duty_gaps({"gatekeeper": [day, night], "canteen": []}, start, people={"day-gate", "night-gate"},
                     roles=set(), calendar=CALENDAR)
    assert [(g.kind, f"{g.start:%m-%d %H:%M}", f"{g.end:%m-%d %H:%M}") for g in gaps] == [
        *[(GapKind.UNCOVERED, f"10-{d:02d} 07:00", f"10-{d:02d} 19:00") for d in range(1, 6)],
        (GapKind.UNCOVERED, "10-06 07:00", "10-06 12:00")]  # the week ends at Tuesday noon
    # The night gatekeeper's account is gone: every night of the week is on duty in name only.
    gone = duty_gaps({"gatekeeper": [day, night]}, start, people={"day-gate"}, roles=set(), calendar=CALENDAR)
    nights = [g for g in gone if g.kind is GapKind.NOBODY]
    assert len(nights) == 7 and all(g.shift == 1 for g in nights)
    assert (f"{nights[0].start:%m-%d %H:%M}", f"{nights[0].end:%m-%d %H:%M}") == ("09-29 19:00", "09-30 07:00")


def test_unhandled_steps() -> None:
    policy = Policy((Tier(0, "canteen"), Tier(600, "canteen_manager")), remind_after_s=1800,
                    unhandled_escalate_s=3600)
    assert unhandled_due(policy, 1000.0, [], 1000.0 + 1799) == []
    assert unhandled_due(policy, 1000.0, [], 1000.0 + 1800) == [Unhandled.REMIND]
    assert unhandled_due(policy, 1000.0, ["remind"], 1000.0 + 3600) == [Unhandled.ESCALATE]
    assert unhandled_due(policy, 1000.0, [], 1000.0 + 3600) == [Unhandled.REMIND, Unhandled.ESCALATE]
    assert unhandled_due(Policy((Tier(0, "canteen"),)), 0.0, [], 1e9) == []
    # Acknowledged long before (left open from before the policy said so): not a burst of pages today.
    assert unhandled_due(policy, 1000.0, [], 1000.0 + 3600 + UNHANDLED_HORIZON_S) == []


# --- on a hub ------------------------------------------------------------------------------------------------


POLICIES: dict[str, Any] = {
    "cold_chain": {"tiers": [{"after_s": 0, "route": "canteen"}, {"after_s": 600, "route": "canteen_manager"},
                             {"after_s": 1800, "route": "safety_officer"}],
                   "unhandled": {"remind_after_s": 1800, "escalate_after_s": 3600}},
    "gate": {"tiers": [{"after_s": 0, "route": "gatekeeper"}, {"after_s": 900, "route": "safety_officer"}]},
    "device": {"tiers": [{"after_s": 0, "route": "admin"}]},
}


ROUTES = """\
  canteen: {always: [web], fallback: [bot], people: [wang-cook]}
  canteen_manager: {always: [web], fallback: [bot], roles: [canteen_manager]}
  safety_officer: {always: [web], fallback: [bot], roles: [safety_officer]}
  gatekeeper: {always: [web], fallback: [bot], people: [day-gate]}
  admin: {always: [web]}"""

PEOPLE = (("day-gate", Role.GATEKEEPER, "白班门卫"), ("night-gate", Role.GATEKEEPER, "夜班门卫"),
          ("wang-cook", Role.CANTEEN_STAFF, "王师傅"), ("li-manager", Role.CANTEEN_MANAGER, "李经理"))


@pytest.fixture
def hub(tmp_path: Path, sink: HttpSink) -> Iterator[Hub]:
    running = paging_hub(tmp_path, sink, ROUTES, PEOPLE, {"alerts": {"policies": POLICIES}})
    yield running
    running.stop()


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub.settings, hub=hub)) as test_client:
        authorize(test_client, hub, Role.ADMIN, "admin-zhao")
        yield test_client


GATE_ROTA = {"shifts": [
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "07:00", "end": "19:00",
     "people": ["day-gate"]},
    {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00",
     "people": ["night-gate"]},
]}


def test_a_rota_saved_on_the_admin_page_pages_the_night_gatekeeper_at_23(hub: Hub, client: TestClient,
                                                                         sink: HttpSink) -> None:
    saved = client.put("/api/admin/notify/routes/gatekeeper/rota", json=GATE_ROTA)
    assert saved.status_code == 200, saved.text
    assert saved.json()["changes"] == ["routes.gatekeeper"]
    # Versioned and audited as the admin who saved it; the route's channels and people stay.
    latest = hub.notify_settings.latest()
    assert latest is not None and latest.id == saved.json()["id"] and latest.actor == "admin-zhao"
    config = hub.notify_settings.config()
    assert config is not None and config.routes["gatekeeper"].fallback == ["bot"]
    assert config.routes["gatekeeper"].people == ["day-gate"]
    entry = [e for e in hub.state.audit_entries() if e.action == "notify.rota.changed"][-1]
    assert entry.actor == "admin-zhao" and entry.subject == "route/gatekeeper"
    shown = client.get("/api/admin/notify/rota").json()
    gate_route = next(r for r in shown["routes"] if r["name"] == "gatekeeper")
    assert [(s["start"], s["end"], s["people"]) for s in gate_route["shifts"]] == [
        ("07:00", "19:00", ["day-gate"]), ("19:00", "07:00", ["night-gate"])]
    assert shown["look_ahead_days"] == 7 and not [g for g in shown["gaps"] if g["route"] == "gatekeeper"]

    # In force for the next message, no restart: a gate opened at 23:00 on a Tuesday.
    notifier, worker = hub.notifications.notifier, hub.notifications.worker
    assert notifier is not None and worker is not None
    at = local("2026-11-17 23:00")
    notifier.clock = Clock(at)
    hub.engine.observe(RuleKind.GATE_AFTER_HOURS, "gate-1/main-gate", True, at, device="gate-1",
                       message="校门 23:00 打开", kind=AlertKind.GATE)
    worker.dispatcher.pump()
    assert paged(sink, 0) == [{"夜班门卫"}]


@pytest.mark.parametrize(("shift", "field"), [
    ({"days": ["mon"], "start": "25:00", "people": ["day-gate"]}, "shifts.0.start"),
    ({"days": ["someday"], "people": ["day-gate"]}, "shifts.0.days.0"),
    ({"when": "sometimes", "people": ["day-gate"]}, "shifts.0.when"),
    ({"start": "07:00", "people": ["day-gate"]}, "shifts.0"),
    ({"days": ["mon"], "people": ["nobody-here"]}, "shifts.0.people"),
    ({"days": ["mon"], "roles": ["headmaster"]}, "shifts.0.roles.0"),
])
def test_a_mistake_in_a_shift_is_refused_naming_its_field(hub: Hub, client: TestClient, shift: dict[str, Any],
                                                          field: str) -> None:
    before = hub.notify_settings.latest()
    refused = client.put("/api/admin/notify/routes/gatekeeper/rota", json={"shifts": [shift]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]["field"] == field
    after = hub.notify_settings.latest()
    assert before is not None and after is not None and after.id == before.id  # nothing saved


def test_only_an_admin_sets_a_rota_and_only_on_a_route_that_exists(hub: Hub, client: TestClient) -> None:
    assert client.put("/api/admin/notify/routes/nowhere/rota", json=GATE_ROTA).status_code == 404
    with TestClient(create_app(hub.settings, hub=hub)) as other:
        authorize(other, hub, Role.SAFETY_OFFICER)
        assert other.put("/api/admin/notify/routes/gatekeeper/rota", json=GATE_ROTA).status_code == 403
    config = hub.notify_settings.config()
    assert config is not None and config.routes["gatekeeper"].rota == []


def test_the_admin_page_warns_ahead_and_offers_the_rota_form(hub: Hub, client: TestClient) -> None:
    page = client.get("/admin", headers={"Accept": "text/html"}).text
    assert 'data-rota="gatekeeper"' in page and "data-rota-gaps" not in page
    # Nights only, and a night person whose account is disabled: a warning before any night comes.
    nights = {"shifts": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00",
                          "end": "07:00", "people": ["night-gate"]}]}
    assert client.put("/api/admin/notify/routes/gatekeeper/rota", json=nights).status_code == 200
    night = hub.accounts.active_user("night-gate")
    assert night is not None
    hub.accounts.update_user(night.id, disabled=True)
    page = client.get("/admin", headers={"Accept": "text/html"}).text
    assert "data-rota-gaps" in page and "无人值班" in page and "的班次（第 1 班）没有可用账号" in page
    gaps = client.get("/api/admin/notify/rota").json()["gaps"]
    assert {g["kind"] for g in gaps} == {"gap", "nobody"}
    assert all(g["route"] == "gatekeeper" and g["end"] - g["start"] <= 12 * 3600 for g in gaps)


def test_acknowledged_but_not_closed_reminds_the_acknowledger_then_escalates(hub: Hub) -> None:
    """The policy: a reminder 30 minutes after the acknowledgement, the next tier after 60."""
    notifier, worker = hub.notifications.notifier, hub.notifications.worker
    assert notifier is not None and worker is not None
    cook = hub.accounts.active_user("wang-cook")
    assert cook is not None
    hub.accounts.set_phone(cook.id, "+8613800000001")
    start = time.time()
    clock = Clock(start)
    notifier.clock = clock
    fridge_too_warm(hub, start)
    worker.dispatcher.pump()
    alert = hub.state.alerts([AlertState.FIRING])[0]
    assert alert.id is not None
    acked = hub.engine.act(alert.id, "acknowledge", "wang-cook")
    assert acked.acked_at is not None
    web = hub.notifications.web_notices

    def about_the_fridge() -> list[Notification]:
        """Newest first (the node, silent while the clock runs, is an offline alarm of its own)."""
        return [n for n in web.recent() if alert.id in n.alert_ids]

    def run_to(seconds_after_ack: float) -> list[str]:
        """Tick the engine to that moment; the tiers of what it sent about the fridge."""
        before = len(about_the_fridge())
        clock.now = acked.acked_at + seconds_after_ack  # type: ignore[operator]
        hub.engine.tick(clock.now)
        worker.dispatcher.pump()
        return [n.tier for n in about_the_fridge()[: len(about_the_fridge()) - before]]

    assert run_to(1799) == []  # acknowledged: no repeats, no escalation, nothing yet
    assert run_to(1800) == ["canteen"]
    reminder = about_the_fridge()[0]
    assert reminder.recipients == ("+8613800000001",)  # the acknowledger's own SMS, nobody else's
    assert "王师傅 已确认 30 分钟，仍未处理：请记录处理措施并关闭" in reminder.body
    assert run_to(1900) == []  # once
    assert run_to(3600) == ["canteen_manager"]
    assert "（已上报上一级）" in about_the_fridge()[0].body
    assert run_to(7200) == []
    found = hub.state.alert(alert.id)
    assert found is not None and found.notified_tier == 1 and found.data["unhandled"] == ["remind", "escalate"]
    steps = [(e.action, json.loads(e.detail)["route"]) for e in hub.state.audit_entries()
             if e.action.startswith("alert.unhandled")]
    assert steps == [("alert.unhandled.remind", "canteen"), ("alert.unhandled.escalate", "canteen_manager")]


def test_an_alarm_closed_in_time_is_not_chased(hub: Hub) -> None:
    worker = hub.notifications.worker
    assert worker is not None
    start = time.time()
    fridge_too_warm(hub, start)
    alert = hub.state.alerts([AlertState.FIRING])[0]
    assert alert.id is not None
    hub.engine.act(alert.id, "acknowledge", "wang-cook")
    back = {"device": "dev-a", "boot_id": "b", "seq": 2, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": 4.0, "unit": "°C", "ts": start + 60}]}
    hub.pipeline.process([Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(back).encode(), 2, 1,
                                  0.0)])
    hub.engine.tick(start + 120)
    resolved = hub.state.alert(alert.id)
    assert resolved is not None and resolved.state is AlertState.RESOLVED
    hub.engine.act(alert.id, "close", "wang-cook", "食物已转移到 2 号冰箱，已报修")
    worker.dispatcher.pump()
    sent = [n for n in hub.notifications.web_notices.recent() if alert.id in n.alert_ids]
    hub.engine.tick(start + 4 * 3600)
    worker.dispatcher.pump()
    assert [n for n in hub.notifications.web_notices.recent() if alert.id in n.alert_ids] == sent
    assert not [e for e in hub.state.audit_entries() if e.action.startswith("alert.unhandled")]
