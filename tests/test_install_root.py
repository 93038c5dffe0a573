"""The install script, run as an installer would in a clean Debian 12 root, does the guides' steps and no others.

A Debian 12 root is bootstrapped with ``debootstrap`` from the mirror this machine's apt uses, and cached as
a tarball under ``~/.cache/xiaoan/`` (``$XDG_CACHE_HOME/xiaoan``): the first run downloads it (about a
minute here), later runs unpack it in seconds. Delete the tarball to bootstrap afresh. The wheel is built as
``tests/test_wheel.py`` builds it; ``scripts/install.sh`` installs it with ``chroot``, where systemd is not
running, so the units are enabled and not started. Then: the venv's ``xiaoan --help`` runs, the users, groups,
directories and their modes are the guides', the units are enabled (their ``multi-user.target.wants``
symlinks) and ``systemd-analyze verify`` accepts them inside the root; the script run a second time changes
nothing and fails nowhere; and the commands it printed are, in order, the commands of the guide's steps it
covers (``docs/install-hub.md``, ``docs/install-pi.md``), so the guide and the script cannot drift.

pip inside the root reaches the package index with the host's pip settings passed through (index, proxy,
CA bundle). A mirror that cannot be reached fails the test and says so: it does not skip.
The timings are written to ``test-artifacts/install-root-timings.json`` (recorded, not asserted).
"""

from __future__ import annotations

import configparser
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.test_wheel import ROOT, build_wheel

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "scripts" / "install.sh"
HUB_GUIDE = ROOT / "docs" / "install-hub.md"
EDGE_GUIDE = ROOT / "docs" / "install-pi.md"
SUITE = "bookworm"
#: What the root holds beyond debootstrap's minbase: systemd (every Debian 12 / Raspberry Pi OS machine has it)
#: and the CA certificates apt and pip need. The cached tarball's name carries this list.
INCLUDE = ("systemd", "systemd-sysv", "ca-certificates")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMINGS = ROOT / "test-artifacts" / "install-root-timings.json"
timings: dict[str, float | str] = {}

Command = tuple[str, ...]


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xiaoan"


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses (``XIAOAN_DEBIAN_MIRROR`` overrides it)."""
    if os.environ.get("XIAOAN_DEBIAN_MIRROR"):
        return os.environ["XIAOAN_DEBIAN_MIRROR"]
    sources = Path("/etc/apt")
    one_line = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*.list"))]
    for path in one_line:
        for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
            words = [w for w in re.sub(r"\[.*?\]", "", line.split("#", 1)[0]).split()]
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                return words[1]
    for path in sorted((sources / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text(encoding="utf-8").split("\n\n"):
            keys = {k.strip(): v.split() for k, _, v in (line.partition(":") for line in stanza.splitlines()
                                                         if ":" in line and not line.startswith("#"))}
            if SUITE in keys.get("Suites", []) and "main" in keys.get("Components", []) and keys.get("URIs"):
                return keys["URIs"][0]
    return "http://deb.debian.org/debian"


def _run(command: list[str], what: str, timeout: float = 900) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, \
        f"{what} failed ({' '.join(command)}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def root_tarball() -> Path:
    """The bootstrapped Debian 12 root as a tarball, bootstrapped on the first run only."""
    arch = _run(["dpkg", "--print-architecture"], "dpkg").strip()
    tarball = cache_dir() / f"debian12-{arch}-minbase-{'-'.join(INCLUDE)}.tar.gz"
    if tarball.is_file():
        timings["bootstrap"] = "cached"
        return tarball
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists()
                                                 else None)
    assert debootstrap, "debootstrap is not installed: run scripts/install-deps.sh"
    mirror = debian_mirror()
    tarball.parent.mkdir(parents=True, exist_ok=True)
    building = tarball.parent / f"root-{os.getpid()}"
    started = time.monotonic()
    try:
        result = subprocess.run([debootstrap, "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE,
                                 str(building), mirror], capture_output=True, text=True, timeout=1800, check=False)
        assert result.returncode == 0, (
            f"debootstrap could not bootstrap Debian 12 from {mirror} (this machine's apt mirror; set "
            f"XIAOAN_DEBIAN_MIRROR to use another):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        timings["bootstrap_s"] = round(time.monotonic() - started, 1)
        partial = tarball.with_suffix(".partial")
        _run(["tar", "-C", str(building), "--numeric-owner", "-czf", str(partial), "."], "packing the root")
        partial.rename(tarball)
        timings["bootstrap_and_pack_s"] = round(time.monotonic() - started, 1)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return tarball


def pip_environment(root: Path) -> dict[str, str]:
    """The host's pip settings that work inside the root: index, proxies, CA bundle (copied in)."""
    env: dict[str, str] = {}
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                 "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    config = configparser.ConfigParser()
    config.read([p for p in ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", str(Path.home() / ".config/pip/pip.conf"),
                             str(Path.home() / ".pip/pip.conf")) if Path(p).is_file()])
    settings = {k: v for section in ("global", "install") if config.has_section(section)
                for k, v in config.items(section)}
    if "PIP_INDEX_URL" not in env and settings.get("index-url", "").startswith("http"):
        env["PIP_INDEX_URL"] = settings["index-url"]
    # Local indexes and wheel directories (file://, /opt/…) are not inside the root: only http(s) ones pass.
    extra = [u for u in (os.environ.get("PIP_EXTRA_INDEX_URL") or settings.get("extra-index-url", "")).split()
             if u.startswith("http")]
    if extra:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
    cert = os.environ.get("PIP_CERT") or settings.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE")
    if cert and Path(cert).is_file():
        shutil.copyfile(cert, root / "tmp" / "host-ca.crt")
        env["PIP_CERT"] = "/tmp/host-ca.crt"
    return env


