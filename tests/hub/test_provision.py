"""`xiaoan provision`: the files it writes run a real Mosquitto that lets each device in, confined."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import yaml

from edge import wire
from hub.broker import MosquittoBroker, config_text
from hub.cli import main
from hub.provision import Provisioner, ProvisionError
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import wait_for
from tests.test_pipeline import raw_client

pytestmark = pytest.mark.broker


def provision(directory: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["provision", "--dir", str(directory), *args]) == 0
    return capsys.readouterr().out


def test_provisioned_accounts_run_a_real_broker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "broker"
    provision(directory, capsys, "hub")
    snippet = provision(directory, capsys, "device", "canteen-1", "--site", "school-1", "--broker-port", "1884")
    provision(directory, capsys, "device", "gate-1", "--site", "school-1")
    edge = yaml.safe_load(snippet)
    assert edge["site"] == "school-1" and edge["device"] == "canteen-1" and edge["broker"]["port"] == 1884
    password = edge["broker"]["password"]
    assert (directory / "credentials" / "canteen-1.password").read_text().strip() == password
    assert oct((directory / "credentials" / "canteen-1.password").stat().st_mode & 0o777) == "0o600"
    assert password not in (directory / "passwd").read_text()  # hashed
    assert password not in (directory / "accounts.json").read_text()
    acl = (directory / "acl").read_text()
    assert "topic write xiaoan/v1/school-1/canteen-1/telemetry" in acl
    assert "topic read xiaoan/v1/school-1/canteen-1/cmd" in acl
    assert "gate-1" in provision(directory, capsys, "list")

    broker = MosquittoBroker(directory, [])
    (directory / "mosquitto.conf").write_text(config_text(directory, broker.host, broker.port), encoding="utf-8")
    broker.start()
    hub_password = (directory / "credentials" / "hub.password").read_text().strip()
    hub = Hub(HubSettings(home=tmp_path / "hub", mqtt_host=broker.host, mqtt_port=broker.port,
                          mqtt_password=hub_password, mqtt_client_id="hub-provisioned", tick_s=0.2))
    hub.start()
    try:
        assert hub.mqtt is not None and hub.mqtt.connected.wait(10)
        device, codes = raw_client(broker, "canteen-1", password, "canteen-1-test")
        assert codes == [0]
        reading = json.dumps({"device": "canteen-1", "boot_id": "p", "seq": 1, "readings": [
            {"sensor": "fridge-1", "kind": "temperature", "value": 4.0, "ts": 100.0}]})
        spoof = reading.replace("canteen-1", "gate-1")
        device.publish(wire.topic("school-1", "gate-1", wire.Channel.TELEMETRY), spoof, qos=1).wait_for_publish(5)
        device.publish(wire.topic("school-1", "canteen-1", wire.Channel.TELEMETRY), reading, qos=1
                       ).wait_for_publish(5)
        wait_for(lambda: hub.series.readings("canteen-1/fridge-1", 0, 1000))
        assert hub.series.readings("gate-1/fridge-1", 0, 1000) == []
        device.disconnect()
        device.loop_stop()

        out = provision(directory, capsys, "revoke", "canteen-1")
        assert "reload" in out
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGHUP)  # what `systemctl reload mosquitto` does

        def refused() -> bool:
            client, result = raw_client(broker, "canteen-1", password, "canteen-1-revoked")
            client.loop_stop()
            return result[0] != 0

        wait_for(refused, timeout=15)
    finally:
        hub.stop()
        broker.stop()


def test_bad_names_and_duplicates_are_refused_naming_the_field(tmp_path: Path) -> None:
    provisioner = Provisioner(tmp_path)
    with pytest.raises(ProvisionError, match=r"^device: "):
        provisioner.add_device("冰箱 1", "school-1")
    with pytest.raises(ProvisionError, match=r"^site: "):
        provisioner.add_device("canteen-1", "school/1")
    provisioner.add_device("canteen-1", "school-1")
    with pytest.raises(ProvisionError, match="already has an account"):
        provisioner.add_device("canteen-1", "school-1")
    with pytest.raises(ProvisionError, match=r"^name: no account"):
        provisioner.revoke("nobody")
