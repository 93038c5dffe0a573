"""Calibration offsets the hub sends: applied at once, kept in the node's state, reported in its status.

A real agent reads DS18B20 probes from a 1-wire fixture tree; commands arrive as the
bytes the hub publishes (decoded by the wire contract), and what the agent sends is read
back from its outbox.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge import offsets, wire
from edge.agent import Agent
from edge.config import EdgeSettings
from tests.edge.conftest import W1_OK, write_probe
from tests.edge.test_local_alarm import FakeClock

PROBE = "28-0316a2791dff"
NEW_PROBE = "28-0316a2791e00"


def settings(tmp_path: Path, probe: str = PROBE) -> EdgeSettings:
    return EdgeSettings.model_validate({
        "site": "s", "device": "kitchen-1", "state_dir": str(tmp_path / "state"),
        "broker": {"host": "127.0.0.1", "port": 9, "username": "kitchen-1", "password": "x"},
        "sources": [
            {"kind": "ds18b20", "w1_base": str(tmp_path / "w1"),
             "probes": [{"id": probe, "sensor": "fridge-1", "profile": "fridge", "offset": -0.25}]},
            {"kind": "simulated_door", "sensor": "door-1"}]})


def agent_on(tmp_path: Path, probe: str = PROBE) -> Agent:
    write_probe(tmp_path / "w1", probe, W1_OK.format(milli=4125))
    return Agent(settings(tmp_path, probe), FakeClock())


def command(sensor: str, offset: float, calibration: int = 12) -> wire.Command:
    """The command as it arrives: the hub's JSON, through the contract."""
    payload = json.dumps({"action": "set_offset", "ts": 1.0, "sensor": sensor, "offset": offset,
                          "calibration": calibration}).encode()
    found: wire.Command = wire.decode(wire.Channel.CMD, payload)
    return found


def sent_value(agent: Agent) -> float | None:
    """Read the probe once, as the sampler does, and return the value written to the outbox."""
    agent.record_measurements(agent.sources[0].read())
    row = agent.outbox.peek(0, 10_000)[-1]
    reading = json.loads(row.payload)["readings"][0]
    assert reading["sensor"] == "fridge-1"
    value: float | None = reading["value"]
    return value


def fridge(agent: Agent) -> wire.SensorInfo:
    return next(info for info in agent.announced() if info.sensor == "fridge-1")


def test_the_yaml_offset_is_the_baseline_and_announced_with_the_probe_id(tmp_path: Path) -> None:
    agent = agent_on(tmp_path)
    try:
        assert sent_value(agent) == pytest.approx(3.875)  # 4.125 − 0.25
        info = fridge(agent)
        assert (info.offset, info.offset_source, info.calibration, info.hardware_id) == (-0.25, "config", None, PROBE)
    finally:
        agent.outbox.close()


def test_an_offset_from_the_hub_applies_at_once_replaces_the_yaml_and_survives_a_restart(tmp_path: Path) -> None:
    agent = agent_on(tmp_path)
    try:
        agent._handle_command(command("fridge-1", 0.4))
        assert sent_value(agent) == pytest.approx(4.525)  # the raw 4.125 + 0.4, the YAML's −0.25 no longer
        info = fridge(agent)
        assert (info.offset, info.offset_source, info.calibration) == (0.4, "hub", 12)
        kept = json.loads((tmp_path / "state" / offsets.FILE_NAME).read_text())
        assert kept["sensors"]["fridge-1"]["offset"] == 0.4 and kept["sensors"]["fridge-1"]["hardware_id"] == PROBE
    finally:
        agent.outbox.close()
    again = agent_on(tmp_path)  # a restart (or a power cut): the YAML still says −0.25
    try:
        assert sent_value(again) == pytest.approx(4.525)
        assert fridge(again).offset_source == "hub"
    finally:
        again.outbox.close()


def test_a_replaced_probe_does_not_inherit_the_old_probes_offset(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_on(tmp_path)
    agent._handle_command(command("fridge-1", 0.4))
    agent.outbox.close()
    with caplog.at_level(logging.WARNING):
        replaced = agent_on(tmp_path, NEW_PROBE)
    try:
        assert sent_value(replaced) == pytest.approx(3.875)
        info = fridge(replaced)
        assert (info.offset, info.offset_source, info.hardware_id) == (-0.25, "config", NEW_PROBE)
        assert "measured on probe 28-0316a2791dff" in caplog.text
    finally:
        replaced.outbox.close()


def test_offsets_for_unknown_or_uncalibrated_sensors_are_refused(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    agent = agent_on(tmp_path)
    try:
        with caplog.at_level(logging.WARNING):
            agent._handle_command(command("freezer-9", 1.0))
            agent._handle_command(command("door-1", 1.0))
        assert "no sensor 'freezer-9'" in caplog.text and "measures door" in caplog.text
        assert agent.hub_offsets == {}
        assert not (tmp_path / "state" / offsets.FILE_NAME).exists()
        assert sent_value(agent) == pytest.approx(3.875)
    finally:
        agent.outbox.close()


@pytest.mark.parametrize("offset", [5.01, -7.0])
def test_the_contract_bounds_the_offset(offset: float) -> None:
    with pytest.raises(wire.WireError, match="offset"):
        command("fridge-1", offset)


def test_a_damaged_state_file_falls_back_to_the_yaml(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / offsets.FILE_NAME).write_text("{not json")
    with caplog.at_level(logging.ERROR):
        agent = agent_on(tmp_path)
    try:
        assert "invalid" in caplog.text
        assert sent_value(agent) == pytest.approx(3.875)
    finally:
        agent.outbox.close()
