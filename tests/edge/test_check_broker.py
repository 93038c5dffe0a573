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


def _config(tmp_path: Path, port: int, tls_ca: Path | None = None, name: str = "edge.yaml") -> Path:
    broker: dict[str, object] = {"host": "127.0.0.1", "port": port, "username": "dev-a", "password": "not-used"}
    if tls_ca is not None:
        broker["tls"] = {"ca_file": str(tls_ca)}
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
