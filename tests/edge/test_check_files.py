"""``check-config`` checks the files a config names: they exist and the service user can read them.

Real files and modes under a temporary directory; ``--user nobody`` stands for the service user
(this suite runs as root, which reads everything). The "run it with sudo" advice is checked by
running the command as ``nobody`` (a forked child that drops root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.cli import main

OTHER = "nobody"


def write_config(directory: Path, *, tls: bool = True) -> Path:
    config = directory / "edge.yaml"
    lines = ["site: school-001", "device: canteen-1", f"state_dir: {directory / 'state'}",
             "clock_sync_check: assume", "broker:", "  host: 127.0.0.1", "  port: 1883", "  username: canteen-1",
             f"  password_file: {directory / 'mqtt-password'}"]
    if tls:
        lines += ["  tls:", f"    ca_file: {directory / 'ca.crt'}", f"    cert_file: {directory / 'client.crt'}",
                  f"    key_file: {directory / 'client.key'}"]
    lines += ["sources:", "  - {kind: simulated_temperature, sensor: fridge-1}"]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@pytest.fixture
def etc() -> Iterator[Path]:
    """A directory others may enter (pytest's own tmp_path is 0700 and would hide every file from them)."""
    directory = Path(tempfile.mkdtemp(prefix="xiaoan-etc-"))
    directory.chmod(0o755)
    yield directory
    subprocess.run(["rm", "-rf", str(directory)], check=True)


def needs_other_user() -> None:
    if os.geteuid() != 0:
        pytest.skip("judging another user's access from the modes is checked as root")
    try:
        pwd.getpwnam(OTHER)
    except KeyError:
        pytest.skip(f"no user {OTHER!r} on this machine")


def test_missing_files_are_named_with_their_setting(etc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(etc)
    (etc / "mqtt-password").write_text("secret\n", encoding="utf-8")
    assert main(["edge", "check-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"broker.tls.ca_file: {etc / 'ca.crt'} does not exist" in err
    assert f"broker.tls.cert_file: {etc / 'client.crt'} does not exist" in err
    assert f"broker.tls.key_file: {etc / 'client.key'} does not exist" in err
    assert "password_file" not in err  # that one is there

    (etc / "mqtt-password").unlink()
    plain = write_config(etc, tls=False)
    assert main(["edge", "check-config", str(plain)]) == 2
    assert f"broker.password_file: {etc / 'mqtt-password'} does not exist" in capsys.readouterr().err
    # Syntax only: a config written on a laptop for a Pi
    assert main(["edge", "check-config", "--syntax-only", str(plain)]) == 0


def test_the_service_users_access_is_judged_from_owner_group_and_mode(etc: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    needs_other_user()
    config = write_config(etc, tls=False)
    password = etc / "mqtt-password"
    password.write_text("secret\n", encoding="utf-8")
    password.chmod(0o600)  # root's alone
    assert main(["edge", "check-config", "--user", OTHER, str(config)]) == 2
    err = capsys.readouterr().err
    assert f"broker.password_file: {password} is not readable by the service user {OTHER} (root:" in err
    assert "mode 600" in err and f"sudo chown root:{OTHER} {password} && sudo chmod 640 {password}" in err

    # Group-readable, in a group the user is in (its own primary group): readable.
    os.chown(password, 0, pwd.getpwnam(OTHER).pw_gid)
    password.chmod(0o640)
    assert main(["edge", "check-config", "--user", OTHER, str(config)]) == 0
    assert f"readable by {OTHER}" in capsys.readouterr().out

    # A directory on the way closed to the user: the file's own mode does not help.
    closed = etc / "private"
    closed.mkdir(mode=0o700)
    (closed / "mqtt-password").write_text("secret\n", encoding="utf-8")
    (closed / "mqtt-password").chmod(0o644)
    config.write_text(config.read_text().replace(str(password), str(closed / "mqtt-password")))
    assert main(["edge", "check-config", "--user", OTHER, str(config)]) == 2
    assert f"the service user {OTHER} cannot enter {closed}" in capsys.readouterr().err

    assert main(["edge", "check-config", "--user", "no-such-user-here", str(config)]) == 2
    assert "no user 'no-such-user-here'" in capsys.readouterr().err


def _as_other(*args: str) -> tuple[int, str]:
    """``xiaoan`` run by another user: a forked child that drops to ``nobody`` and runs the command."""
    entry = pwd.getpwnam(OTHER)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: never returns into pytest
        code = 70
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            with os.fdopen(write_end, "w") as err, contextlib.redirect_stderr(err):
                code = main(list(args))
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as err:
        output = err.read()
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status), output


def test_permission_denied_for_whoever_runs_it_suggests_sudo(etc: Path) -> None:
    needs_other_user()
    config = write_config(etc, tls=False)
    (etc / "mqtt-password").write_text("secret\n", encoding="utf-8")
    (etc / "mqtt-password").chmod(0o600)
    code, err = _as_other("edge", "check-config", str(config))
    assert code == 2, err
    assert f"broker.password_file: {etc / 'mqtt-password'}: permission denied for {OTHER}" in err
    assert "run check-config with sudo" in err

    config.chmod(0o640)  # the config itself: 640 root:root
    code, err = _as_other("edge", "check-config", str(config))
    assert code == 2, err
    assert f"{config}: permission denied" in err and "run it with sudo: sudo " in err
