"""Paging: who is on duty, paging again, and one message per incident.

A weekly rota per route decides whom a message pages, at the minute it is made. The
pure shift arithmetic first; then the hub's real engine, escalation, notifier,
dispatcher and Apprise to a loopback webhook, with the clocks injected: a page before
the night shift starts reaches the day person, the unanswered alarm's repeat after it
reaches the night person, and escalation reaches the next tier. Last, a node's power
cut is one message and its return one more.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from edge import wire
from hub.alerts.kinds import AlertState, RuleKind
from hub.app import create_app
from hub.auth.roles import Role
from hub.ingest import Inbound
from hub.notify.config import RouteConfig
from hub.notify.rota import ShiftConfig, on_duty, uncovered
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.clock import Clock, local, local_time
from tests.conftest import wait_for
from tests.hub.auth_helpers import authorize
from tests.hub.notify.http_sink import HttpSink
from tests.hub.notify.paging import fridge_too_warm, paged, paging_hub

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = ShiftConfig(days=["mon", "tue", "wed", "thu", "fri"], start="07:00", end="19:00", people=["day-gate"])
NIGHT = ShiftConfig(days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"], start="19:00", end="07:00",
                    people=["night-gate"])
WEEKEND = ShiftConfig(days=["sat", "sun"], start="07:00", end="19:00", roles=[Role.CANTEEN_MANAGER])


@pytest.mark.parametrize(("at", "expected"), [
    ("2026-11-17 23:00", [NIGHT]),  # Tuesday night
    ("2026-11-18 03:00", [NIGHT]),  # the small hours of Wednesday: Tuesday's night shift
    ("2026-11-17 10:00", [DAY]),
    ("2026-11-17 19:00", [NIGHT]),  # a shift's end is the next one's start
    ("2026-11-17 06:59", [NIGHT]),
    ("2026-11-21 10:00", [WEEKEND]),  # Saturday
])
def test_the_shifts_covering_a_minute(at: str, expected: list[ShiftConfig]) -> None:
    assert on_duty([DAY, NIGHT, WEEKEND], local_time(at)) == expected


def test_a_monday_only_night_shift_ends_on_tuesday_morning() -> None:
    monday_night = ShiftConfig(days=["mon"], start="22:00", end="06:00", people=["x"])
    assert on_duty([monday_night], local_time("2026-11-17 05:59")) == [monday_night]  # Tuesday 05:59
    assert on_duty([monday_night], local_time("2026-11-18 05:59")) == []  # Wednesday 05:59
    assert on_duty([monday_night], local_time("2026-11-16 05:59")) == []  # Monday 05:59: Sunday was not listed


@pytest.mark.parametrize("bad", ["7:00am", "25:00", "07:60", "0700"])
def test_a_time_of_day_is_checked(bad: str) -> None:
    with pytest.raises(ValidationError):
        ShiftConfig(days=["mon"], start=bad)


ROUTES = """\
  canteen:
    fallback: [bot]
    people: [fallback-cook]
    rota:
      - {days: [mon, tue, wed, thu, fri], start: "07:00", end: "19:00", people: [day-cook]}
      - {days: [mon, tue, wed, thu, fri, sat, sun], start: "19:00", end: "07:00", people: [night-cook]}
  canteen_manager:
    fallback: [bot]
    roles: [canteen_manager]
