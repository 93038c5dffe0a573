"""``check-config --online`` asks the broker the config names: it answers, or the installer is told why not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hub.broker import Account, MosquittoBroker, TlsListener, free_port
from hub.cli import main
from tests.security.test_broker_tls import make_ca

pytestmark = pytest.mark.broker


def _config(tmp_path: Path, port: int, tls_ca: Path | None = None, name: str = "edge.yaml",
            client_cert: Path | None = None) -> Path:
    """An edge config naming ``port``; ``client_cert``: the CA directory holding dev-a.crt and dev-a.key."""
    broker: dict[str, object] = {"host": "127.0.0.1", "port": port, "username": "dev-a", "password": "not-used"}
    if tls_ca is not None:
        broker["tls"] = {"ca_file": str(tls_ca)}
        if client_cert is not None:
            broker["tls"] = {"ca_file": str(tls_ca), "cert_file": str(client_cert / "dev-a.crt"),
                             "key_file": str(client_cert / "dev-a.key")}
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "site": "s", "device": "dev-a", "state_dir": str(tmp_path / "state"), "clock_sync_check": "assume",
        "broker": broker, "sources": [{"kind": "simulated_temperature", "sensor": "fridge-1"}]}), encoding="utf-8")
    return path


def test_a_broker_that_answers_passes_and_a_closed_port_is_named(
        tmp_path: Path, broker: MosquittoBroker, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "check-config", "--online", str(_config(tmp_path, broker.port))]) == 0
    out = capsys.readouterr().out
    assert f"broker: 127.0.0.1:{broker.port} (plain MQTT) answers" in out and "clock:" in out

    closed = free_port()
    assert main(["edge", "check-config", "--online", str(_config(tmp_path, closed, name="closed.yaml"))]) == 2
    captured = capsys.readouterr()
    assert f"broker: 127.0.0.1:{closed} (plain MQTT): no connection" in captured.err
    assert "clock:" in captured.out  # the rest of the check is still said


@pytest.fixture(scope="module")
def school_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ca(tmp_path_factory.mktemp("school-ca"), "dev-a")


@pytest.fixture
def tls_broker(tmp_path: Path, school_ca: Path, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    listener = TlsListener(free_port(), school_ca / "ca.crt", school_ca / "server.crt", school_ca / "server.key",
                           hub_port=free_port())
    with MosquittoBroker(tmp_path / "tls-broker", list(accounts.values()), tls=listener) as running:
        yield running


def test_tls_with_the_school_ca_passes_and_another_ca_or_plain_mqtt_is_refused(
        tmp_path: Path, tls_broker: MosquittoBroker, school_ca: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tls_broker.tls is not None
    port = tls_broker.tls.port
    assert main(["edge", "check-config", "--online", str(_config(tmp_path, port, school_ca / "ca.crt"))]) == 0
    assert f"broker: 127.0.0.1:{port} (TLS) answers" in capsys.readouterr().out

    other = make_ca(tmp_path / "other-ca", "dev-a")
    wrong = _config(tmp_path, port, other / "ca.crt", name="wrong-ca.yaml")
    assert main(["edge", "check-config", "--online", str(wrong)]) == 2
    assert "its certificate is not trusted by broker.tls.ca_file" in capsys.readouterr().err

    plain = _config(tmp_path, port, name="plain.yaml")
    assert main(["edge", "check-config", "--online", str(plain)]) == 2
    assert f"broker: 127.0.0.1:{port} (plain MQTT)" in capsys.readouterr().err


@pytest.fixture
def cert_broker(tmp_path: Path, school_ca: Path, accounts: dict[str, Account]) -> Iterator[MosquittoBroker]:
    """A TLS listener that asks every client for a certificate signed by the school's CA."""
    listener = TlsListener(free_port(), school_ca / "ca.crt", school_ca / "server.crt", school_ca / "server.key",
                           require_certificate=True)
    with MosquittoBroker(tmp_path / "cert-broker", list(accounts.values()), tls=listener) as running:
        yield running


def test_a_broker_asking_for_a_client_certificate_gets_the_devices_own(
        tmp_path: Path, cert_broker: MosquittoBroker, school_ca: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check shakes hands as the agent does: with broker.tls.cert_file/key_file when the config has them."""
    assert cert_broker.tls is not None
    port = cert_broker.tls.port
    with_cert = _config(tmp_path, port, school_ca / "ca.crt", client_cert=school_ca)
    assert main(["edge", "check-config", "--online", str(with_cert)]) == 0
    assert f"broker: 127.0.0.1:{port} (TLS) answers" in capsys.readouterr().out

    without = _config(tmp_path, port, school_ca / "ca.crt", name="no-cert.yaml")
    assert main(["edge", "check-config", "--online", str(without)]) == 2
    assert "set broker.tls.cert_file and broker.tls.key_file" in capsys.readouterr().err


def test_a_broker_that_lets_anonymous_clients_in_is_a_problem(
        tmp_path: Path, accounts: dict[str, Account], capsys: pytest.CaptureFixture[str]) -> None:
    open_port = free_port()
    extra = f"listener {open_port} 127.0.0.1\nallow_anonymous true\n"
    with MosquittoBroker(tmp_path / "open-broker", list(accounts.values()), extra_config=extra):
        assert main(["edge", "check-config", "--online", str(_config(tmp_path, open_port))]) == 2
    captured = capsys.readouterr()
    assert f"broker: 127.0.0.1:{open_port} (plain MQTT): the broker accepts anonymous clients" in captured.err
    assert "refused as it should be" not in captured.out + captured.err
