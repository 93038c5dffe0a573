"""Gate duty on real stores: after-hours openings, the closing sweep, tamper, patrols, overrides, restarts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from hub.gate.monitor import (
    AFTER_HOURS_RULE,
    MISSED_ROUND_RULE,
    NOT_CLOSED_RULE,
    SENSOR_OFFLINE_RULE,
    TAMPER_RULE,
    GateError,
)
from hub.gate.overrides import DefaultWindows, OverrideSpec
from hub.store.base import StoredEvent
from tests.hub.gate.conftest import GATES, Rig, hub_config, local


def test_a_door_opened_a_minute_before_and_a_minute_after_a_window(rig: Rig) -> None:
    rig.event("gate-1/main-gate", "gate", "open", local("2026-11-17 06:29"))
    (alert,) = rig.alerts(AFTER_HOURS_RULE)
    assert alert.state == "firing" and alert.kind == "gate" and alert.severity == "warning"
    assert alert.message == "校门 在非开放时间打开（06:29，main）"
    rig.event("gate-1/main-gate", "gate", "closed", local("2026-11-17 06:31"))
    assert rig.alerts(AFTER_HOURS_RULE)[0].state == "resolved"
    # inside the window: nothing
    rig.event("gate-1/main-gate", "gate", "open", local("2026-11-17 07:00"))
    rig.event("gate-1/main-gate", "gate", "closed", local("2026-11-17 07:30"))
    assert len(rig.alerts(AFTER_HOURS_RULE)) == 1
    # one minute after the evening window
    rig.event("gate-1/side-gate", "gate", "open", local("2026-11-17 18:31"))
    newest = rig.alerts(AFTER_HOURS_RULE)[0]
    assert newest.subject == "gate-1/side-gate" and newest.state == "firing" and newest.data["group"] == "main"


def test_at_night_it_is_critical_and_a_gate_outside_any_group_falls_into_the_default_group(rig: Rig) -> None:
    rig.announce("gate-1", [*GATES, {"sensor": "north-gate", "kind": "gate", "name": "北门"},
                            {"sensor": "store-door", "kind": "door", "name": "库房门"}])
    for sensor, kind in (("main-gate", "gate"), ("north-gate", "gate"), ("store-door", "door")):
        rig.event(f"gate-1/{sensor}", kind, "open", local("2026-11-17 23:00"))
    main, north = sorted(rig.alerts(AFTER_HOURS_RULE), key=lambda a: a.subject)
    assert main.severity == "critical" and main.subject == "gate-1/main-gate"
    assert north.subject == "gate-1/north-gate" and north.data["group"] == "default"
    assert north.message == "北门 在非开放时间打开（23:00，默认开放时间）"
    defaults = rig.monitor.defaults()
    assert defaults["members"] == ["gate-1/north-gate"] and defaults["in_use"] and not defaults["confirmed"]
    # A door (often a cold-room or kitchen door, open all morning while cooking) is not judged by
    # gate hours unless a group names it; the held-open rule watches it, so it is not unwatched.
    assert defaults["unwatched"] == [] and rig.monitor.coverage() == (0, True)


def test_the_default_windows_are_a_school_template(rig: Rig) -> None:
    rig.announce("gate-2", [{"sensor": "east", "kind": "gate", "name": "东门"}])
    for opened, after_hours in (("07:00", False), ("09:00", True), ("12:30", False), ("15:00", True),
                                ("17:00", False), ("19:00", True)):
        rig.event("gate-2/east", "gate", "open", local(f"2026-11-17 {opened}"))
        alerts = [a for a in rig.alerts(AFTER_HOURS_RULE) if a.state == "firing"]
        assert bool(alerts) == after_hours, opened
        rig.event("gate-2/east", "gate", "closed", local(f"2026-11-17 {opened}") + 60)
    # Saturday: no windows at all by default.
    rig.event("gate-2/east", "gate", "open", local("2026-11-21 10:00"))
    assert [a for a in rig.alerts(AFTER_HOURS_RULE) if a.state == "firing"]


def test_the_default_group_switched_off_leaves_a_gate_unwatched_and_says_so(tmp_path: Path) -> None:
    config = hub_config()
    config.calendar.default_group.enabled = False
    rig = Rig(tmp_path, config, local("2026-11-17 12:00"))
    try:
        rig.announce("gate-1", [*GATES, {"sensor": "north-gate", "kind": "gate"}])
        rig.event("gate-1/north-gate", "gate", "open", local("2026-11-17 23:00"))
        assert rig.alerts(AFTER_HOURS_RULE) == []
        assert rig.monitor.unwatched() == ["gate-1/north-gate"] and rig.monitor.coverage() == (1, False)
    finally:
        rig.close()


def test_a_door_no_group_and_no_held_open_limit_watches_is_unwatched(tmp_path: Path) -> None:
    config = hub_config()
    config.alerts.defaults.door_open_max_s = {}  # no held-open limit for any kind
    rig = Rig(tmp_path, config, local("2026-11-17 12:00"))
    try:
        rig.announce("gate-1", [*GATES, {"sensor": "store-door", "kind": "door"}])
        rig.event("gate-1/store-door", "door", "open", local("2026-11-17 23:00"))
        assert rig.alerts(AFTER_HOURS_RULE) == [] and rig.monitor.unwatched() == ["gate-1/store-door"]
    finally:
        rig.close()


def test_an_admin_confirms_or_edits_the_default_windows_audited_and_kept(rig: Rig) -> None:
    rig.announce("gate-2", [{"sensor": "east", "kind": "gate"}])
    rig.monitor.confirm_defaults(None, "admin", local("2026-11-17 12:01"))
    found = rig.monitor.defaults()
    assert found["confirmed"] and found["confirmed_by"] == "admin" and rig.monitor.coverage() == (0, False)
    assert found["school_day"][0] == {"start": "06:30:00", "end": "08:30:00"}
    # Edited: the milk van's 05:30 is inside the school day's first window now.
    edited = DefaultWindows.model_validate({"school_day": [{"start": "05:00", "end": "08:30"}], "other_day": []})
    rig.monitor.confirm_defaults(edited, "admin", local("2026-11-17 12:02"))
    rig.event("gate-2/east", "gate", "open", local("2026-11-18 05:30"))
    assert rig.alerts(AFTER_HOURS_RULE) == []
    rig.event("gate-2/east", "gate", "open", local("2026-11-18 12:30"))
    assert [a.subject for a in rig.alerts(AFTER_HOURS_RULE)] == ["gate-2/east"]
    entries = [e for e in rig.state.audit_entries() if e.action == "calendar.defaults_confirmed"]
    assert [e.actor for e in entries] == ["admin", "admin"] and json.loads(entries[-1].detail)["edited"] is True
    # Kept across a restart (gate.sqlite3, schema step 2).
    rig.monitor.close()
    rig.monitor = rig.open_monitor()
    assert rig.monitor.defaults()["school_day"] == [{"start": "05:00:00", "end": "08:30:00"}]


def test_the_closing_sweep_with_one_gate_left_open(rig: Rig) -> None:
    rig.event("gate-1/main-gate", "gate", "open", local("2026-11-17 16:40"))
    rig.event("gate-1/side-gate", "gate", "open", local("2026-11-17 16:45"))
    rig.event("gate-1/main-gate", "gate", "closed", local("2026-11-17 18:20"))
    rig.at(local("2026-11-17 18:29:59"))
    (midday,) = rig.monitor.store.sweeps(group="main")  # 14:00, before anything was heard of the gates
    assert {v["state"] for v in midday.states.values()} == {"unknown"} and midday.not_closed == 0
    rig.at(local("2026-11-17 18:30:01"))
    sweep = rig.monitor.store.sweeps(group="main")[0]
    assert sweep.closing_at == local("2026-11-17 18:30")
    assert {k: v["state"] for k, v in sweep.states.items()} == {"gate-1/main-gate": "closed",
                                                                "gate-1/side-gate": "open"}
    assert sweep.states["gate-1/side-gate"]["name"] == "侧门" and sweep.not_closed == 1
    assert rig.alerts(NOT_CLOSED_RULE) == []  # the grace runs in the rule state, shown as pending
    (pending,) = [a for a in rig.engine.pending() if a.rule == NOT_CLOSED_RULE]
    assert pending.state == "pending" and pending.subject == "gate-1/side-gate"
    rig.at(local("2026-11-17 18:39:59"))  # the grace (600 s) is not over
    assert rig.alerts(NOT_CLOSED_RULE) == []
    rig.at(local("2026-11-17 18:40:01"))
    alarm = rig.alerts(NOT_CLOSED_RULE)[0]
    assert alarm.state == "firing" and alarm.kind == "gate" and "18:30" in alarm.message
    rig.at(local("2026-11-17 18:45"))
    assert len(rig.monitor.store.sweeps()) == 2  # each closing time is swept once
    rig.event("gate-1/side-gate", "gate", "closed", local("2026-11-17 18:50"))
    assert rig.alerts(NOT_CLOSED_RULE)[0].state == "resolved"
    assert any(e.action == "gate.sweep" for e in rig.state.audit_entries())


def test_a_gate_closed_within_the_grace_is_no_alarm(rig: Rig) -> None:
    rig.event("gate-1/side-gate", "gate", "open", local("2026-11-17 16:45"))
    rig.at(local("2026-11-17 18:30:01"))
    rig.event("gate-1/side-gate", "gate", "closed", local("2026-11-17 18:35"))
    rig.at(local("2026-11-17 18:45"))
    assert rig.alerts(NOT_CLOSED_RULE) == []


def test_sweeps_missed_while_the_hub_was_down_are_caught_up_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, hub_config(), local("2026-11-17 12:00"))
    rig.announce("gate-1", GATES)
    rig.event("gate-1/side-gate", "gate", "open", local("2026-11-17 13:00"))
    rig.at(local("2026-11-17 13:01"))
    rig.monitor.close()
    rig.now = local("2026-11-17 19:00")  # restarted after the 14:00 and 18:30 closings
    rig.monitor = rig.open_monitor()
    rig.monitor.tick()
    closings = sorted(s.closing_at for s in rig.monitor.store.sweeps(group="main"))
    assert closings == [local("2026-11-17 14:00"), local("2026-11-17 18:30")]
    rig.monitor.tick()
    assert len(rig.monitor.store.sweeps(group="main")) == 2
    rig.close()


def test_a_busy_gate_swept_late_reports_its_state_at_closing_time(tmp_path: Path) -> None:
    """Over ten thousand openings in the look-back: the sweep still reads the last one before closing."""
    rig = Rig(tmp_path, hub_config(), local("2026-11-17 12:00"))
    rig.announce("gate-1", GATES)
    start = local("2026-11-10 08:00")
    busy = [StoredEvent("gate-1", "old", i, start + 30 * i, "gate-1/main-gate", "gate",
                        "open" if i % 2 == 0 else "closed") for i in range(10_001)]
    assert busy[-1].state == "open" and busy[-2].state == "closed" and busy[-1].ts < local("2026-11-17 14:00")
    rig.series.write([], busy)
    rig.monitor.close()
    rig.now = local("2026-11-17 14:30")  # the hub comes back after the 14:00 closing ...
    rig.monitor = rig.open_monitor()
    rig.event("gate-1/main-gate", "gate", "closed", local("2026-11-17 14:10"))  # ... and the gate closed since
    rig.monitor.tick()
    (sweep,) = rig.monitor.store.sweeps(group="main")
    assert sweep.closing_at == local("2026-11-17 14:00")
    assert sweep.states["gate-1/main-gate"]["state"] == "open"
    rig.close()


def test_tamper_and_a_lost_door_sensor_are_worse_at_night(rig: Rig) -> None:
    rig.event("gate-1/main-gate", "tamper", "tampered", local("2026-11-17 14:00"))
    rig.event("gate-1/dorm-door", "tamper", "tampered", local("2026-11-17 23:10"))
    by_subject = {a.subject: a for a in rig.alerts(TAMPER_RULE)}
    assert by_subject["gate-1/main-gate"].severity == "warning"
    assert by_subject["gate-1/dorm-door"].severity == "critical"
    assert by_subject["gate-1/dorm-door"].incident == "device:gate-1"
    rig.event("gate-1/dorm-door", "tamper", "ok", local("2026-11-17 23:20"))
    assert {a.subject: a.state for a in rig.alerts(TAMPER_RULE)}["gate-1/dorm-door"] == "resolved"
    # the gate node goes quiet at night: a gate alarm of the same incident as the engine's device_offline
    rig.at(local("2026-11-18 02:00"))
    (offline,) = rig.alerts(SENSOR_OFFLINE_RULE)
    assert offline.severity == "critical" and offline.incident == "device:gate-1" and offline.kind == "gate"
    engine_offline = [a for a in rig.state.alerts() if a.rule == "device_offline"]
    assert engine_offline and engine_offline[0].incident == "device:gate-1"


def _visit(rig: Rig, tag: str, when: str, reader: str = "gate-1/tag-reader") -> None:
    rig.event(reader, "patrol", "visited", local(when), tag=tag, input="tag_reader")


def test_patrol_rounds_complete_and_missed(rig: Rig) -> None:
    # the 12:00–14:00 round: all three checkpoints; the 17:00–19:00 round misses the canteen
    _visit(rig, "04A1B2C3D4", "2026-11-17 12:10")
    _visit(rig, "04a1b2c3e5", "2026-11-17 12:20")
    _visit(rig, "04A1B2C3F6", "2026-11-17 12:30")
    _visit(rig, "DEADBEEF", "2026-11-17 12:31")  # a tag on no checkpoint: logged, not counted
    rig.at(local("2026-11-17 14:00:01"))
    assert rig.alerts(MISSED_ROUND_RULE) == []
    _visit(rig, "04A1B2C3D4", "2026-11-17 17:10")
    rig.event("gate-1/checkpoint-playground", "patrol", "visited", local("2026-11-17 17:20"), input="button")
    rig.at(local("2026-11-17 19:00:01"))
    (missed,) = rig.alerts(MISSED_ROUND_RULE)
    assert missed.kind == "gate" and missed.severity == "warning" and missed.notify_count >= 1
    assert missed.state == "resolved"  # an event: it fired, and waits to be acknowledged and closed
    assert missed.message == "巡更漏检：校园巡更 17:00–19:00 未到 食堂"
    assert missed.data["missing"] == ["canteen"]
    rig.at(local("2026-11-17 19:10"))
    assert len(rig.alerts(MISSED_ROUND_RULE)) == 1  # judged once
    (route,) = rig.monitor.patrol_day(local_date("2026-11-17"))
    assert route["required"] == 5 and route["done"] == 1
    assert [r["complete"] for r in route["rounds"]] == [False, True, False, False, False]
    assert [v["checkpoint"] for v in route["visits"]] == ["gatehouse", "playground", "canteen", "gatehouse",
                                                          "playground"]
    log = rig.monitor.visits(local("2026-11-17 00:00"), local("2026-11-18 00:00"))
    assert len(log) == 6 and log[3]["checkpoint"] is None and log[3]["tag"] == "DEADBEEF"
    assert [r["complete"] for r in rig.monitor.store.rounds(0, 2e9)] == [True, False]


def local_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_overrides_are_persisted_and_rebuild_the_calendar(rig: Rig) -> None:
    spec = OverrideSpec.model_validate({"kind": "extra_window", "groups": ["main"], "reason": "delivery",
                                        "windows": [{"start": "05:30", "end": "06:00"}]})
    stored = rig.monitor.add_override(spec, "王老师")
    rig.event("gate-1/main-gate", "gate", "open", local("2026-11-18 05:45"))
    rig.event("gate-1/main-gate", "gate", "closed", local("2026-11-18 05:50"))
    assert rig.alerts(AFTER_HOURS_RULE) == []
    rig.monitor.close()
    rig.monitor = rig.open_monitor()  # a restart keeps it
    assert [o.id for o in rig.monitor.overrides()] == [stored.id]
    assert rig.monitor.remove_override(stored.id, "王老师")
    assert not rig.monitor.remove_override(stored.id, "王老师")
    rig.event("gate-1/main-gate", "gate", "open", local("2026-11-19 05:45"))
    assert len(rig.alerts(AFTER_HOURS_RULE)) == 1
    actions = [e.action for e in rig.state.audit_entries()]
    assert "calendar.override_added" in actions and "calendar.override_removed" in actions


def test_an_override_for_an_unknown_group_names_the_field(rig: Rig) -> None:
    spec = OverrideSpec.model_validate({"kind": "closed", "date": "2026-11-18", "groups": ["nowhere"]})
    try:
        rig.monitor.add_override(spec, "王老师")
    except GateError as error:
        assert error.field == "groups" and "nowhere" in error.message
    else:
        raise AssertionError("an unknown group was accepted")
