"""Commands to a node are reported sent only when the broker took them (else the caller sends them again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge import wire
from edge.config import BrokerSettings
from hub.broker import free_port
from hub.ingest import MqttIngest
from hub.runtime import Hub
from hub.settings import HubSettings


def test_a_command_while_the_broker_is_away_raises_instead_of_waiting_in_memory(tmp_path: Path) -> None:
    hub = Hub(HubSettings(home=tmp_path / "home"), connect_mqtt=False)
    try:
        ingest = MqttIngest(hub.pipeline, BrokerSettings(host="127.0.0.1", port=free_port(), username="xiaoan-hub",
                                                        password="secret"), "xiaoan-hub-test")
        command = wire.Command(action="set_offset", ts=1.0, sensor="fridge-1", offset=0.3, calibration=1,
                               reason="calibration check 1")
        with pytest.raises(ConnectionError):
            ingest.send_command("s", "kitchen", command)
    finally:
        hub.stop()
