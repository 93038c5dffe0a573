"""Backfill after live data: old readings and events are stored and judged as history.

The backfill lane brings a sensor's backlog after its live data (edge.agent sends what is
recent first), so the rules must not let an old observation fire an alarm about the past
or rewind the state a newer one set. Real stores, no broker (hub.ingest.IngestPipeline).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge import wire
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings

SITE = "s1"


def inbound(channel: wire.Channel, payload: object, lane: wire.Lane = wire.Lane.LIVE) -> Inbound:
    return Inbound(wire.topic(SITE, "dev-a", channel, lane), json.dumps(payload).encode(), 1, 1, 0.0, lane)


def status() -> dict[str, object]:
    return {"state": "online", "boot_id": "b1", "ts": 1.0,
            "sensors": [{"sensor": "fridge-1", "kind": "temperature", "unit": "°C", "profile": "fridge"}]}


def telemetry(seq: int, value: float, ts: float) -> dict[str, object]:
    return {"device": "dev-a", "boot_id": "b1", "seq": seq,
            "readings": [{"sensor": "fridge-1", "kind": "temperature", "value": value, "unit": "°C", "ts": ts}]}


def door(seq: int, state: str, ts: float) -> dict[str, object]:
    return {"device": "dev-a", "boot_id": "b1", "seq": seq, "ts": ts, "sensor": "door-1", "kind": "door",
            "state": state}


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    rules = HubConfig.model_validate({"alarm_delay_s": 0, "alerts": {"defaults": {"door_open_max_s": {"door": 60}}}})
    made = Hub(HubSettings(home=tmp_path, rules=rules), connect_mqtt=False)
    made.pipeline.process([inbound(wire.Channel.STATUS, status())])
    return made


def test_an_old_backfilled_excursion_is_stored_but_fires_nothing(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(100, 4.0, 5000.0))])  # live: in range
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(10, 12.0, 1000.0), wire.Lane.BACKFILL)])
    assert [r.value for r in hub.series.readings("dev-a/fridge-1", 0, 6000)] == [12.0, 4.0]
    assert hub.state.alerts() == [] and hub.engine.pending() == []
    assert hub.pipeline.counters.snapshot()["backfill_received"] == 1


def test_an_old_backfilled_reading_does_not_rewind_a_firing_alarm(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(100, 12.0, 5000.0))])  # live: firing
    (alert,) = hub.state.alerts()
    assert alert.state == "firing"
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(10, 4.0, 1000.0), wire.Lane.BACKFILL)])
    (alert,) = hub.state.alerts()
    assert alert.state == "firing"  # the in-range reading from before did not resolve it
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(101, 4.0, 5010.0))])
    (alert,) = hub.state.alerts()
    assert alert.state == "resolved" and alert.resolved_at == 5010.0


def test_a_resolved_alarm_is_not_fired_again_by_its_own_backfill(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(100, 12.0, 5000.0))])
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(101, 4.0, 5010.0))])
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(50, 11.0, 4990.0), wire.Lane.BACKFILL)])
    assert [a.state for a in hub.state.alerts()] == ["resolved"]


def test_an_old_backfilled_door_opening_does_not_start_the_held_open_timer(hub: Hub) -> None:
    hub.pipeline.process([inbound(wire.Channel.EVENT, door(100, "closed", 5000.0))])  # live: closed now
    hub.pipeline.process([inbound(wire.Channel.EVENT, door(10, "open", 1000.0), wire.Lane.BACKFILL)])
    hub.engine.tick(5200.0)  # long past the 60 s limit counted from the old opening
    assert hub.state.alerts() == [] and hub.engine.pending() == []


def test_a_backlog_that_arrives_first_is_judged_in_order(hub: Hub) -> None:
    """With nothing newer seen (the hub was down too), the backlog is the news: its excursion fires."""
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, telemetry(10, 12.0, 1000.0), wire.Lane.BACKFILL)])
    assert [a.state for a in hub.state.alerts()] == ["firing"]


def test_backfill_topics_round_trip_and_only_for_outbox_channels() -> None:
    raw = wire.topic("school-1", "canteen-1", wire.Channel.EVENT, wire.Lane.BACKFILL)
    assert raw == "xiaoan/v1/school-1/canteen-1/backfill/event"
    assert wire.parse_topic(raw) == wire.TopicParts("school-1", "canteen-1", wire.Channel.EVENT, wire.Lane.BACKFILL)
    assert wire.parse_topic(wire.topic("s", "d", wire.Channel.TELEMETRY)).lane is wire.Lane.LIVE
    with pytest.raises(wire.WireError, match="does not travel on the backfill lane"):
        wire.parse_topic("xiaoan/v1/s/d/backfill/status")
    with pytest.raises(ValueError, match="backfill lane"):
        wire.topic("s", "d", wire.Channel.HEALTH, wire.Lane.BACKFILL)


def test_a_backfill_topic_the_hub_cannot_read_is_dead_lettered(hub: Hub) -> None:
    hub.pipeline.process([Inbound("xiaoan/v1/s1/dev-a/backfill/health", b"{}", 1, 1, 0.0, wire.Lane.BACKFILL)])
    assert "backfill lane" in hub.state.dead_letters()[0]["reason"]