""" + "\n".join(f"  {name}:\n    always: [web]" for name in ("safety_officer", "gatekeeper", "admin"))

PEOPLE = (("day-cook", Role.CANTEEN_STAFF, "白班厨师"), ("night-cook", Role.CANTEEN_STAFF, "夜班厨师"),
          ("fallback-cook", Role.CANTEEN_STAFF, "后备厨师"), ("li-manager", Role.CANTEEN_MANAGER, "李经理"))


@pytest.fixture
def hub(tmp_path: Path, sink: HttpSink) -> Iterator[Hub]:
    running = paging_hub(tmp_path, sink, ROUTES, PEOPLE)
    yield running
    running.stop()


def test_an_unanswered_alarm_repages_whoever_is_on_duty_then_escalates(hub: Hub, sink: HttpSink) -> None:
    notifier, worker = hub.notifications.notifier, hub.notifications.worker
    assert notifier is not None and worker is not None
    start = local("2026-11-17 18:55")  # Tuesday, five minutes before the night shift
    notifier.clock = Clock(start)
    fridge_too_warm(hub, start)
    hub.engine.tick(start)
    worker.dispatcher.pump()
    assert paged(sink, 0) == [{"白班厨师"}]
    # 19:01: nobody acknowledged; the repeat (every 5 min) pages whoever is on duty now.
    notifier.clock = Clock(start + 360)
    hub.engine.tick(start + 360)
    worker.dispatcher.pump()
    assert paged(sink, 1) == [{"夜班厨师"}]
    # 19:05: ten minutes unanswered, the next tier (the canteen manager's route) is paged.
    notifier.clock = Clock(start + 600)
    hub.engine.tick(start + 600)
    worker.dispatcher.pump()
    assert {"李经理"} in paged(sink, 2)


def test_at_23_the_night_person_is_paged_and_not_the_day_one(hub: Hub, sink: HttpSink) -> None:
    notifier, worker = hub.notifications.notifier, hub.notifications.worker
    assert notifier is not None and worker is not None
    at = local("2026-11-17 23:00")
    notifier.clock = Clock(at)
    fridge_too_warm(hub, at)
    worker.dispatcher.pump()
    assert paged(sink, 0) == [{"夜班厨师"}]


def test_nobody_on_duty_falls_back_to_the_routes_people(tmp_path: Path, sink: HttpSink) -> None:
    running = paging_hub(tmp_path, sink, ROUTES.replace("sat, sun], start", "sat], start"),
                         [("fallback-cook", Role.CANTEEN_STAFF, "后备厨师")])
    try:
        notifier, worker = running.notifications.notifier, running.notifications.worker
        assert notifier is not None and worker is not None
        at = local("2026-11-22 12:00")  # Sunday noon: no shift
        notifier.clock = Clock(at)
        fridge_too_warm(running, at)
        worker.dispatcher.pump()
        assert paged(sink, 0) == [{"后备厨师"}]
    finally:
        running.stop()


def test_a_power_cut_of_a_node_with_six_probes_and_two_doors_is_one_message_and_one_recovery(
        tmp_path: Path, sink: HttpSink) -> None:
    """An offline node is one incident (hub.alerts.engine): its probes do not each go stale on their own."""
    running = paging_hub(tmp_path, sink, ROUTES.replace("  admin:\n    always: [web]", "  admin:\n    fallback: [bot]"),
                         [])
    try:
        worker = running.notifications.worker
        assert worker is not None
        start = local("2026-11-17 10:00")
        sensors = [{"sensor": f"fridge-{n}", "kind": "temperature", "profile": "fridge", "name": f"冷藏柜 {n}"}
                   for n in range(1, 7)] + [{"sensor": f"door-{n}", "kind": "door", "name": f"冷库门 {n}"}
                                            for n in (1, 2)]

        def status(state: str, at: float, seq: int) -> Inbound:
            body = {"state": state, "boot_id": f"b{seq}", "ts": at, "sensors": sensors}
            return Inbound(wire.topic("s", "node-1", wire.Channel.STATUS), json.dumps(body).encode(), seq, 1, 0.0)

        def readings(at: float, seq: int) -> Inbound:
            body = {"device": "node-1", "boot_id": f"b{seq}", "seq": seq, "readings": [
                {"sensor": f"fridge-{n}", "kind": "temperature", "value": 4.0, "unit": "°C", "ts": at}
                for n in range(1, 7)]}
            return Inbound(wire.topic("s", "node-1", wire.Channel.TELEMETRY), json.dumps(body).encode(), seq, 1,
                           0.0)

        running.pipeline.process([status("online", start, 1), readings(start, 1)])
        # The power goes: the broker publishes the node's last will; nothing more comes for an hour.
        running.pipeline.process([status("offline", start + 60, 2)])
        for minutes in range(2, 61):
            running.engine.tick(start + 60 * minutes)
            worker.dispatcher.pump()
        firing = [a.rule for a in running.state.alerts([AlertState.FIRING])]
        assert firing == [RuleKind.DEVICE_OFFLINE]
        assert len(sink.received) == 1
        # Power back: the node says so and sends its six readings.
        back = start + 3600
        running.pipeline.process([status("online", back, 3), readings(back, 3)])
        running.engine.tick(back + 1)
        worker.dispatcher.pump()
        assert running.state.alerts([AlertState.FIRING]) == []
        assert len(sink.received) == 2
        assert "已恢复" in json.loads(sink.received[1].body)["title"]
    finally:
        running.stop()


def test_saving_a_route_from_the_admin_page_keeps_its_people_and_rota(hub: Hub) -> None:
    """The page's route form sends channels only: the rota and the people set in the YAML stay."""
    before = hub.notify_settings.config()
    assert before is not None and before.routes["canteen"].rota
    hub.notify_settings.put_route("canteen", RouteConfig(always=["web"], fallback=["bot"]), "admin")
    after = hub.notify_settings.config()
    assert after is not None
    assert after.routes["canteen"].always == ["web"]
    assert after.routes["canteen"].rota == before.routes["canteen"].rota
    assert after.routes["canteen"].people == ["fallback-cook"]


