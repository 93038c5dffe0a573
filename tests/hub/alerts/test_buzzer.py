"""What the hub tells the nodes' buzzers: over a real engine and state store, with the commands recorded at the
publish seam (the broker path is covered end to end in tests/test_buzzer_e2e.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge import wire
from hub.alerts.buzzer import BuzzerWant, EdgeBuzzers, wanted
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.notify.base import Notification
from hub.notify.local import EdgeBuzzerChannel
from hub.rules.silence import Silence
from hub.settings import HubConfig
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert
from tests.hub.alerts.test_engine import FRIDGE, TZ, Clock, build

FREEZER = wire.SensorInfo(sensor="freezer-1", kind="temperature", unit="°C", profile="freezer", name="冷冻柜")


class Node:
    """Records the commands the hub publishes, per device."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int | None, str]] = []
        self.broken = False

    def __call__(self, device: str, command: wire.Command) -> None:
        if self.broken:
            raise ConnectionError("broker away")
        self.sent.append((device, command.action, command.alert, command.sensor))

    def take(self) -> list[tuple[str, int | None, str]]:
        """The commands since the last take, without the device (always canteen-1 here)."""
        taken = [(action, alert, sensor) for _, action, alert, sensor in self.sent]
        self.sent.clear()
        return taken


class Setup:
    def __init__(self, tmp_path: Path, config: HubConfig | None = None) -> None:
        self.clock = Clock()
        self.engine, self.store, _ = build(tmp_path, self.clock, config or HubConfig(alarm_delay_s=0),
                                           sensors=(FRIDGE, FREEZER))
        self.node = Node()
        self.connected = True
        self.buzzers = EdgeBuzzers(self.store, self.engine.silences, self.node, TZ, acknowledge=self.engine.act,
                                   connected=lambda: self.connected, clock=self.clock)
        self.engine.add_listener(self.buzzers.on_alert)
        self.buzzers.tick(self.clock.now)  # connected, and the device seen online
        self.seq = 0

    def read(self, *values: tuple[str, float, float]) -> None:
        """One batch of (sensor, value, seconds from now) readings."""
        self.engine.on_readings([StoredReading(f"canteen-1/{sensor}", self.clock.now + dt, value)
                                 for sensor, value, dt in values])

    def tick(self, seconds: float = 1.0) -> None:
        self.clock.now += seconds
        self.buzzers.tick(self.clock.now)

    def alert(self, sensor: str = "fridge-1") -> Alert:
        (found,) = [a for a in self.store.alerts() if a.subject == f"canteen-1/{sensor}"]
        return found

    def heartbeat(self, **report: object) -> None:
        buzzer = wire.BuzzerReport.model_validate(report, strict=False)
        health = wire.Health(device="canteen-1", boot_id="b", ts=self.clock.now, uptime_s=1.0, outbox_depth=0,
                             dropped=0, clock_synced=True, buzzer=buzzer)
        self.store.record_health("canteen-1", health.model_dump_json(), self.clock.now)

    def button(self, alerts: str, sensors: str = "") -> None:
        self.seq += 1
        self.buzzers.on_events([StoredEvent("canteen-1", "b", self.seq, self.clock.now, "canteen-1/alarm-button",
                                            wire.ALARM_BUTTON_KIND, "pressed",
                                            json.dumps({"alerts": alerts, "sensors": sensors}))])


def alert_in(state: str, subject: str = "canteen-1/fridge-1") -> Alert:
    return Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject=subject, kind=AlertKind.TEMPERATURE,
                 severity=Severity.CRITICAL, state=AlertState(state),
                 message="", started_at=0.0, updated_at=0.0, id=1)


@pytest.mark.parametrize(("state", "silenced", "want"), [
    ("pending", False, None),
    ("firing", False, BuzzerWant.SOUND),
    ("firing", True, BuzzerWant.SILENCE),
    ("acknowledged", False, BuzzerWant.SILENCE),
    ("resolved", False, BuzzerWant.OFF),
    ("cancelled", False, BuzzerWant.OFF),
    ("closed", False, BuzzerWant.OFF),
    ("verified", False, BuzzerWant.OFF),
])
def test_what_the_buzzer_should_do_about_an_alert(state: str, silenced: bool, want: BuzzerWant | None) -> None:
    silences = [Silence(subject="canteen-1/fridge-*", ends_at=2e9)] if silenced else []
    assert wanted(alert_in(state), silences, 1.9e9, TZ) is want
    assert wanted(alert_in(state, subject="canteen-1"), silences, 1.9e9, TZ) is None  # a device has no sensor
    other_rule = [Silence(subject="canteen-1/*", rules=frozenset({"sensor_fault"}), ends_at=2e9)]
    if state == "firing":
        assert wanted(alert_in(state), other_rule, 1.9e9, TZ) is BuzzerWant.SOUND