@dataclass
class Root:
    """A Debian 12 root with /proc and /dev mounted, and the commands run in it."""

    path: Path
    env: dict[str, str]
    mounts: list[Path] = field(default_factory=list)

    def mount(self) -> None:
        for kind, target, args in (("proc", "proc", ["-t", "proc", "proc"]), ("dev", "dev", ["--bind", "/dev"]),
                                   ("devpts", "dev/pts", ["--bind", "/dev/pts"])):
            where = self.path / target
            _run(["mount", *args, str(where)], f"mounting {kind}")
            self.mounts.append(where)

    def unmount(self) -> None:
        while self.mounts:
            where = self.mounts.pop()
            subprocess.run(["umount", str(where)], check=False)
            if os.path.ismount(where):
                subprocess.run(["umount", "--lazy", str(where)], check=False)

    def run(self, script: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        environment = [f"{k}={v}" for k, v in {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", **self.env}.items()]
        return subprocess.run(["chroot", str(self.path), "/usr/bin/env", "-i", *environment, "bash", "-c", script],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def check(self, script: str) -> str:
        result = self.run(script)
        assert result.returncode == 0, f"{script} failed in the root:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        return result.stdout


@dataclass
class Installed:
    root: Root
    first: str
    second: str


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def _install(role: str, wheel: Path, work: Path, *, pi: bool) -> Iterator[Installed]:
    if os.geteuid() != 0:
        pytest.skip("the clean-root install test needs root (debootstrap, mount, chroot)")
    tarball = root_tarball()
    path = work / "root"
    path.mkdir()
    started = time.monotonic()
    _run(["tar", "-C", str(path), "--numeric-owner", "-xzf", str(tarball)], "unpacking the cached root")
    timings["unpack_root_s"] = round(time.monotonic() - started, 1)
    shutil.copyfile("/etc/resolv.conf", path / "etc" / "resolv.conf")
    shutil.copyfile(wheel, path / "tmp" / wheel.name)
    shutil.copyfile(SCRIPT, path / "tmp" / "install.sh")
    if pi:  # the boot partition of Raspberry Pi OS, as the imager leaves it
        (path / "boot" / "firmware").mkdir(parents=True)
        (path / "boot" / "firmware" / "config.txt").write_text("[all]\n", encoding="utf-8")
    root = Root(path, pip_environment(path))
    try:
        root.mount()
        # The hub's guide copies the wheel from the current directory, the Pi's from /tmp where scp put it.
        command = (f"cd /tmp && bash install.sh hub {wheel.name}" if role == "hub"
                   else f"cd / && bash /tmp/install.sh edge /tmp/{wheel.name}")
        started = time.monotonic()
        first = root.check(command)
        timings[f"{role}_install_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        second = root.check(command)
        timings[f"{role}_second_run_s"] = round(time.monotonic() - started, 1)
        timings[f"{role}_machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
        TIMINGS.parent.mkdir(exist_ok=True)
        TIMINGS.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
        yield Installed(root, first, second)
    finally:
        root.unmount()
        if not root.mounts:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    yield from _install("hub", wheel, tmp_path_factory.mktemp("hub-root"), pi=False)


@pytest.fixture(scope="module")
def edge(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    yield from _install("edge", wheel, tmp_path_factory.mktemp("edge-root"), pi=True)


# --- the guides' commands ---------------------------------------------------------------------------------

def guide_commands(guide: Path, steps: set[int]) -> list[Command]:
    """The commands of the guide's ``sh`` blocks under ``## N.`` for N in steps, ``sudo`` dropped, ``&&`` split."""
    commands: list[Command] = []
    step = 0
    block: list[str] | None = None
    for line in guide.read_text(encoding="utf-8").splitlines():
        if block is None and (heading := re.match(r"^## (\d+)\.", line)):
            step = int(heading.group(1))
        elif block is None and line.startswith("## "):
            step = 0
        elif line.strip().startswith("```"):
            if block is not None and step in steps:
                text = "\n".join(block).replace("\\\n", " ")
                for command_line in text.splitlines():
                    words = shlex.split(command_line, comments=True)
                    while words:
                        cut = words.index("&&") if "&&" in words else len(words)
                        command, words = words[:cut], words[cut + 1:]
                        if command and command[0] == "sudo":
                            command = command[1:]
                        if command:
                            commands.append(tuple(command))
            block = [] if block is None and line.strip() == "```sh" else None
        elif block is not None:
            block.append(line)
    return commands


def script_commands(output: str) -> list[Command]:
    """The commands the script printed (``$ command``) before running them."""
    return [tuple(shlex.split(line[2:])) for line in output.splitlines() if line.startswith("$ ")]


def without_systemd(commands: list[Command]) -> list[Command]:
    """The guide's commands as run where systemd is not running: nothing restarted or started, units enabled."""
    kept: list[Command] = []
    for command in commands:
        if command[:2] == ("systemctl", "enable") and "--now" in command:
            kept.append(tuple(word for word in command if word != "--now"))
        elif not (command[:1] == ("systemctl",) and command[1] in {"daemon-reload", "restart", "reload", "start"}):
            kept.append(command)
    return kept


def left_to_installer(command: Command) -> bool:
    """Commands of the covered steps that need the school's own answers, a person to look, or the laptop."""
    xiaoan = "/opt/xiaoan/venv/bin/xiaoan"
    return (command[0] in {"nano", "journalctl", "curl", "scp"}
            or command[:5] in {(xiaoan, "provision", "--dir", "/etc/mosquitto/xiaoan", "device"),
                               (xiaoan, "provision", "--dir", "/etc/mosquitto/xiaoan", "list")}
            or command[:3] == (xiaoan, "edge", "check-config"))


def test_the_hub_script_runs_the_hub_guides_commands_in_order(hub: Installed) -> None:
    expected = [c for c in without_systemd(guide_commands(HUB_GUIDE, {1, 2, 3, 4, 5, 6, 7}))
                if not left_to_installer(c)]
    assert script_commands(hub.first) == expected


def test_the_edge_script_runs_the_pi_guides_commands_in_order(edge: Installed) -> None:
    step6 = ("install", "-d", "-o", "root", "-g", "xiaoan", "-m", "750", "/etc/xiaoan")
    assert step6 in guide_commands(EDGE_GUIDE, {6})
    expected: list[Command] = []
    for command in without_systemd(guide_commands(EDGE_GUIDE, {2, 3, 7, 8})):
        if command[:1] == ("install",) and command[-1].startswith("/etc/systemd/system/systemd-time-wait-sync"):
            expected.append(step6)  # step 6's directory, before step 7
        if not left_to_installer(command) and "python3-lgpio" not in command:
            expected.append(command)
    # Plain Debian, not Raspberry Pi OS: no python3-lgpio in the archive, no gpio group; the guide says both.
    assert "python3-lgpio is not in this system's archive" in edge.first
    guide = EDGE_GUIDE.read_text(encoding="utf-8")
    assert ("apt-get", "install", "-y", "python3-lgpio") in guide_commands(EDGE_GUIDE, {2})
    assert "groupadd --system gpio" in guide
    got = script_commands(edge.first)
    assert ("groupadd", "--system", "gpio") in got
    got.remove(("groupadd", "--system", "gpio"))
    assert got == expected


# --- what the install left ------------------------------------------------------------------------------

def stat(root: Root, path: str) -> str:
    return root.check(f"stat -c '%U:%G %a' {shlex.quote(path)}").strip()


def test_the_hub_install_leaves_the_program_the_user_the_directories_and_the_enabled_unit(hub: Installed) -> None:
    root = hub.root
    assert "usage: xiaoan" in root.check("/opt/xiaoan/venv/bin/xiaoan --help")
    assert root.check("getent passwd xiaoan-hub").split(":")[5:] == ["/var/lib/xiaoan-hub", "/usr/sbin/nologin\n"]
    assert root.check("id -gn xiaoan-hub").strip() == "xiaoan-hub"
    assert stat(root, "/opt/xiaoan/venv") == "root:root 755"
    assert stat(root, "/etc/xiaoan") == "root:xiaoan-hub 750"
    assert stat(root, "/etc/xiaoan/hub.env") == "root:xiaoan-hub 640"
    assert stat(root, "/etc/xiaoan/hub.yaml") == "root:xiaoan-hub 640"
    assert stat(root, "/etc/mosquitto/xiaoan") == "root:mosquitto 750"
    assert stat(root, "/etc/mosquitto/conf.d/xiaoan.conf") == "root:root 644"
    assert stat(root, "/etc/mosquitto/xiaoan/credentials/hub.password").startswith("root:")
    assert stat(root, "/etc/systemd/system/xiaoan-hub.service") == "root:root 644"
    assert root.check("readlink /etc/systemd/system/multi-user.target.wants/xiaoan-hub.service").strip() == \
        "/etc/systemd/system/xiaoan-hub.service"
    assert root.check("systemctl is-enabled xiaoan-hub").strip() == "enabled"
    # The state directory is systemd's to make, at the first start (StateDirectory=, mode 0700).
    assert root.run("test -e /var/lib/xiaoan-hub").returncode == 1


def test_the_edge_install_leaves_the_program_the_user_the_directories_and_the_enabled_units(edge: Installed) -> None:
    root = edge.root
    assert "usage: xiaoan" in root.check("/opt/xiaoan/venv/bin/xiaoan --help")
    # --system-site-packages: gpiozero finds Raspberry Pi OS's lgpio.
    assert "include-system-site-packages = true" in root.check("cat /opt/xiaoan/venv/pyvenv.cfg")
    assert root.check("getent passwd xiaoan").split(":")[5:] == ["/var/lib/xiaoan-edge", "/usr/sbin/nologin\n"]
    assert set(root.check("id -Gn xiaoan").split()) == {"xiaoan", "gpio", "dialout"}
    assert stat(root, "/opt/xiaoan/venv") == "root:root 755"
    assert stat(root, "/etc/xiaoan") == "root:xiaoan 750"
    assert stat(root, "/etc/systemd/system/xiaoan-edge.service") == "root:root 644"
    assert stat(root, "/etc/systemd/system/systemd-time-wait-sync.service.d/xiaoan.conf") == "root:root 644"
    assert root.check("readlink /etc/systemd/system/multi-user.target.wants/xiaoan-edge.service").strip() == \
        "/etc/systemd/system/xiaoan-edge.service"
    assert root.check("systemctl is-enabled xiaoan-edge systemd-time-wait-sync").split() == ["enabled", "enabled"]
    assert "TimeoutStartSec=90s" in root.check("cat /etc/systemd/system/systemd-time-wait-sync.service.d/xiaoan.conf")
    # The 1-wire and UART lines, appended once to the Pi's boot config though the script ran twice.
    assert root.check("cat /boot/firmware/config.txt").count("dtoverlay=w1-gpio,gpiopin=4") == 1


@pytest.mark.parametrize("role", ["hub", "edge"])
def test_systemd_verifies_the_installed_units_inside_the_root(role: str, request: pytest.FixtureRequest) -> None:
    installed: Installed = request.getfixturevalue(role)
    units = ["/etc/systemd/system/xiaoan-hub.service"] if role == "hub" else [
        "/etc/systemd/system/xiaoan-edge.service", "/lib/systemd/system/systemd-time-wait-sync.service"]
    result = installed.root.run(f"systemd-analyze --man=no verify {' '.join(units)}")
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.parametrize("role", ["hub", "edge"])
def test_a_second_run_keeps_what_the_first_made(role: str, request: pytest.FixtureRequest) -> None:
    installed: Installed = request.getfixturevalue(role)
    commands = script_commands(installed.second)
    assert not any(c[0] in {"useradd", "groupadd", "tee"} for c in commands), commands
    assert not any(c[:2] == ("python3", "-m") for c in commands), commands
    assert "/opt/xiaoan/venv exists: kept" in installed.second
    if role == "hub":
        assert not any("provision" in c for c in commands)
        assert "/etc/xiaoan/hub.env exists: kept" in installed.second


def test_the_install_script_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (scripts/install-deps.sh installs it)")
    _run([shellcheck, str(SCRIPT)], "shellcheck")
