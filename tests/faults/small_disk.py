"""A real, small file system for the full-disk tests: a size-limited tmpfs the test fills and frees.

Unprivileged where the kernel allows it: a holder process (``unshare --user
--map-root-user --mount``) mounts the tmpfs in a mount namespace of its own, the hub or
edge under test runs inside that namespace (``nsenter``), and the test reaches the
files through ``/proc/<holder>/root/…``. Nothing is mounted on the machine itself, and
the tmpfs disappears with the holder. As root without user namespaces the tmpfs is
mounted directly (and unmounted at the end). With neither, the test fails and says why:
a full-disk test that skips itself would hide that it never ran.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

_FILLER = "filler.bin"
_CHUNK = 64 * 1024


def _userns_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    try:
        result = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True,
                                timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class SmallDisk:
    """A tmpfs of ``size_bytes`` at ``path``; ``argv`` runs a command on it, ``view`` reaches its files."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self._holder: subprocess.Popen[bytes] | None = None
        self._mounted_here = False

    def start(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        options = f"size={self.size_bytes},mode=0700"
        if _userns_works():
            script = f'mount -t tmpfs -o {options} tmpfs "$1" && echo ready && exec sleep 86400'
            self._holder = subprocess.Popen(
                ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
                 "sh", "-c", script, "holder", str(self.path)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            assert self._holder.stdout is not None
            line = self._holder.stdout.readline()
            if line.strip() != b"ready":
                error = self._holder.stderr.read().decode(errors="replace") if self._holder.stderr else ""
                self.close()
                raise AssertionError(f"could not mount a tmpfs in a private mount namespace: {error}")
            return self
        if os.geteuid() == 0:
            subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(self.path)], check=True)
            self._mounted_here = True
            return self
        raise AssertionError(
            "the full-disk test needs a small file system: user namespaces are not available here"
            " (`unshare --user --map-root-user --mount true` failed) and the test does not run as root."
            " Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root.")

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run with the small disk at ``path`` (inside the holder's namespace)."""
        if self._holder is None:
            return list(command)
        return ["nsenter", f"--target={self._holder.pid}", "--user", "--mount", "--preserve-credentials",
                f"--wd={os.getcwd()}", "--", *command]

    def view(self, path: Path | None = None) -> Path:
        """Where this process reaches ``path`` (default: the mount point) on the small disk."""
        target = (path or self.path).resolve()
        if self._holder is None:
            return target
        return Path(f"/proc/{self._holder.pid}/root") / target.relative_to("/")

    def copy_out(self, directory: Path, into: Path) -> Path:
        """Copy the SQLite files (with their WAL) of ``directory`` on the small disk to ``into``; returns ``into``.

        SQLite resolves symbolic links in a path, and ``/proc/<pid>/root`` is one that
        leads back to this process's own root: a database on the small disk cannot be
        opened through ``view``, so the test reads copies. A copy taken while the store
        commits may miss the last commit (never more: the WAL's checksums end it).
        """
        source = self.view(directory)
        into.mkdir(parents=True, exist_ok=True)
        for stale in into.glob("*"):
            stale.unlink()
        for name in sorted(os.listdir(source)):
            if name.endswith((".sqlite3", ".sqlite3-wal")):
                with contextlib.suppress(FileNotFoundError):
                    shutil.copyfile(source / name, into / name)
        return into

    def free_bytes(self) -> int:
        stat = os.statvfs(self.view())
        return stat.f_bavail * stat.f_frsize

    def fill(self) -> int:
        """Write a filler file until the disk says it is full; returns the bytes written."""
        written = 0
        chunk = b"\0" * _CHUNK
        with open(self.view() / _FILLER, "ab", buffering=0) as filler:
            size = _CHUNK
            while size >= 512:
                try:
                    written += filler.write(chunk[:size])
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    size //= 2
        return written

    def top_up(self) -> None:
        """Fill again whatever became free (the store under test may have freed a little)."""
        if self.free_bytes() > 0:
            self.fill()

    def free(self) -> None:
        """Space returns: the filler file is deleted."""
        with contextlib.suppress(FileNotFoundError):
            (self.view() / _FILLER).unlink()

    def close(self) -> None:
        if self._holder is not None:
            self._holder.kill()
            self._holder.wait(30)
            self._holder = None
        if self._mounted_here:
            for _ in range(10):
                if subprocess.run(["umount", str(self.path)], check=False).returncode == 0:
                    break
                time.sleep(0.5)
            self._mounted_here = False