def test_each_alert_sounds_and_ends_on_its_own(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0), ("freezer-1", -5.0, 0))
    fridge, freezer = hub.alert("fridge-1").id, hub.alert("freezer-1").id
    assert sorted(hub.node.take()) == sorted([("alarm_on", fridge, "fridge-1"), ("alarm_on", freezer, "freezer-1")])
    hub.read(("fridge-1", 4.0, 60))
    assert hub.node.take() == [("alarm_off", fridge, "fridge-1")]
    hub.tick()
    assert hub.node.take() == []  # nothing changed: nothing sent again


def test_an_alert_that_fired_and_resolved_in_one_batch_is_never_sounded(tmp_path: Path) -> None:
    """A replayed backlog: the node hears only the end, not alarm_on and alarm_off 1 ms apart (a chirp)."""
    hub = Setup(tmp_path, HubConfig(alarm_delay_s=900))
    hub.read(("fridge-1", 9.5, 0), ("fridge-1", 9.5, 900), ("fridge-1", 4.0, 1000),  # fired, resolved
             ("fridge-1", 9.5, 1100), ("fridge-1", 4.0, 1200))  # pending, cancelled
    assert [a.state for a in hub.store.alerts()] == ["resolved"]  # the second excursion never fired
    assert hub.node.take() == [("alarm_off", hub.store.alerts()[0].id, "fridge-1")]


def test_acknowledging_silences_the_node(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0))
    alert_id = hub.alert().id
    assert alert_id is not None
    hub.node.take()
    hub.engine.act(alert_id, "acknowledge", "王师傅", "moving the food")
    assert hub.node.take() == [("silence", alert_id, "fridge-1")]
    hub.read(("fridge-1", 4.0, 60))
    assert hub.node.take() == [("alarm_off", alert_id, "fridge-1")]


def test_a_silence_covering_the_sensor_silences_the_node_while_it_lasts(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0), ("freezer-1", -5.0, 0))
    fridge = hub.alert("fridge-1").id
    hub.node.take()
    hub.store.add_silence(Silence(subject="canteen-1/fridge-*", ends_at=hub.clock.now + 600), "admin", hub.clock.now)
    hub.tick()
    assert hub.node.take() == [("silence", fridge, "fridge-1")]  # the freezer keeps sounding
    hub.tick()
    assert hub.node.take() == []
    hub.tick(600)  # the silence is over and the fridge is still warm: sound again
    assert hub.node.take() == [("alarm_on", fridge, "fridge-1")]


def test_a_maintenance_window_silences_the_node(tmp_path: Path) -> None:
    config = HubConfig.model_validate({"alarm_delay_s": 0, "alerts": {"maintenance": [
        {"subject": "canteen-1/freezer-1", "start": "00:00", "end": "23:59", "reason": "defrost"}]}})
    hub = Setup(tmp_path, config)
    hub.read(("freezer-1", -5.0, 0))
    assert hub.node.take() == [("silence", hub.alert("freezer-1").id, "freezer-1")]


def test_what_is_wanted_is_sent_again_when_the_device_comes_back_and_when_the_hub_reconnects(
        tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0), ("freezer-1", -5.0, 0))
    fridge, freezer = hub.alert("fridge-1").id, hub.alert("freezer-1").id
    assert fridge is not None
    hub.engine.act(fridge, "acknowledge", "王师傅")
    hub.tick()
    hub.node.take()
    hub.store.record_status("s", "canteen-1", "offline", "b", "1", hub.clock.now, hub.clock.now, ())
    hub.tick()
    hub.node.take()  # sent to nobody (a clean session): it will be sent again
    hub.store.record_status("s", "canteen-1", "online", "b2", "1", hub.clock.now, hub.clock.now, (FRIDGE, FREEZER))
    hub.tick()
    assert sorted(hub.node.take()) == sorted([("silence", fridge, "fridge-1"), ("alarm_on", freezer, "freezer-1")])
    hub.tick()
    assert hub.node.take() == []
    hub.connected = False
    hub.tick()
    hub.connected = True
    hub.tick()
    assert sorted(hub.node.take()) == sorted([("silence", fridge, "fridge-1"), ("alarm_on", freezer, "freezer-1")])


