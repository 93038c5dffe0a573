"""Per-device quotas at the hub: dead letters capped, pruned by age and alarmed; a rate limit per device.

Real stores, no broker (the pipeline on its own, as tests/hub/test_ingest.py).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from edge import wire
from hub.alerts.kinds import AlertState, RuleKind
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.state import StateStore

SITE = "s1"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60)), connect_mqtt=False)


def inbound(device: str, payload: bytes, channel: wire.Channel = wire.Channel.TELEMETRY, at: float = 0.0) -> Inbound:
    return Inbound(wire.topic(SITE, device, channel), payload, 1, 1, at)


def reading(device: str, seq: int, ts: float) -> bytes:
    return json.dumps({"device": device, "boot_id": "b1", "seq": seq, "readings": [
        {"sensor": "fridge-1", "kind": "temperature", "value": 4.0, "unit": "°C", "ts": ts}]}).encode()


def test_a_flood_of_malformed_payloads_is_capped_per_device_alarmed_and_others_still_flow(hub: Hub) -> None:
    """200 malformed 60 KiB payloads from one device: at most the cap kept, the rest counted, one alarm."""
    junk = b"{" + b"x" * (60 * 1024)
    cap = hub.settings.dead_letters_per_device
    for start in range(0, 200, 25):
        batch = [inbound("dev-x", junk) for _ in range(25)]
        batch.append(inbound("dev-a", reading("dev-a", start + 1, 1000.0 + start)))
        held = hub.pipeline.process(batch)
        assert ("dev-a", start + 1) in {(h.device, h.seq) for h in held}

    assert hub.pipeline.counters.snapshot()["dead_letters"] == 200
    assert hub.state.dead_letter_count("dev-x") == cap
    assert hub.state.dead_letters_dropped() == {"dev-x": 200 - cap}
    with sqlite3.connect(hub.state.path) as db:
        (kept_bytes,) = db.execute("SELECT coalesce(sum(length(payload)), 0) FROM dead_letters").fetchone()
    assert kept_bytes <= cap * 64 * 1024
    # the other device's readings were all stored
    assert len(hub.series.readings("dev-a/fridge-1", 0, 2000)) == 8
    alarms = [a for a in hub.state.alerts() if a.rule == RuleKind.DEAD_LETTERS]
    assert [(a.subject, a.state) for a in alarms] == [("dev-x", AlertState.FIRING)]


def test_the_dead_letter_alarm_clears_after_a_quiet_window(hub: Hub) -> None:
    now = hub.pipeline.clock()
    hub.pipeline.process([inbound("dev-x", b"{oops") for _ in range(hub.settings.dead_letter_alarm_count)])
    assert any(a.rule == RuleKind.DEAD_LETTERS and a.state == AlertState.FIRING for a in hub.state.alerts())
    hub.pipeline.dead_letter_tick(now + hub.settings.dead_letter_alarm_window_s + 5)
    assert not any(a.rule == RuleKind.DEAD_LETTERS and a.state == AlertState.FIRING for a in hub.state.alerts())


def test_a_few_dead_letters_raise_no_alarm(hub: Hub) -> None:
    hub.pipeline.process([inbound("dev-x", b"{oops") for _ in range(3)])
    assert hub.state.dead_letter_count("dev-x") == 3
    assert not [a for a in hub.state.alerts() if a.rule == RuleKind.DEAD_LETTERS]


def test_dead_letters_are_pruned_by_age_and_counted(hub: Hub) -> None:
    now = hub.pipeline.clock()
    days = hub.settings.dead_letter_retention_days
    hub.pipeline.process([inbound("dev-x", b"{old", at=now - (days + 1) * 86_400) for _ in range(3)]
                         + [inbound("dev-x", b"{new", at=now - 60)])
    assert hub.state.dead_letter_count("dev-x") == 4
    hub._prune_dead_letters(now)
    assert hub.state.dead_letter_count("dev-x") == 1
    assert hub.state.dead_letters_dropped() == {"dev-x": 3}
    assert "prune-dead-letters" in hub.scheduler.names


def test_a_device_over_its_rate_is_refused_unconfirmed_and_others_are_not(tmp_path: Path) -> None:
    """Beyond its burst a device's messages are counted and not confirmed (the edge keeps them); others flow."""
    hub = Hub(HubSettings(home=tmp_path, device_rate_per_s=1.0, device_burst=5.0), connect_mqtt=False)
    batch = [inbound("dev-x", reading("dev-x", seq, 1000.0 + seq)) for seq in range(1, 21)]
    batch += [inbound("dev-a", reading("dev-a", seq, 1000.0 + seq)) for seq in range(1, 4)]
    held = hub.pipeline.process(batch)
    confirmed = {(h.device, h.seq) for h in held}
    assert {seq for device, seq in confirmed if device == "dev-x"} == {1, 2, 3, 4, 5}
    assert {seq for device, seq in confirmed if device == "dev-a"} == {1, 2, 3}
    assert hub.pipeline.counters.snapshot()["rate_limited"] == 15
    assert len(hub.series.readings("dev-x/fridge-1", 0, 2000)) == 5
    assert hub.state.dead_letter_count() == 0  # refused, not dead-lettered: valid readings stay on the edge


def test_state_schema_4_gives_old_dead_letters_their_device(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    StateStore(path).close()
    with sqlite3.connect(path) as db:  # as a version 3 database: no device column yet, nor later tables
        db.execute("DROP TABLE notes")
        db.execute("DROP TABLE alert_actions")
        db.execute("DROP TABLE alert_changes")
        db.execute("DROP INDEX dead_letters_device")
        db.execute("DROP INDEX dead_letters_received")
        db.execute("DROP TABLE dead_letter_drops")
        db.execute("ALTER TABLE dead_letters DROP COLUMN device")
        StateStore.MIGRATIONS[0].run(db)  # version 1's tables that version 8 dropped (the retired scale-out's)
        db.execute("UPDATE schema_version SET version = 3 WHERE store = 'state'")
        db.execute("INSERT INTO dead_letters (received, topic, reason, size, payload)"
                   " VALUES (1, 'xiaoan/v1/s1/dev-old/telemetry', 'malformed JSON', 1, x'7b')")
    store = StateStore(path)
    try:
        assert store.schema_version == StateStore.MIGRATIONS[-1].version
        assert store.dead_letter_count("dev-old") == 1
    finally:
        store.close()
