"""Before NTP: what an unsynced node sends so the hub can re-stamp, and how it says its kernel never syncs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge import wire
from edge.agent import Agent
from edge.clock import clock_report, reanchor_payload, unsynced_too_long
from edge.config import EdgeSettings
from edge.outbox import Outbox
from edge.sources import Measurement
from hub.broker import free_port
from hub.cli import main


class BootClock:
    """The kernel's clocks at boot of a Pi without an RTC: 1970 on the wall, unsynced, until ``sync``."""

    def __init__(self) -> None:
        self.mono = 12.5
        self.is_synced = False

    def wall(self) -> float:
        return (1_795_257_000.0 if self.is_synced else 86_400.0) + self.mono

    def monotonic(self) -> float:
        return self.mono

    def synced(self) -> bool:
        return self.is_synced


def settings(tmp_path: Path, sync_check: str = "kernel") -> EdgeSettings:
    return EdgeSettings.model_validate({
        "site": "s", "device": "kitchen-1", "state_dir": str(tmp_path / "state"), "clock_sync_check": sync_check,
        "broker": {"host": "127.0.0.1", "port": 9, "username": "kitchen-1", "password": "x"},
        "sources": [{"kind": "simulated_temperature", "sensor": "fridge-1", "profile": "fridge"}]})


def written(outbox: Outbox) -> list[wire.Telemetry]:
    return [wire.decode(wire.Channel.TELEMETRY, row.payload) for row in outbox.peek(0, 100)
            if row.channel is wire.Channel.TELEMETRY]


def test_an_unsynced_reading_carries_its_monotonic_time_and_the_heartbeat_the_anchor(tmp_path: Path) -> None:
    clock = BootClock()
    agent = Agent(settings(tmp_path), clock)
    try:
        agent.record_measurements([Measurement("fridge-1", "temperature", 4.2, "°C")])
        assert not agent.health().clock_synced
        clock.is_synced, clock.mono = True, 30.0
        agent.record_measurements([Measurement("fridge-1", "temperature", 4.3, "°C")])
        health = agent.health()
        before, after = (m.readings[0] for m in written(agent.outbox))
    finally:
        agent.outbox.close()
    assert (before.clock_synced, before.mono, before.ts) == (False, 12.5, 86_412.5)
    assert (after.clock_synced, after.mono) == (True, None)
    # The anchor: wall and monotonic read together once synced.
    assert health.clock_synced and health.mono == 30.0 and health.ts == 1_795_257_030.0


def two_ticks_0_2_ms_apart(tmp_path: Path, synced: bool, mono: float) -> tuple[wire.Reading, wire.Reading]:
    """The readings of two ticks stamped at monotonic ``mono`` and 0.2 ms later (the first stalled after its read)."""
    clock = BootClock()
    clock.is_synced, clock.mono = synced, mono
    agent = Agent(settings(tmp_path), clock)
    try:
        agent.record_measurements([Measurement("fridge-1", "temperature", 4.2, "°C")])
        clock.mono = mono + 0.0002
        agent.record_measurements([Measurement("fridge-1", "temperature", 4.3, "°C")])
        first, second = (m.readings[0] for m in written(agent.outbox))
    finally:
        agent.outbox.close()
    return first, second


def test_two_ticks_stamped_in_one_millisecond_are_two_readings_at_the_hub(tmp_path: Path) -> None:
    # The hub keys a reading by (sensor, millisecond), so the same stamp would store one of the two.
    first, second = two_ticks_0_2_ms_apart(tmp_path, synced=True, mono=0.1002)
    assert (first.ts, first.value) == (1_795_257_000.1, 4.2)
    assert (second.ts, second.value) == (1_795_257_000.101, 4.3)


def test_two_unsynced_ticks_in_one_millisecond_carry_two_monotonic_times(tmp_path: Path) -> None:
    # Before NTP the hub re-stamps a reading from its monotonic time: that is the one kept apart.
    first, second = two_ticks_0_2_ms_apart(tmp_path, synced=False, mono=40.2002)
    assert (first.clock_synced, first.mono, second.mono) == (False, 40.2, 40.201)


def test_a_reading_reanchored_on_the_node_drops_its_monotonic_time() -> None:
    payload = json.dumps({"device": "d", "boot_id": "b", "seq": 1, "readings": [
        {"sensor": "a", "ts": 100.0, "clock_synced": False, "mono": 14.0}]}).encode()
    (reading,) = json.loads(reanchor_payload(payload, 1000.0))["readings"]
    assert reading == {"sensor": "a", "ts": 1100.0, "clock_synced": True, "reanchored": True}


def test_older_payloads_without_mono_still_decode() -> None:
    reading = wire.Reading.model_validate_json(
        b'{"sensor":"a","kind":"temperature","value":4.0,"ts":100.0,"clock_synced":false}')
    assert reading.mono is None
    with pytest.raises(wire.WireError, match="mono"):
        wire.decode(wire.Channel.TELEMETRY, json.dumps({"device": "d", "boot_id": "b", "seq": 1, "readings": [
            {"sensor": "a", "kind": "t", "value": 1.0, "ts": 1.0, "clock_synced": False, "mono": -1.0}]}).encode())


def test_a_kernel_that_never_reports_sync_is_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert not unsynced_too_long(False, "kernel", uptime_s=60)  # a Pi syncs within minutes
    assert unsynced_too_long(False, "kernel", uptime_s=900)
    assert not unsynced_too_long(False, "assume", uptime_s=900)
    assert not unsynced_too_long(True, "kernel", uptime_s=900)
    clock = BootClock()
    agent = Agent(settings(tmp_path), clock)
    try:
        with caplog.at_level(logging.WARNING, logger="edge.agent"):
            agent._warn_if_never_synced()  # just booted: nothing to say yet
            clock.mono += 3600
            for _ in range(3):
                agent._warn_if_never_synced()
    finally:
        agent.outbox.close()
    (record,) = [r for r in caplog.records if "clock_sync_check: assume" in r.getMessage()]
    assert "时间未知" in record.getMessage()


def test_check_config_online_says_what_the_clock_means(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "WARNING" in clock_report("kernel", kernel_synced=False)
    assert "clock_sync_check: assume" in clock_report("kernel", kernel_synced=False)
    assert "synchronised" in clock_report("kernel", kernel_synced=True)
    assert "WARNING" not in clock_report("kernel", kernel_synced=True)
    assert "assume" in clock_report("assume", kernel_synced=False)
    config = tmp_path / "edge.yaml"
    # No broker on that port: the check says so (tests/edge/test_check_broker.py), and the clock all the same.
    config.write_text("site: s\ndevice: kitchen-1\nstate_dir: /tmp/x\nclock_sync_check: assume\n"
                      f"broker: {{host: 127.0.0.1, port: {free_port()}, username: kitchen-1, password: x}}\n"
                      "sources: [{kind: simulated_temperature, sensor: fridge-1}]\n")
    assert main(["edge", "check-config", "--online", str(config)]) == 2
    out = capsys.readouterr().out
    assert "OK" in out and "clock: clock_sync_check is 'assume'" in out