def test_a_command_that_could_not_be_published_is_sent_at_the_next_tick(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.node.broken = True
    hub.read(("fridge-1", 9.5, 0))
    hub.node.broken = False
    hub.tick()
    assert hub.node.take() == [("alarm_on", hub.alert().id, "fridge-1")]


def test_a_heartbeat_that_disagrees_gets_what_differs_again(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0), ("freezer-1", -5.0, 0))
    fridge, freezer = hub.alert("fridge-1").id, hub.alert("freezer-1").id
    assert fridge is not None
    hub.engine.act(fridge, "acknowledge", "王师傅")
    hub.tick()
    hub.node.take()
    # A heartbeat written before the commands arrived: not acted on within the grace.
    hub.heartbeat(sounding=True, sensors=["fridge-1"])
    hub.tick()
    assert hub.node.take() == []
    hub.clock.now += 10
    # The node lost the freezer's alarm, still sounds for alert 999 the hub ended, and its own fridge alarm
    # holds the buzzer while the fridge's alert is acknowledged.
    hub.heartbeat(sounding=True, alerts=[999], sensors=["fridge-1"])
    hub.tick()
    assert sorted(hub.node.take()) == sorted([("alarm_on", freezer, "freezer-1"), ("silence", fridge, "fridge-1"),
                                              ("alarm_off", 999, "")])
    hub.tick()
    assert hub.node.take() == []  # that heartbeat was compared already
    hub.clock.now += 10
    hub.heartbeat(sounding=True, alerts=[freezer], silenced_alerts=[fridge])
    hub.tick()
    assert hub.node.take() == []  # in agreement


def test_the_buzzer_route_cannot_re_sound_an_alert_that_is_over(tmp_path: Path) -> None:
    """A "resolved" message on a route with the buzzer channel once sent ``alarm_on`` after ``alarm_off``."""
    hub = Setup(tmp_path)
    channel = EdgeBuzzerChannel("buzzer", hub.buzzers.route_command, clock=hub.clock)
    hub.read(("fridge-1", 9.5, 0))
    alert_id = hub.alert().id
    hub.read(("fridge-1", 4.0, 60))
    assert hub.node.take() == [("alarm_on", alert_id, "fridge-1"), ("alarm_off", alert_id, "fridge-1")]
    note = Notification(alert_id=alert_id, incident_key="k", severity=Severity.CRITICAL, title="冷藏冰箱（已恢复）",
                        body="", tier="canteen", created_at=hub.clock.now, subject="canteen-1/fridge-1")
    assert channel.send(note).ok
    assert hub.node.take() == []  # the node already has alarm_off; nothing re-sounds it


def test_the_alarm_button_acknowledges_as_the_device(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0), ("freezer-1", -5.0, 0))
    fridge, freezer = hub.alert("fridge-1"), hub.alert("freezer-1")
    hub.node.take()
    hub.button(alerts=str(fridge.id), sensors="freezer-1")  # the freezer sounded locally, unknown to the node
    for alert in (hub.alert("fridge-1"), hub.alert("freezer-1")):
        assert alert.state == "acknowledged" and alert.acked_by == "canteen-1"
        assert alert.data["button_pressed_at"] == hub.clock.now
    assert sorted(hub.node.take()) == sorted([("silence", fridge.id, "fridge-1"),
                                              ("silence", freezer.id, "freezer-1")])
    acks = [e for e in hub.store.audit_entries() if e.action == "acknowledge"]
    assert {(e.actor, e.subject) for e in acks} == {("canteen-1", f"alert/{fridge.id}"),
                                                    ("canteen-1", f"alert/{freezer.id}")}
    hub.button(alerts=str(fridge.id))  # a replayed event: already acknowledged, nothing changes
    assert hub.node.take() == []


def test_the_alarm_button_of_another_device_acknowledges_nothing_here(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    hub.read(("fridge-1", 9.5, 0))
    fridge = hub.alert()
    hub.buzzers.on_events([StoredEvent("canteen-2", "b", 1, hub.clock.now, "canteen-2/alarm-button",
                                       wire.ALARM_BUTTON_KIND, "pressed", json.dumps({"alerts": str(fridge.id)}))])
    assert hub.alert().state == "firing"


def test_a_buzzer_route_that_cannot_reach_the_broker_is_a_failed_delivery(tmp_path: Path) -> None:
    hub = Setup(tmp_path)
    channel = EdgeBuzzerChannel("buzzer", hub.buzzers.route_command, clock=hub.clock)
    hub.node.broken = True
    hub.read(("fridge-1", 9.5, 0))
    note = Notification(alert_id=hub.alert().id, incident_key="k", severity=Severity.CRITICAL, title="冷藏冰箱",
                        body="", tier="canteen", created_at=hub.clock.now, subject="canteen-1/fridge-1")
    assert not channel.send(note).ok
    hub.node.broken = False
    assert channel.send(note).ok
    assert hub.node.take() == [("alarm_on", hub.alert().id, "fridge-1")]
