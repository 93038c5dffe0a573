"""The engine over real SQLite state, an injected clock and a notifier that records what it was handed."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge import wire
from hub.alerts.config import AlertsConfig
from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.audit import verify_chain
from hub.rules.silence import Silence
from hub.settings import HubConfig
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert, SensorUpdate, StateStore

TZ = ZoneInfo("Asia/Shanghai")
FRIDGE = wire.SensorInfo(sensor="fridge-1", kind="temperature", unit="°C", profile="fridge", name="冷藏冰箱")


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int | None, str, str]] = []

    def deliver(self, alert: Alert, route: str, reason: str) -> None:
        self.sent.append((alert.id, route, reason))


def engine_config(config: HubConfig) -> HubConfig:
    """The config with the device-offline and stale-sensor rules out of the way of the rule under test."""
    defaults = config.alerts.defaults.model_copy(update={"offline_after_s": 1e9, "stale_after_s": 1e9})
    return config.model_copy(update={"alerts": config.alerts.model_copy(update={"defaults": defaults})})


def build(tmp_path: Path, clock: Clock, config: HubConfig | None = None,
          sensors: tuple[wire.SensorInfo, ...] = (FRIDGE,), quiet_rules: bool = False,
          ) -> tuple[AlertEngine, StateStore, Recorder]:
    """An engine over a fresh store; offline/stale rules are pushed out of the way unless asked for."""
    config = config or HubConfig(alarm_delay_s=900)
    if not quiet_rules:
        config = engine_config(config)
    store = StateStore(tmp_path / "hub.sqlite3")
    store.record_status("s", "canteen-1", "online", "b", "1", clock.now, clock.now, sensors)
    recorder = Recorder()
    engine = AlertEngine(store, config, TZ, notifier=recorder, clock=clock)
    return engine, store, recorder


def reading(value: float | None, ts: float, fault: str | None = None) -> StoredReading:
    return StoredReading("canteen-1/fridge-1", ts, value, fault)


def test_escalation_timings_and_acknowledgement(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, recorder = build(tmp_path, clock, HubConfig(alarm_delay_s=0))
    engine.on_readings([reading(9.5, clock.now)])
    (alert,) = store.alerts()
    assert alert.state == "firing"
    assert recorder.sent == [(alert.id, "canteen", "fire")]
    for minutes, expected in ((4, 1), (5, 2), (10, 3), (15, 4), (30, 5)):
        clock.now = alert.fired_at + minutes * 60  # type: ignore[operator]
        engine.tick(clock.now)
        assert len(recorder.sent) == expected, (minutes, recorder.sent)
    assert [(r, why) for _, r, why in recorder.sent] == [
        ("canteen", "fire"), ("canteen", "repeat"), ("canteen_manager", "escalate"), ("canteen_manager", "repeat"),
        ("safety_officer", "escalate")]
    engine.act(alert.id, "acknowledge", "王师傅", "moving food")  # type: ignore[arg-type]
    clock.now += 3600
    engine.tick(clock.now)
    assert len(recorder.sent) == 5  # acknowledged: no more repeats
    engine.on_readings([reading(4.0, clock.now)])
    assert store.alert(alert.id).state == "resolved"  # type: ignore[arg-type,union-attr]
    assert {r for _, r, reason in recorder.sent if reason == "resolved"} == {
        "canteen", "canteen_manager", "safety_officer"}


def test_escalation_survives_restart_without_repeating(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, recorder = build(tmp_path, clock, HubConfig(alarm_delay_s=0))
    engine.on_readings([reading(9.5, clock.now)])
    clock.now += 60
    restarted = AlertEngine(store, engine_config(HubConfig(alarm_delay_s=0)), TZ, notifier=recorder, clock=clock)
    restarted.tick(clock.now)
    assert len(recorder.sent) == 1  # not re-notified because the process restarted


def test_door_held_open(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)
    door = "canteen-1/cold-room-door"
    engine.on_events([StoredEvent("canteen-1", "b", 1, clock.now, door, "door", "open")])
    engine.tick(clock.now + 299)
    assert store.alerts() == []  # the delay runs in the rule state; the page shows it as pending
    assert [(a.state, a.subject, a.id) for a in engine.pending()] == [("pending", door, None)]
    engine.tick(clock.now + 300)
    assert [a.state for a in store.alerts()] == ["firing"]
    engine.on_events([StoredEvent("canteen-1", "b", 2, clock.now + 400, door, "door", "closed")])
    assert [a.state for a in store.alerts()] == ["resolved"]


def test_brief_door_opening_is_not_an_alarm(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, recorder = build(tmp_path, clock)
    door = "canteen-1/cold-room-door"
    engine.on_events([StoredEvent("canteen-1", "b", 1, clock.now, door, "door", "open"),
                      StoredEvent("canteen-1", "b", 2, clock.now + 60, door, "door", "closed")])
    engine.tick(clock.now + 1000)
    assert store.alerts() == [] and store.audit_entries() == []  # not an alarm: no record at all
    assert engine.quiet_episodes[RuleKind.DOOR_OPEN_TOO_LONG] == 1 and engine.pending() == []
    assert recorder.sent == []


def test_rise_while_the_door_is_open_is_one_incident(tmp_path: Path) -> None:
    clock = Clock()
    config = HubConfig(alarm_delay_s=600, alerts=AlertsConfig.model_validate(
        {"units": [{"temperature": "canteen-1/fridge-1", "door": "canteen-1/fridge-1-door"}]}))
    engine, store, recorder = build(tmp_path, clock, config)
    start = clock.now
    engine.on_events([StoredEvent("canteen-1", "b", 1, start, "canteen-1/fridge-1-door", "door", "open")])
    engine.on_readings([reading(9.0, start + 60)])
    clock.now = start + 700  # door alarm (300 s) and temperature alarm (600 s) both due
    engine.tick(clock.now)
    alerts = store.alerts([AlertState.FIRING])
    assert {a.rule for a in alerts} == {"door_open_too_long", "temperature_limits"}
    assert len({a.incident for a in alerts}) == 1
    assert len(recorder.sent) == 1  # one incident, one message
    clock.now += 300  # a repeat is due: still one message per incident
    engine.tick(clock.now)
    assert len(recorder.sent) == 2


def test_sensor_fault_needs_to_persist(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)
    engine.on_readings([reading(None, clock.now, fault="crc")])
    engine.on_readings([reading(4.0, clock.now + 10)])
    assert store.alerts() == []  # one bad CRC is not an alarm
    engine.on_readings([reading(None, clock.now + 20, fault="disconnected")])
    engine.tick(clock.now + 81)
    (alert,) = store.alerts()
    assert alert.state == "firing" and "disconnected" in alert.message


def test_stale_sensor_and_offline_device(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock, quiet_rules=True)
    store.commit_ingest([], clock.now, [SensorUpdate("canteen-1/fridge-1", "canteen-1", "fridge-1", "temperature",
                                                     "°C", 4.0, clock.now)], [])
    engine.tick(clock.now + 100)
    assert store.alerts() == []
    store.record_health("canteen-1", "{}", clock.now + 200)  # the device talks, the probe does not
    engine.tick(clock.now + 301)
    assert [(a.rule, a.state) for a in store.alerts()] == [("sensor_stale", "firing")]
    engine.tick(clock.now + 200 + 121)  # and now the whole device went quiet
    rules = {a.rule: a.state for a in store.alerts()}
    assert rules[RuleKind.DEVICE_OFFLINE] == "firing"


def test_offline_last_will_clears_when_back(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock, quiet_rules=True)
    store.record_status("s", "canteen-1", "offline", "b", "1", clock.now, clock.now, ())
    engine.tick(clock.now + 119)
    assert store.alerts() == []
    engine.tick(clock.now + 121)
    assert [a.rule for a in store.alerts([AlertState.FIRING])] == ["device_offline"]
    store.record_status("s", "canteen-1", "online", "b2", "1", clock.now + 200, clock.now + 200, ())
    engine.tick(clock.now + 201)
    assert store.alerts([AlertState.FIRING]) == []


def test_clock_and_dropped_readings_from_health(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)

    def health(synced: bool, dropped: int) -> wire.Health:
        return wire.Health(device="canteen-1", boot_id="b", ts=1.0, uptime_s=1.0, outbox_depth=0, dropped=dropped,
                           clock_synced=synced)

    engine.on_health("canteen-1", health(False, 0), clock.now)
    engine.on_health("canteen-1", health(False, 0), clock.now + 601)
    engine.on_health("canteen-1", health(True, 0), clock.now + 700)
    engine.on_health("canteen-1", health(True, 250), clock.now + 800)
    states = [(a.rule, a.state) for a in store.alerts()]
    assert ("clock_unsynced", "resolved") in states
    assert ("outbox_dropping", "firing") in states
    assert "250" in next(a.message for a in store.alerts() if a.rule == "outbox_dropping")
    engine.on_health("canteen-1", health(True, 250), clock.now + 800 + 3601)
    assert next(a for a in store.alerts() if a.rule == "outbox_dropping").state == "resolved"


def test_silence_across_midnight_holds_notifications_then_releases(tmp_path: Path) -> None:
    midnight_defrost = AlertsConfig.model_validate({"maintenance": [
        {"subject": "canteen-1/*", "rules": ["temperature_limits"], "start": "23:50", "end": "00:20",
         "reason": "defrost"}]})
    clock = Clock(datetime(2026, 11, 20, 23, 55, tzinfo=TZ).timestamp())
    engine, store, recorder = build(tmp_path, clock, HubConfig(alarm_delay_s=0, alerts=midnight_defrost))
    engine.on_readings([reading(10.0, clock.now)])
    (alert,) = store.alerts()
    assert alert.state == "firing" and alert.silenced  # recorded, not notified
    assert recorder.sent == []
    clock.now = datetime(2026, 11, 21, 0, 15, tzinfo=TZ).timestamp()
    engine.tick(clock.now)
    assert recorder.sent == []  # still inside the window after midnight
    clock.now = datetime(2026, 11, 21, 0, 21, tzinfo=TZ).timestamp()
    engine.tick(clock.now)
    assert recorder.sent == [(alert.id, "canteen", "fire")]  # still warm after the window: notify now


def test_channel_failure_is_an_alert_of_its_own(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)
    engine.on_channel_failure("wecom", "HTTP 500")
    (alert,) = store.alerts()
    assert (alert.rule, alert.state, alert.subject) == ("channel_failing", "firing", "wecom")
    engine.on_channel_ok("wecom")
    assert store.alerts()[0].state == "resolved"


def test_every_change_is_audited_and_tampering_is_detected(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock, HubConfig(alarm_delay_s=0))
    engine.on_readings([reading(9.5, clock.now)])
    (alert,) = store.alerts()
    assert alert.id is not None
    engine.act(alert.id, "acknowledge", "王师傅", "")
    engine.on_readings([reading(4.0, clock.now + 60)])
    engine.act(alert.id, "close", "王师傅", "moved the food")
    engine.act(alert.id, "verify", "李主任", "ok")
    entries = store.audit_entries()
    actions = [e.action for e in entries]
    for expected in ("alert.firing", "acknowledge", "alert.resolved", "close", "verify"):
        assert expected in actions
    assert verify_chain(entries) == []
    store.close()

    db = sqlite3.connect(tmp_path / "hub.sqlite3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET actor = 'someone else' WHERE action = 'verify'")
    db.execute("DROP TRIGGER audit_no_update")  # deliberate tampering with the file
    db.execute("UPDATE audit SET actor = 'someone else' WHERE action = 'verify'")
    db.commit()
    db.close()
    tampered = StateStore(tmp_path / "hub.sqlite3")
    problems = verify_chain(tampered.audit_entries())
    assert any("altered" in p for p in problems)


def test_observed_conditions_go_through_delay_and_clear(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, recorder = build(tmp_path, clock)
    observe = {"kind": "gate", "severity": "critical", "device": "gate-1", "message": "东门未关闭"}
    engine.observe("gate_not_closed", "gate-1/east", True, clock.now, delay_s=600, **observe)  # type: ignore[arg-type]
    assert store.alerts() == [] and [a.message for a in engine.pending()] == ["东门未关闭"]
    engine.tick(clock.now + 601)  # the delay runs out without another observation
    (alert,) = store.alerts()
    assert (alert.state, alert.message, alert.kind) == ("firing", "东门未关闭", "gate")
    assert recorder.sent == [(alert.id, "gatekeeper", "fire")]
    engine.observe("gate_not_closed", "gate-1/east", False, clock.now + 700, delay_s=600, **observe)  # type: ignore[arg-type]
    assert store.alerts()[0].state == "resolved"
    assert engine.observe("gate_not_closed", "gate-1/west", False, clock.now, **observe) is None  # type: ignore[arg-type]
    assert len(store.alerts()) == 1


def test_ended_conditions_leave_no_rule_state_behind(tmp_path: Path) -> None:
    """A condition that cleared is forgotten (one per meal or patrol round would otherwise pile up forever)."""
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)
    for day in range(5):
        subject = f"samples:2026-10-0{day + 1}:lunch"
        engine.observe(RuleKind.SAMPLE_MISSING, subject, True, clock.now + day, kind=AlertKind.SAMPLE,
                       severity=Severity.WARNING,
                       device="hub", message="午餐未留样")
        engine.observe(RuleKind.SAMPLE_MISSING, subject, False, clock.now + day + 1, kind=AlertKind.SAMPLE,
                       severity=Severity.WARNING,
                       device="hub", message="")
    engine.on_readings([reading(None, clock.now, fault="crc"), reading(4.0, clock.now + 10)])
    assert store.rule_states() == {}
    assert [a.state for a in store.alerts()].count(AlertState.RESOLVED) == 5


def test_the_drop_counter_outlives_the_episode(tmp_path: Path) -> None:
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)

    def health(dropped: int) -> wire.Health:
        return wire.Health(device="canteen-1", boot_id="b", ts=1.0, uptime_s=1.0, outbox_depth=0, dropped=dropped,
                           clock_synced=True)

    engine.on_health("canteen-1", health(40), clock.now)
    engine.on_health("canteen-1", health(40), clock.now + 3601)  # quiet for an hour: resolved
    restarted = AlertEngine(store, engine_config(HubConfig()), TZ, notifier=Recorder(), clock=clock)
    restarted.on_health("canteen-1", health(40), clock.now + 3700)  # same count after a restart: no new alarm
    assert [a.state for a in store.alerts() if a.rule == "outbox_dropping"] == ["resolved"]
    restarted.on_health("canteen-1", health(55), clock.now + 3800)
    assert [a.state for a in store.alerts() if a.rule == "outbox_dropping"] == ["firing", "resolved"]
    assert "15" in store.alerts()[0].message


def test_a_hundred_door_openings_within_the_allowed_time_leave_no_record(tmp_path: Path) -> None:
    """Issue 15 item 11: only alarms are records; the openings are a count, not alert rows and audit entries."""
    clock = Clock()
    engine, store, recorder = build(tmp_path, clock)
    door = "canteen-1/cold-room-door"
    audit_before = len(store.audit_entries())
    for i in range(100):
        at = clock.now + i * 120
        engine.on_events([StoredEvent("canteen-1", "b", 2 * i, at, door, "door", "open")])
        engine.tick(at + 30)
        engine.on_events([StoredEvent("canteen-1", "b", 2 * i + 1, at + 60, door, "door", "closed")])
    assert store.alerts(limit=1000) == []
    assert len(store.audit_entries()) == audit_before
    assert engine.quiet_episodes[RuleKind.DOOR_OPEN_TOO_LONG] == 100 and recorder.sent == []
    # a real alarm is unchanged: held open past 300 s it fires, is recorded and audited
    last = clock.now + 100 * 120
    engine.on_events([StoredEvent("canteen-1", "b", 500, last, door, "door", "open")])
    engine.tick(last + 300)
    (alert,) = store.alerts()
    assert alert.state == "firing" and alert.started_at == last
    assert [e.action for e in store.audit_entries()][-2:] == ["alert.firing", "alert.notified"]


def test_an_edit_never_ends_a_running_excursion(tmp_path: Path) -> None:
    """Issue 15 item 1: the alarm is judged by the limits it began under; loosening them does not resolve it."""
    clock = Clock()
    engine, store, _ = build(tmp_path, clock, HubConfig(alarm_delay_s=60))
    key = "canteen-1/fridge-1"
    engine.on_readings([reading(11.1, clock.now)])
    engine.tick(clock.now + 61)
    assert [a.state for a in store.alerts()] == ["firing"]
    store.save_limit_edit(key, {"low": 0.0, "high": 12.0}, "manager", clock.now + 70)
    engine.refresh_sensors()
    engine.on_readings([reading(11.1, clock.now + 80)])
    engine.tick(clock.now + 90)
    (alert,) = store.alerts()
    assert alert.state == "firing" and alert.resolved_at is None
    engine.on_readings([reading(4.0, clock.now + 100)])  # back inside the limits it began under: over
    assert store.alerts()[0].state == "resolved"
    engine.on_readings([reading(11.1, clock.now + 200)])  # a new excursion is judged by the new limits
    engine.tick(clock.now + 400)
    assert [a.state for a in store.alerts()] == ["resolved"]


def test_an_endless_silence_from_before_ends_after_the_maximum(tmp_path: Path) -> None:
    """Silences stored without an end (before every silence had to end) are over after ``silence_max_s``."""
    clock = Clock()
    engine, store, _ = build(tmp_path, clock)
    day = 86_400.0
    store.add_silence(Silence(subject="canteen-1/*", reason="old"), "someone", clock.now - 8 * day)
    store.add_silence(Silence(subject="canteen-1/fridge-*", reason="recent"), "someone", clock.now - day)
    assert [s.reason for s in engine.silences()] == ["recent"]
    clock.now += 6 * day + 1
    assert engine.silences() == []
