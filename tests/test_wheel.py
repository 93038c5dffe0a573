"""The wheel as an installer gets it: built, installed into a fresh environment (not editable, no checkout on
the path), and `xiaoan demo` run from it serves its pages and static files.

An editable install reads templates and static files from the source tree, so a wheel that lacks them
passes every other test and fails at a school's first start.

Dependencies come from the package index (pip's cache makes a second run quick), pinned to the versions
the project's own environment runs, so the wheel's declared dependencies are what is tested, not the
development environment's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import free_port

pytestmark = [pytest.mark.slow, pytest.mark.broker]

ROOT = Path(__file__).resolve().parents[1]
#: Files an installer takes from <venv>/share/xiaoan/ (docs/install-hub.md, docs/install-pi.md).
SHARED = ("firmware-config/mosquitto/xiaoan.conf", "firmware-config/mosquitto/xiaoan.acl.example",
          "firmware-config/raspi/xiaoan-edge.service", "firmware-config/raspi/config.txt",
          "firmware-config/devices/canteen-cold-chain.yaml", "dashboards/json/cold-chain.json",
          "dashboards/provisioning/datasources/xiaoan-influxdb.yaml", "scripts/make-ca.sh", "scripts/install.sh")


def _run(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=cwd)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would put the checkout or the project's venv on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env.update(extra)
    return env


def build_wheel(work: Path) -> Path:
    """Build the xiaoan wheel from a copy of this checkout into ``work``; returns the wheel file."""
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources, and a stale build/ of an
    # earlier run (a template since removed) would end up in the wheel.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "var", "__pycache__", ".*_cache", "test-artifacts"))
    wheels = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", str(wheels), str(source)],
         env=_clean_env())
    (wheel,) = wheels.glob("xiaoan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "hub" / "web" / "templates").rglob("*.html"):
        assert template.relative_to(ROOT).as_posix() in names, f"{template} is not in the wheel"
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and the hub extra; returns its directory."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    # The versions this checkout's environment was tested with, as constraints (xiaoan itself left out).
    frozen = _run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"])
    constraints = work / "constraints.txt"
    constraints.write_text("\n".join(line for line in frozen.splitlines() if re.match(r"^[A-Za-z0-9_.-]+==", line))
                           + "\n", encoding="utf-8")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], env=_clean_env())
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          "--constraint", str(constraints), f"{wheel}[hub]"], env=_clean_env(), cwd=work)
    return venv


def test_the_wheel_holds_what_the_hub_reads_and_what_an_installer_copies(installed: Path) -> None:
    located = _run([str(installed / "bin" / "python"), "-c",
                    "import hub.web.render as r, hub.enrolment as e;"
                    " print(r.TEMPLATES); print(r.STATIC); print(e.device_templates())"],
                   env=_clean_env(), cwd=installed).split()
    templates, static, devices = (Path(p) for p in located)
    assert all(p.is_relative_to(installed) for p in (templates, static, devices)), located
    assert (devices / "gate-node.yaml").is_file()
    assert (templates / "parts" / "canteen_tiles.html").is_file()
    assert (static / "app.js").is_file()
    for name in SHARED:
        assert (installed / "share" / "xiaoan" / name).is_file(), name


@pytest.fixture
def demo(installed: Path, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """``xiaoan demo`` from the installed environment, in a directory that is not the checkout."""
    http_port = free_port()
    env = _clean_env(XIAOAN_HTTP_PORT=str(http_port), XIAOAN_MQTT_PORT=str(free_port()),
                     XIAOAN_MQTT_DEVICE_PORT=str(free_port()))
    process = subprocess.Popen([str(installed / "bin" / "xiaoan"), "demo", "--home", str(tmp_path)], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []

    def collect() -> None:
        assert process.stdout is not None
        lines.extend(process.stdout)

    reader = threading.Thread(target=collect, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("Ctrl-C stops everything" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            time.sleep(0.5)
        assert any("Ctrl-C stops everything" in line for line in lines), "".join(lines)
        yield url, lines
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=10)
    assert process.returncode == 0, "".join(lines)
    assert any("nothing left running" in line for line in lines), "".join(lines)


def test_the_installed_demo_serves_pages_and_static_files(demo: tuple[str, list[str]]) -> None:
    url, lines = demo
    with httpx.Client(base_url=url, timeout=10) as client:
        login = client.get("/login")
        assert login.status_code == 200, login.text
        assert 'action="/login"' in login.text and "/static/app.css" in login.text
        css = client.get("/static/app.css")
        assert css.status_code == 200
        assert css.content == (ROOT / "hub" / "web" / "static" / "app.css").read_bytes()
        assert client.get("/static/app.js").status_code == 200
        # A signed-in view: the canteen page with its parts, as the demo's canteen account sees it.
        (password,) = [line.split()[-1] for line in lines if re.match(r"^\s+cook\s+\S+\s+\S+$", line)]
        signed_in = client.post("/login", data={"username": "cook", "password": password, "next": "/"},
                                headers={"Origin": url}, follow_redirects=True)
        assert signed_in.status_code == 200, signed_in.text
        assert "演示模式" in signed_in.text
