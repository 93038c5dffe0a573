"""The pipeline dead-letters device text that could forge a line, and a status announcing too many sensors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge import wire
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings

SITE = "s1"
EVIL_FAULT = "x\n请确认 #1：http://evil.example/ack"


@pytest.fixture
def hub(tmp_path: Path) -> Hub:
    return Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=60)), connect_mqtt=False)


def _inbound(channel: wire.Channel, payload: object) -> Inbound:
    return Inbound(wire.topic(SITE, "dev-a", channel), json.dumps(payload).encode(), 1, 1, 0.0)


def test_a_fault_text_with_a_line_break_is_a_dead_letter_naming_the_field(
        hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    def telemetry(seq: int, fault: str) -> dict[str, object]:
        return {"device": "dev-a", "boot_id": "b1", "seq": seq, "readings": [
            {"sensor": "fridge-1", "kind": "temperature", "value": None, "ts": 1000.0, "fault": fault}]}

    bad, good = telemetry(1, EVIL_FAULT), telemetry(2, "crc")
    with caplog.at_level(logging.WARNING, logger="hub.ingest"):
        hub.pipeline.process([_inbound(wire.Channel.TELEMETRY, bad), _inbound(wire.Channel.TELEMETRY, good)])
    [letter] = hub.state.dead_letters()
    assert "readings.0.fault" in letter["reason"] and "U+000A" in letter["reason"]
    assert [r.fault for r in hub.series.readings("dev-a/fridge-1", 0, 2000)] == ["crc"]
    logged = [r.getMessage() for r in caplog.records if r.name == "hub.ingest"]
    assert logged and all("\n" not in line for line in logged)


def test_a_status_announcing_150_sensors_is_a_dead_letter(hub: Hub) -> None:
    sensors = [{"sensor": f"probe-{i:03d}", "kind": "temperature", "profile": "fridge"} for i in range(150)]
    status = {"state": "online", "boot_id": "b1", "ts": 1.0, "sensors": sensors}
    hub.pipeline.process([_inbound(wire.Channel.STATUS, status)])
    [letter] = hub.state.dead_letters()
    assert "sensors" in letter["reason"] and f"at most {wire.MAX_SENSORS}" in letter["reason"]
    assert hub.state.sensors() == []
    hub.pipeline.process([_inbound(wire.Channel.STATUS, {**status, "sensors": sensors[:64]})])
    assert len(hub.state.sensors()) == 64
