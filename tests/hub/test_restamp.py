"""Readings taken before a node's clock synced: held, then re-stamped from the boot's anchor (hub.restamp).

The scenario of issue 25 at the pipeline: a Pi's wall clock says 2 January 1970, the
kernel says "unsynchronised", the network is up. Its readings reach the hub at once;
then NTP sets the clock and the next heartbeat carries the anchor. Real stores, no broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from edge import wire
from hub import restamp
from hub.app import create_app
from hub.ingest import Inbound, IngestPipeline
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.base import SeriesStore
from hub.store.state import StateStore, UntimedReading
from tests.hub.auth_helpers import authorize

SITE = "s1"
KEY = "dev-a/fridge-1"
BOOT = "boot-1"
#: What the Pi's wall clock said at monotonic 0: 1970-01-02 (the time it booted with).
WRONG_WALL_AT_MONO_0 = 86_400.0
#: What it truly was at monotonic 0 (known only once NTP has set the clock).
TRUE_WALL_AT_MONO_0 = 1_795_257_000.0
UNSYNCED = 20


def inbound(channel: wire.Channel, message: BaseModel, device: str = "dev-a") -> Inbound:
    return Inbound(wire.topic(SITE, device, channel), wire.encode(message), 1, 1, 0.0)


def status() -> Inbound:
    return inbound(wire.Channel.STATUS, wire.Status(state="online", boot_id=BOOT, ts=WRONG_WALL_AT_MONO_0, sensors=(
        wire.SensorInfo(sensor="fridge-1", kind="temperature", unit="°C", profile="fridge"),)))


def unsynced_telemetry(seq: int, mono: float, value: float = 4.0, with_mono: bool = True) -> Inbound:
    """A reading taken before sync: 1970 wall time, flagged, with its monotonic time (a current node)."""
    reading = wire.Reading(sensor="fridge-1", kind="temperature", value=value, unit="°C",
                           ts=WRONG_WALL_AT_MONO_0 + mono, clock_synced=False, mono=mono if with_mono else None)
    return inbound(wire.Channel.TELEMETRY, wire.Telemetry(device="dev-a", boot_id=BOOT, seq=seq, readings=(reading,)))


def synced_telemetry(seq: int, mono: float, value: float = 4.0) -> Inbound:
    reading = wire.Reading(sensor="fridge-1", kind="temperature", value=value, unit="°C",
                           ts=TRUE_WALL_AT_MONO_0 + mono)
    return inbound(wire.Channel.TELEMETRY, wire.Telemetry(device="dev-a", boot_id=BOOT, seq=seq, readings=(reading,)))


def heartbeat(mono: float, synced: bool = True) -> Inbound:
    wall = (TRUE_WALL_AT_MONO_0 if synced else WRONG_WALL_AT_MONO_0) + mono
    return inbound(wire.Channel.HEALTH, wire.Health(device="dev-a", boot_id=BOOT, ts=wall, uptime_s=mono,
                                                    outbox_depth=0, dropped=0, clock_synced=synced, mono=mono))


def monos(count: int = UNSYNCED) -> list[float]:
    return [10.0 + 15.0 * i for i in range(count)]  # one reading every 15 s from 10 s after boot


def restamp_audits(state: StateStore) -> list[dict[str, object]]:
    return [json.loads(e.detail) for e in state.audit_entries() if e.action == restamp.AUDIT_ACTION]


def run_scenario(pipeline: IngestPipeline, series: SeriesStore, state: StateStore) -> None:
    """Readings published while unsynced are stored; the clock syncs; each ends at its true time, counted."""
    pipeline.process([status()])
    pipeline.process([unsynced_telemetry(seq, mono) for seq, mono in enumerate(monos(), start=1)])
    pipeline.process([heartbeat(monos()[-1] + 5.0, synced=False)])  # no anchor yet: nothing moves
    pipeline.process([heartbeat(400.0), synced_telemetry(UNSYNCED + 1, 401.0)])

    stored = series.readings(KEY, 0, 4e9)
    assert not [r for r in stored if r.ts < 1e9], "a 1970 time was left in the store"
    assert {r.ts for r in stored} >= {TRUE_WALL_AT_MONO_0 + mono for mono in monos()}
    assert len(stored) == UNSYNCED + 1
    assert all(r.clock_synced for r in stored)
    assert state.untimed(KEY) == []
    (audit,) = restamp_audits(state)
    assert audit["readings"] == UNSYNCED and audit["boot_id"] == BOOT
    # In the hours a report would ask for, with the rollup of the hour they fell in.
    hours = series.hourly(KEY, TRUE_WALL_AT_MONO_0 - 3600, TRUE_WALL_AT_MONO_0 + 3600)
    assert sum(h.count for h in hours) == UNSYNCED + 1


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    running = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    yield running
    running.stop()


def test_readings_published_before_sync_end_at_their_true_time(hub: Hub) -> None:
    run_scenario(hub.pipeline, hub.series, hub.state)


def test_until_the_anchor_they_are_held_and_listed_as_time_unknown(hub: Hub) -> None:
    hub.pipeline.process([status()])
    hub.pipeline.process([unsynced_telemetry(seq, mono) for seq, mono in enumerate(monos(3), start=1)])
    assert hub.series.readings(KEY, 0, 4e9) == []  # in no range, report or rollup
    assert [r.mono for r in hub.state.untimed(KEY)] == monos(3)
    with TestClient(create_app(hub.settings, hub=hub)) as client:
        authorize(client, hub)
        body = client.get("/api/readings", params={"sensor": KEY}).json()
    assert body["readings"] == []
    assert [(r["value"], r["time"]) for r in body["untimed"]] == [(4.0, restamp.TIME_UNKNOWN)] * 3
    assert "时间未知" in restamp.TIME_UNKNOWN


def test_restamping_twice_changes_nothing(hub: Hub) -> None:
    run_scenario(hub.pipeline, hub.series, hub.state)
    before = hub.series.readings(KEY, 0, 4e9)
    # More heartbeats of the synced boot (a slightly slewed anchor), a replay of the unsynced messages.
    hub.pipeline.process([heartbeat(460.0), heartbeat(520.0)])
    hub.pipeline.process([unsynced_telemetry(seq, mono) for seq, mono in enumerate(monos(), start=1)])
    assert hub.series.readings(KEY, 0, 4e9) == before
    assert len(restamp_audits(hub.state)) == 1
    # Called again directly for the boot: no held rows, no store write, no audit entry.
    hub.pipeline._restamp({("dev-a", BOOT)}, 1.0)
    assert hub.series.readings(KEY, 0, 4e9) == before
    assert len(restamp_audits(hub.state)) == 1


def test_a_reading_arriving_after_its_boot_was_anchored_is_restamped_at_once(hub: Hub) -> None:
    hub.pipeline.process([status(), heartbeat(400.0)])
    hub.pipeline.process([unsynced_telemetry(1, 50.0)])  # sent before sync, delivered after (another worker)
    assert [r.ts for r in hub.series.readings(KEY, 0, 4e9)] == [TRUE_WALL_AT_MONO_0 + 50.0]
    assert hub.state.untimed() == []


def test_rules_do_not_alarm_on_1970_readings(hub: Hub) -> None:
    hub.pipeline.process([status()])
    # A fridge at 20 °C (limit 8 °C), stamped 1970: held (current node) or stored flagged (older node).
    hub.pipeline.process([unsynced_telemetry(1, 10.0, value=20.0), unsynced_telemetry(2, 25.0, value=20.0)])
    hub.pipeline.process([unsynced_telemetry(3, 40.0, value=20.0, with_mono=False)])
    hub.engine.tick(TRUE_WALL_AT_MONO_0)
    assert hub.state.alerts() == []
    # Re-stamped: history in the store, never an alert decided after the fact on a past time.
    hub.pipeline.process([heartbeat(400.0), synced_telemetry(4, 401.0, value=4.0)])
    hub.engine.tick(TRUE_WALL_AT_MONO_0 + 500)
    assert hub.state.alerts() == []
    assert len(hub.series.readings(KEY, 1e9, 4e9)) == 3


def test_other_boots_and_devices_are_left_alone(hub: Hub) -> None:
    hub.pipeline.process([status(), unsynced_telemetry(1, 10.0)])
    other = wire.Telemetry(device="dev-a", boot_id="boot-0", seq=1, readings=(wire.Reading(
        sensor="fridge-1", kind="temperature", value=4.0, unit="°C", ts=90_000.0, clock_synced=False, mono=5.0),))
    hub.pipeline.process([inbound(wire.Channel.TELEMETRY, other), heartbeat(400.0)])
    assert [(r.boot_id, r.mono) for r in hub.state.untimed(KEY)] == [("boot-0", 5.0)]  # never anchored


def test_the_restamp_arithmetic() -> None:
    offset = restamp.anchor_offset(wall=TRUE_WALL_AT_MONO_0 + 400.0, mono=400.0)
    assert offset == TRUE_WALL_AT_MONO_0
    assert restamp.restamped_ts(12.3456, offset) == TRUE_WALL_AT_MONO_0 + 12.346
    held = [UntimedReading("d", "b", 1, 0, "d/s", 10.0, 86_410.0, 4.5, None, 0.0)]
    (reading,) = restamp.restamp(held, offset)
    assert (reading.sensor, reading.ts, reading.value, reading.clock_synced) == ("d/s", TRUE_WALL_AT_MONO_0 + 10, 4.5,
                                                                                 True)
    assert restamp.hour_spans([7200.5, 3600.0, 3700.0, 14_400.0]) == [(3600.0, 10_800.0), (14_400.0, 18_000.0)]
    assert restamp.hour_spans([]) == []
