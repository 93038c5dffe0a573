"""The systemd units an installer copies from firmware-config/ hold the settings the hardening relies on.

``UMask=0077`` (files the service creates are its own user's), a raised
``LimitNOFILE`` (systemd's soft default of 1024 once let idle connections stop the
hub), a private state directory, ``Restart=always``, a dedicated user, and an
``ExecStart`` that is a real ``xiaoan`` command. The units are read as systemd reads
them and, where ``systemd-analyze`` is installed, verified by systemd itself.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hub.cli import build_parser
from hub.settings import HubSettings
from tests.docs.test_install_docs import wheel_data_files

ROOT = Path(__file__).resolve().parents[1]
HUB_UNIT = ROOT / "firmware-config" / "hub" / "xiaoan-hub.service"
EDGE_UNIT = ROOT / "firmware-config" / "raspi" / "xiaoan-edge.service"
HUB_ENV = ROOT / "firmware-config" / "hub" / "hub.env.example"
#: Where docs/install-pi.md and docs/operations.md install the virtual environment.
INSTALLED = "/opt/xiaoan/venv/bin/"

Unit = dict[str, list[tuple[str, str]]]


def parse(path: Path) -> Unit:
    """Sections → (key, value) in order, repeated keys kept (systemd's syntax: ``#``/``;`` comments)."""
    unit: Unit = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            unit.setdefault(section, [])
            continue
        key, sep, value = line.partition("=")
        assert sep and section, f"{path}: not a key=value line in a section: {raw!r}"
        unit[section].append((key.strip(), value.strip()))
    return unit


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit: Unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}: expected once, found {found}"
    return found[0]


def environment(unit: Unit) -> dict[str, str]:
    env = {}
    for line in values(unit, "Service", "Environment"):
        for item in shlex.split(line):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def check_command(line: str) -> None:
    """The command is the installed ``xiaoan`` entry point with arguments its own parser accepts."""
    argv = shlex.split(line)
    assert argv[0].startswith(INSTALLED), argv
    name = argv[0].removeprefix(INSTALLED)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts[name] == "hub.cli:main"
    args = build_parser().parse_args(argv[1:])
    assert callable(args.func)


@pytest.mark.parametrize(("path", "command", "nofile"), [(HUB_UNIT, "hub", 65536), (EDGE_UNIT, "edge", 4096)])
def test_a_unit_runs_a_real_command_as_its_own_user_with_a_private_umask_and_raised_open_files_limit(
        path: Path, command: str, nofile: int) -> None:
    unit = parse(path)
    assert one(unit, "Service", "UMask") == "0077"
    assert int(one(unit, "Service", "LimitNOFILE")) >= nofile
    assert one(unit, "Service", "Restart") == "always"
    user = one(unit, "Service", "User")
    assert user not in ("", "root", "0")
    state = one(unit, "Service", "StateDirectory")
    assert one(unit, "Service", "StateDirectoryMode") == "0700"
    assert f"/var/lib/{state}" in " ".join(values(unit, "Service", "ReadWritePaths")).split()
    start = one(unit, "Service", "ExecStart")
    check_command(start)
    assert shlex.split(start)[1] == command
    for line in values(unit, "Service", "ExecStartPre"):
        check_command(line)
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_hub_unit_starts_after_the_network_and_the_broker_and_keeps_its_state_in_its_state_directory(
        monkeypatch: pytest.MonkeyPatch) -> None:
    unit = parse(HUB_UNIT)
    after = " ".join(values(unit, "Unit", "After")).split()
    assert "network-online.target" in after and "mosquitto.service" in after
    assert "network-online.target" in " ".join(values(unit, "Unit", "Wants")).split()
    env = environment(unit)
    assert env["XIAOAN_HOME"] == f"/var/lib/{one(unit, 'Service', 'StateDirectory')}"
    # The broker password comes through systemd's credential store: the file stays root's.
    credential, _, source = one(unit, "Service", "LoadCredential").partition(":")
    assert env["XIAOAN_MQTT_PASSWORD_FILE"] == f"%d/{credential}"
    assert source == "/etc/mosquitto/xiaoan/credentials/hub.password"
    # Every key the unit and the example environment file set is a hub setting, and the example is valid.
    example = dict(line.split("=", 1) for line in HUB_ENV.read_text(encoding="utf-8").splitlines()
                   if line.strip() and not line.startswith("#"))
    known = {field.validation_alias if isinstance(field.validation_alias, str) else f"XIAOAN_{name.upper()}"
             for name, field in HubSettings.model_fields.items()}
    assert {name for name in [*env, *example] if name.startswith("XIAOAN_")} <= known
    for name in [name for name in known if name in os.environ]:
        monkeypatch.delenv(name)
    for name, value in example.items():
        monkeypatch.setenv(name, value)
    settings = HubSettings()
    assert settings.http_host == "0.0.0.0" and settings.mqtt_port == 1884  # noqa: S104 - the school LAN, on purpose
    assert settings.config_file == Path("/etc/xiaoan/hub.yaml")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("path", [HUB_UNIT, EDGE_UNIT])
def test_systemd_verifies_the_unit_without_a_warning(tmp_path: Path, path: Path) -> None:
    """``systemd-analyze verify`` with the installed command pointed at this checkout's own ``xiaoan``."""
    here = Path(sys.executable).parent / "xiaoan"
    assert here.exists(), f"the xiaoan entry point is not installed beside {sys.executable}"
    copy = tmp_path / path.name
    copy.write_text(path.read_text(encoding="utf-8").replace(f"{INSTALLED}xiaoan", str(here)), encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "--man=no", "verify", str(copy)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("path", [HUB_UNIT, EDGE_UNIT], ids=["hub", "edge"])
def test_the_units_documentation_is_a_file_the_wheel_installs(path: Path) -> None:
    (link,) = values(parse(path), "Unit", "Documentation")
    shared = "file:///opt/xiaoan/venv/share/xiaoan/"
    assert link.startswith(shared), link
    assert link.removeprefix(shared) in wheel_data_files()
