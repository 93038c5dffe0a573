"""Can the agent read the files its config names: the broker password, the TLS CA, certificate and key.

A config that validates can still fail at the first connection, in the journal, hours
later: ``/etc/xiaoan/mqtt-password`` was never written, the CA was not copied to the
Pi, or the key is ``600 root:root`` and the service user cannot open it. ``check-config``
asks here, naming the setting and the path.

Readability is judged for the user the agent runs as. Run by root (``sudo check-config``)
the check is made for the service user (``xiaoan``, when it exists) from the files'
owner, group and mode and every directory on the way, since root itself reads
everything; run by anyone else it is that user's own ``access(2)``, and a "permission
denied" suggests ``sudo``.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from edge.config import EdgeSettings

#: The user the edge unit runs as (firmware-config/raspi/xiaoan-edge.service).
SERVICE_USER = "xiaoan"


@dataclass(frozen=True)
class Reader:
    """Who must be able to read the files: a user name, uid and every group id it has."""

    name: str
    uid: int
    gids: frozenset[int]

    @staticmethod
    def named(name: str) -> Reader:
        entry = pwd.getpwnam(name)
        groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
        return Reader(name, entry.pw_uid, frozenset(groups))

    @property
    def is_me(self) -> bool:
        return self.uid == os.geteuid()


def default_reader() -> Reader:
    """The service user when run by root and it exists; otherwise whoever runs the check."""
    if os.geteuid() == 0:
        try:
            return Reader.named(SERVICE_USER)
        except KeyError:
            pass
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return Reader(name, uid, frozenset({os.getegid(), *os.getgroups()}))


def referenced_files(settings: EdgeSettings) -> list[tuple[str, Path]]:
    """Each file the config names, with the setting that names it."""
    broker = settings.broker
    found: list[tuple[str, Path]] = []
    if broker.password_file is not None:
        found.append(("broker.password_file", broker.password_file))
    if broker.tls is not None:
        found.append(("broker.tls.ca_file", broker.tls.ca_file))
        if broker.tls.cert_file is not None:
            found.append(("broker.tls.cert_file", broker.tls.cert_file))
        if broker.tls.key_file is not None:
            found.append(("broker.tls.key_file", broker.tls.key_file))
    return found


def _owner(info: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        user = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"{user}:{group}, mode {stat.S_IMODE(info.st_mode):o}"


def _allows(reader: Reader, info: os.stat_result, bits: tuple[int, int, int]) -> bool:
    """The mode bits that apply to ``reader`` (owner, group or other) grant ``bits``; root is granted all."""
    if reader.uid == 0:
        return True
    if info.st_uid == reader.uid:
        return bool(info.st_mode & bits[0])
    if info.st_gid in reader.gids:
        return bool(info.st_mode & bits[1])
    return bool(info.st_mode & bits[2])


_READ = (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)
_SEARCH = (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)


def _blocking_dir(reader: Reader, path: Path) -> Path | None:
    """The first directory on the way to ``path`` that ``reader`` may not enter."""
    for directory in reversed(path.absolute().parents):
        try:
            info = directory.stat()
        except OSError:
            return directory
        if not _allows(reader, info, _SEARCH):
            return directory
    return None


def check_file(setting: str, path: Path, reader: Reader) -> str | None:
    """What is wrong with one referenced file for ``reader``, or None when it can read it."""
    if reader.is_me:
        if os.access(path, os.R_OK):
            return None if path.is_file() else f"{setting}: {path} is not a file"
        try:
            path.stat()
        except FileNotFoundError:
            return f"{setting}: {path} does not exist"
        except PermissionError:
            return (f"{setting}: {path}: permission denied for {reader.name} (a directory on the way is closed"
                    " to you): run check-config with sudo to check it for the service user")
        info = path.stat()
        return (f"{setting}: {path}: permission denied for {reader.name} ({_owner(info)}): run check-config with"
                f" sudo to check it for the service user")
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{setting}: {path} does not exist"
    if not stat.S_ISREG(info.st_mode):
        return f"{setting}: {path} is not a file"
    closed = _blocking_dir(reader, path)
    if closed is not None:
        return (f"{setting}: {path}: the service user {reader.name} cannot enter {closed}"
                f" ({_owner(closed.stat())})")
    if not _allows(reader, info, _READ):
        return (f"{setting}: {path} is not readable by the service user {reader.name} ({_owner(info)}):"
                f" sudo chown root:{reader.name} {path} && sudo chmod 640 {path}")
    return None


def check_files(settings: EdgeSettings, reader: Reader) -> list[str]:
    """Every problem with the files the config names, for ``reader``."""
    return [problem for setting, path in referenced_files(settings)
            if (problem := check_file(setting, path, reader)) is not None]
