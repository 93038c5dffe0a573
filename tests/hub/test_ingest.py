"""The pipeline on its own: validation, dead letters, deduplication, rules — real stores, no broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge import wire
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings

SITE = "s1"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    settings = HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60))
    return Hub(settings, connect_mqtt=False)


def inbound(channel: wire.Channel, payload: object, device: str = "dev-a") -> Inbound:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Inbound(wire.topic(SITE, device, channel), raw, 1, 1, 0.0)


def status(device: str = "dev-a") -> dict[str, object]:
    return {"state": "online", "boot_id": "b1", "ts": 1.0,
            "sensors": [{"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge"}]}


def telemetry(seq: int, value: float, ts: float, device: str = "dev-a") -> dict[str, object]:
    return {"device": device, "boot_id": "b1", "seq": seq,
            "readings": [{"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}


def test_duplicates_are_stored_once(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.STATUS, status())])
    message = inbound(wire.Channel.TELEMETRY, telemetry(1, 4.0, 1000.0))
    hub.pipeline.process([message, message])
    hub.pipeline.process([message])
    assert len(hub.series.readings("dev-a/fridge-1", 0, 2000)) == 1
    counters = hub.pipeline.counters.snapshot()
    assert counters["stored_messages"] == 1
    assert counters["duplicates"] == 2


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    (wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), b"{oops", "malformed JSON"),
    (wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY),
     json.dumps({**telemetry(1, 4.0, 1.0), "seq": "one"}).encode(), "seq"),
    (wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY),
     json.dumps({"device": "dev-a", "boot_id": "b1", "seq": 1}).encode(), "readings"),
    ("xiaoan/v1/s1/dev-a/whatever", b"{}", "unknown channel"),
    ("xiaoan/v9/s1/dev-a/telemetry", b"{}", "unsupported wire version"),
    (wire.topic(SITE, "dev-a", wire.Channel.TELEMETRY), b"[" * 1024 * 1024, "exceeds"),
    (wire.topic(SITE, "dev-b", wire.Channel.TELEMETRY), json.dumps(telemetry(1, 4.0, 1.0)).encode(),
     "does not match"),
])
def test_bad_messages_are_dead_lettered_with_reason(hub: Hub, topic: str, payload: bytes, reason: str) -> None:
    good = inbound(wire.Channel.TELEMETRY, telemetry(7, 4.0, 1000.0))
    hub.pipeline.process([Inbound(topic, payload, 1, 1, 5.0), good])
    letters = hub.state.dead_letters()
    assert len(letters) == 1
    assert reason in letters[0]["reason"]
    assert letters[0]["topic"] == topic
    assert letters[0]["size"] == len(payload)
    assert hub.pipeline.counters.snapshot()["dead_letters"] == 1
    # the good message in the same batch was stored
    assert len(hub.series.readings("dev-a/fridge-1", 0, 2000)) == 1


def test_alert_fires_after_delay_and_clears(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.STATUS, status())])
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(1, 9.5, 1000.0))])
    assert hub.state.alerts() == [] and [a.state for a in hub.engine.pending()] == ["pending"]
    hub.engine.tick(1030.0)
    assert hub.state.alerts() == [] and [a.state for a in hub.engine.pending()] == ["pending"]
    hub.engine.tick(1061.0)
    (alert,) = hub.state.alerts()
    assert alert.state == "firing"
    assert "超出上限 8 °C" in alert.message
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(2, 5.0, 1100.0))])
    (alert,) = hub.state.alerts()
    assert alert.state == "resolved"
    assert alert.resolved_at == 1100.0


def test_pending_delay_survives_a_restart(tmp_path: Path) -> None:
    settings = HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60))
    first = Hub(settings, connect_mqtt=False)
    first.pipeline.process([inbound(wire.Channel.STATUS, status())])
    first.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(1, 9.5, 1000.0))])
    first.stop()
    second = Hub(settings, connect_mqtt=False)
    second.engine.tick(1061.0)  # 61 s after the excursion began, not 61 s after the restart
    (alert,) = second.state.alerts()
    assert alert.state == "firing"
    assert alert.started_at == 1000.0


def test_condition_true_before_start_still_alarms(tmp_path: Path) -> None:
    settings = HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0))
    hub = Hub(settings, connect_mqtt=False)
    hub.pipeline.process([inbound(wire.Channel.STATUS, status()),
                          inbound(wire.Channel.TELEMETRY, telemetry(1, 12.0, 1000.0))])
    assert [a.state for a in hub.state.alerts()] == ["firing"]


def test_hub_config_overrides_profile_limits(tmp_path: Path) -> None:
    rules = HubConfig.model_validate({"alarm_delay_s": 0, "sensors": {"dev-a/fridge-1": {"high": 5.0}}})
    hub = Hub(HubSettings(home=tmp_path, rules=rules), connect_mqtt=False)
    hub.pipeline.process([inbound(wire.Channel.STATUS, status()),
                          inbound(wire.Channel.TELEMETRY, telemetry(1, 6.0, 1000.0))])
    assert [a.threshold for a in hub.state.alerts()] == [5.0]


def test_dedup_looks_up_by_primary_key(hub: Hub) -> None:
    plan = hub.state._db.execute(  # the query unseen() runs, asked for its plan
        "EXPLAIN QUERY PLAN SELECT seq FROM seen WHERE device = ? AND boot_id = ? AND seq IN (?, ?)",
        ("d", "b", 1, 2)).fetchall()
    assert not any("SCAN seen" in str(row[-1]) for row in plan), plan


def test_old_message_ids_are_pruned_and_a_replay_is_still_stored_once(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.STATUS, status())])
    message = inbound(wire.Channel.TELEMETRY, telemetry(1, 4.0, 1000.0))
    hub.pipeline.process([message])
    assert hub.state.prune_seen(older_than=hub.pipeline.clock() + 1) == 1
    hub.pipeline.process([message])  # replayed after its id was forgotten
    assert len(hub.series.readings("dev-a/fridge-1", 0, 2000)) == 1
