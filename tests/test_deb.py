"""`make deb`'s package, installed with apt into a clean Debian 12 root as a school would, then removed and purged.

The package is built by scripts/make-deb.sh from the wheel ``tests/test_wheel.py`` builds; the root is
``tests/test_install_root.py``'s (debootstrap, cached). apt resolves the package's dependencies from the
mirror (step 1 of docs/install-hub.md), the postinst runs install.sh's steps 2 to 7, so the program, the user,
the directories and the enabled unit must be exactly what the guide's install leaves; ``systemd-analyze
verify`` accepts the unit. Removing stops and disables the unit; purging leaves the school's settings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_install_root import Root, _run, pip_environment, root_tarball, stat, timings
from tests.test_wheel import ROOT, build_wheel

pytestmark = pytest.mark.slow

MAKE_DEB = ROOT / "scripts" / "make-deb.sh"
#: Recorded, not asserted: how long `apt-get install` of the package took (docs/install-hub.md).
DEB_TIMINGS = ROOT / "test-artifacts" / "deb-timings.json"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("deb")
    wheel = build_wheel(work)
    built = subprocess.run(["bash", str(MAKE_DEB), str(wheel), str(work / "out")], capture_output=True, text=True,
                           check=True)
    return Path(built.stdout.strip())


@pytest.fixture(scope="module")
def root(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Root]:
    if os.geteuid() != 0:
        pytest.skip("the clean-root package test needs root (debootstrap, mount, chroot)")
    path = tmp_path_factory.mktemp("deb-root") / "root"
    path.mkdir()
    _run(["tar", "-C", str(path), "--numeric-owner", "-xzf", str(root_tarball())], "unpacking the cached root")
    shutil.copyfile("/etc/resolv.conf", path / "etc" / "resolv.conf")
    shutil.copyfile(package, path / "tmp" / package.name)
    found = Root(path, pip_environment(path))
    try:
        found.mount()
        yield found
    finally:
        found.unmount()
        if not found.mounts:
            shutil.rmtree(path, ignore_errors=True)


def test_the_package_installs_removes_and_purges_like_the_guide(root: Root, package: Path) -> None:
    started = time.monotonic()
    installed = root.check(f"apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q"
                           f" /tmp/{package.name}")
    timings["deb_install_s"] = round(time.monotonic() - started, 1)
    DEB_TIMINGS.parent.mkdir(exist_ok=True)
    DEB_TIMINGS.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    assert "installed as the xiaoan-hub package's dependencies" in installed
    assert root.check("dpkg-query -W -f '${Status}' xiaoan-hub") == "install ok installed"
    assert "usage: xiaoan" in root.check("/opt/xiaoan/venv/bin/xiaoan --help")
    assert stat(root, "/opt/xiaoan/venv") == "root:root 755"
    assert stat(root, "/etc/xiaoan") == "root:xiaoan-hub 750"
    assert stat(root, "/etc/xiaoan/hub.env") == "root:xiaoan-hub 640"
    assert stat(root, "/etc/mosquitto/xiaoan") == "root:mosquitto 750"
    assert root.check("readlink /etc/systemd/system/multi-user.target.wants/xiaoan-hub.service").strip() == \
        "/etc/systemd/system/xiaoan-hub.service"
    verify = root.run("systemd-analyze verify /etc/systemd/system/xiaoan-hub.service")
    assert verify.returncode == 0, verify.stderr

    # Installing again (an upgrade to the same version) keeps what is there.
    again = root.check(f"DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall /tmp/{package.name}")
    assert "/etc/xiaoan/hub.env exists: kept" in again

    root.check("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q xiaoan-hub")
    assert root.run("test -e /etc/systemd/system/multi-user.target.wants/xiaoan-hub.service").returncode != 0
    root.check("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q xiaoan-hub")
    assert root.run("test -e /opt/xiaoan").returncode != 0
    assert root.run("test -e /etc/systemd/system/xiaoan-hub.service").returncode != 0
    # The school's settings and broker accounts are theirs: a purge of the program leaves them.
    assert stat(root, "/etc/xiaoan/hub.env") == "root:xiaoan-hub 640"
    assert root.check("test -f /etc/mosquitto/xiaoan/credentials/hub.password && echo kept").strip() == "kept"
