"""`xiaoan provision`: the files it writes run a real Mosquitto that lets each device in, confined."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import tempfile
from pathlib import Path

import pytest
import yaml

from edge import wire
from edge.link import close_client, stop_loop
from hub.broker import Account, MosquittoBroker, config_text, free_port
from hub.cli import main
from hub.provision import BROKER_USER, Provisioner, ProvisionError
from hub.runtime import Hub
from hub.settings import HubSettings
from tests.conftest import wait_for
from tests.security.test_identity import connack
from tests.test_pipeline import raw_client

pytestmark = pytest.mark.broker

PACKAGED_CONF = Path(__file__).resolve().parents[2] / "firmware-config" / "mosquitto" / "xiaoan.conf"


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
    (directory / "mosquitto.conf").write_text(config_text(directory, broker.host, broker.port,
                                                          hub_port=broker.hub_port), encoding="utf-8")
    broker.start()
    hub_password = (directory / "credentials" / "hub.password").read_text().strip()
    hub = Hub(HubSettings(home=tmp_path / "hub", mqtt_host=broker.host, mqtt_port=broker.hub_port,
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
        close_client(device)

        out = provision(directory, capsys, "revoke", "canteen-1")
        assert "reload" in out
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGHUP)  # what `systemctl reload mosquitto` does

        def refused() -> bool:
            client, result = raw_client(broker, "canteen-1", password, "canteen-1-revoked")
            stop_loop(client)
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
    for hub_id in ("hub", "hub-2", "xiaoan-hub", "Xiaoan-Hub-sys"):  # a device's session is named after it
        with pytest.raises(ProvisionError, match=r"^device: .* kept for the hub"):
            provisioner.add_device(hub_id, "school-1")
    provisioner.add_device("canteen-1", "school-1")
    with pytest.raises(ProvisionError, match="already has an account"):
        provisioner.add_device("canteen-1", "school-1")
    with pytest.raises(ProvisionError, match=r"^name: no account"):
        provisioner.revoke("nobody")
    # One school per hub (hub.sites): a device of another school gets no account on this broker.
    with pytest.raises(ProvisionError, match=r"^site: this hub serves site 'school-1', not 'school-2'"):
        provisioner.add_device("canteen-2", "school-2")
    assert [e.username for e in provisioner.entries()] == ["canteen-1"]


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.skipif(os.geteuid() != 0, reason="starting Mosquitto as root, to drop to its own user, needs root")
def test_the_packaged_broker_reads_the_provisioned_files_as_the_mosquitto_user(
        capsys: pytest.CaptureFixture[str]) -> None:
    """firmware-config/mosquitto/xiaoan.conf as Debian runs it: started as root, reading the files as mosquitto.

    Mosquitto opens the password files and the ACL only after it has switched to its own
    user, at start and on every reload (SIGHUP); a file only root can read stops it
    ("Unable to open pwfile"). The directory is outside pytest's 0700 temporary tree,
    which the mosquitto user could not enter.
    """
    try:
        broker_user = pwd.getpwnam(BROKER_USER)
    except KeyError:
        pytest.skip("no mosquitto user: install Debian's mosquitto package (make deps)")
    base = Path(tempfile.mkdtemp(prefix="xiaoan-provision-"))
    base.chmod(0o711)
    directory = base / "xiaoan"  # /etc/mosquitto/xiaoan
    runtime = base / "lib"  # /var/lib/mosquitto and /var/log/mosquitto: the package makes them the broker's
    runtime.mkdir()
    os.chown(runtime, broker_user.pw_uid, broker_user.pw_gid)
    broker: MosquittoBroker | None = None
    try:
        provision(directory, capsys, "hub")
        gate = yaml.safe_load(provision(directory, capsys, "device", "gate-1", "--site", "school-1"))
        for name in ("passwd", "hub.passwd", "acl"):
            info = (directory / name).stat()
            assert (info.st_uid, info.st_gid, mode(directory / name)) == (
                broker_user.pw_uid, broker_user.pw_gid, "0o640"), name
        assert (directory.stat().st_gid, mode(directory)) == (broker_user.pw_gid, "0o750")
        assert (directory / "accounts.json").stat().st_uid == 0 and mode(directory / "accounts.json") == "0o600"
        assert mode(directory / "credentials") == "0o700"

        # Debian's /etc/mosquitto/mosquitto.conf around conf.d/xiaoan.conf, with test paths and ports.
        conf_d = base / "conf.d"
        conf_d.mkdir()
        port, hub_port = free_port(), free_port()
        packaged = PACKAGED_CONF.read_text(encoding="utf-8")
        assert "listener 1883\n" in packaged and "listener 1884 127.0.0.1\n" in packaged
        packaged = (packaged.replace("/etc/mosquitto/xiaoan", str(directory))
                    .replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
                    .replace("listener 1884 127.0.0.1\n", f"listener {hub_port} 127.0.0.1\n"))
        (conf_d / "xiaoan.conf").write_text(packaged, encoding="utf-8")
        main_conf = base / "mosquitto.conf"
        main_conf.write_text(f"persistence true\npersistence_location {runtime}/\n"
                             f"log_dest file {runtime}/mosquitto.log\nlog_dest stderr\n"
                             f"include_dir {conf_d}\n", encoding="utf-8")
        conf_d.chmod(0o755)
        for path in (main_conf, conf_d / "xiaoan.conf"):
            path.chmod(0o644)  # as the package installs them: a reload reads them as mosquitto

        broker = MosquittoBroker(base, [], port=port, hub_port=hub_port)
        broker.start()
        process = broker.process
        assert process is not None

        def broker_uid() -> int:
            status = Path(f"/proc/{process.pid}/status").read_text()
            return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])

        assert broker_uid() == broker_user.pw_uid  # it did leave root before reading the files
        hub_password = (directory / "credentials" / "hub.password").read_text().strip()
        hub_account = Account("hub", hub_password, "hub")
        gate_account = Account("gate-1", gate["broker"]["password"], "device", "school-1")
        assert connack(broker, hub_port, hub_account, "xiaoan-hub") == 0
        assert connack(broker, port, gate_account, "edge-school-1-gate-1") == 0
        assert connack(broker, hub_port, gate_account, "xiaoan-hub") != 0  # a device at the hub's door

        # A new device, then a reload: it gets in.
        canteen = yaml.safe_load(provision(directory, capsys, "device", "canteen-2", "--site", "school-1"))
        canteen_account = Account("canteen-2", canteen["broker"]["password"], "device", "school-1")
        os.kill(process.pid, signal.SIGHUP)  # what `systemctl reload mosquitto` does
        wait_for(lambda: connack(broker, port, canteen_account, "edge-school-1-canteen-2") == 0)

        # A revoked device, then a reload: it is refused; the broker is still up for everyone else.
        provision(directory, capsys, "revoke", "gate-1")
        assert mode(directory / "passwd") == "0o640" and (directory / "passwd").stat().st_uid == broker_user.pw_uid
        os.kill(process.pid, signal.SIGHUP)
        wait_for(lambda: connack(broker, port, gate_account, "edge-school-1-gate-1") != 0)
        assert process.poll() is None
        assert connack(broker, hub_port, hub_account, "xiaoan-hub") == 0
        assert connack(broker, port, canteen_account, "edge-school-1-canteen-2") == 0
        assert "Error" not in (runtime / "mosquitto.log").read_text(errors="replace")  # nor on the reloads
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(base, ignore_errors=True)