def test_the_uncovered_stretches_of_the_next_day() -> None:
    # Tuesday 12:00: the day shift to 19:00, a night shift only on Mon/Tue/Wed from 19:00 to 23:00.
    evening = ShiftConfig(days=["mon", "tue", "wed"], start="19:00", end="23:00", people=["x"])
    gaps = uncovered([DAY, evening], local_time("2026-11-17 12:00"))
    assert [(f"{a:%d %H:%M}", f"{b:%d %H:%M}") for a, b in gaps] == [("17 23:00", "18 07:00")]
    assert uncovered([DAY, NIGHT, WEEKEND], local_time("2026-11-17 12:00")) == []


def test_the_admin_page_warns_of_nobody_on_duty_before_it_matters(hub: Hub) -> None:
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        authorize(client, hub, Role.ADMIN)
        # Day and night, every day of the week ahead: no warning.
        hub.notify_settings.put_rota("canteen", [{"days": every_day, "start": "07:00", "end": "19:00",
                                                  "people": ["day-cook"]},
                                                 {"days": every_day, "start": "19:00", "end": "07:00",
                                                  "people": ["night-cook"]}], "admin")
        page = client.get("/admin", headers={"Accept": "text/html"}).text
        assert "data-rota-gaps" not in page
        config = hub.notify_settings.config()
        assert config is not None
        night_only = config.routes["canteen"].model_copy(update={"rota": [NIGHT]})
        hub.notify_settings.put_route("canteen", night_only, "admin")
        page = client.get("/admin", headers={"Accept": "text/html"}).text
        # Every day of the coming week has its day uncovered; the night shift names nobody with an account.
        # (The stretches' ends depend on the hour the page is read: duty_gaps is tested at fixed times.)
        assert "data-rota-gaps" in page and "无人值班" in page and "的班次（第 1 班）没有可用账号" in page


def test_a_storm_on_one_site_stays_under_the_bots_limit_and_loses_nothing(tmp_path: Path, sink: HttpSink) -> None:
    """Thirty fridges of one site too warm at once (a compressor circuit tripped): the bot (20 a minute, as
    WeCom and DingTalk allow) gets five messages and then one digest of the rest, and every alarm is named."""
    path = tmp_path / "notify.yaml"
    others = "\n".join(f"  {name}:\n    always: [web]" for name in
                       ("canteen_manager", "safety_officer", "gatekeeper", "admin"))
    path.write_text(f"""group_window_s: 120
channels:
  bot: {{type: apprise, urls: ["json://127.0.0.1:{sink.port}/bot"], max_chars: 20000,
         rate: {{per_minute: 15, burst: 5}}}}
  web: {{type: web}}
routes:
  canteen:
    always: [web]
    fallback: [bot]
{others}
""", encoding="utf-8")
    settings = load_settings(home=tmp_path / "home", notify_config=path)
    settings = settings.model_copy(update={"rules": HubConfig.model_validate({"alarm_delay_s": 0})})
    running = Hub(settings, connect_mqtt=False)
    try:
        at = dt.datetime.now(SHANGHAI).timestamp()
        sensors = [{"sensor": f"fridge-{n}", "kind": "temperature", "profile": "fridge", "name": f"冷藏柜 {n}"}
                   for n in range(1, 31)]
        status = {"state": "online", "boot_id": "b", "ts": at, "sensors": sensors}
        warm = {"device": "dev-a", "boot_id": "b", "seq": 1, "readings": [
            {"sensor": f"fridge-{n}", "kind": "temperature", "value": 11.0, "unit": "°C", "ts": at}
            for n in range(1, 31)]}
        running.pipeline.process([
            Inbound(wire.topic("s", "dev-a", wire.Channel.STATUS), json.dumps(status).encode(), 1, 1, 0.0),
            Inbound(wire.topic("s", "dev-a", wire.Channel.TELEMETRY), json.dumps(warm).encode(), 2, 1, 0.0)])
        firing = {a.id for a in running.state.alerts([AlertState.FIRING])}
        assert len(firing) == 30
        running.notifications.start()  # the dispatch thread: the digest leaves when the bucket has a token

        def named() -> set[int]:
            texts = [json.loads(r.body)["message"] for r in list(sink.received)]
            return {int(n) for text in texts for n in re.findall(r"#(\d+)", text)}

        wait_for(lambda: named() >= firing, timeout=30)
        # Well within a minute: never more than the bot's 20, and the rest merged, not dropped.
        assert 5 < len(sink.received) <= 20
        assert any(json.loads(r.body)["title"] == f"{30 - 5} 条告警" for r in sink.received)
        log = running.notifications.delivery_log
        assert log is not None and {a.outcome for a in log.attempts()} >= {"sent", "deferred"}
    finally:
        running.stop()
