"""``xiaoan backup`` / ``xiaoan restore`` and the nightly backup duty: the school's record in one file.

A backup is one ``xiaoan-backup-YYYYMMDDTHHMMSSZ.tar.gz`` holding

* ``home/…`` — everything in the hub's state directory (``XIAOAN_HOME``): every SQLite
  file copied with SQLite's online backup API (a consistent snapshot while the hub
  writes; copying a WAL database file alone can miss the last commits), checked with
  ``PRAGMA quick_check``, and every other file as it is (photos, generated reports,
  credentials, the broker-drop baseline);
* ``config/…`` — the files the settings name outside it (``XIAOAN_CONFIG``,
  ``XIAOAN_NOTIFY_CONFIG``, the hub's MQTT password and TLS files);
* ``broker/…`` — the broker's account files (``xiaoan provision --dir``), when asked;
* ``MANIFEST.json`` — where each came from, its size and SHA-256, each store's schema version.

The archive appears under its name only when complete (written as ``….partial``,
synced, renamed) and is readable by its owner only. ``restore`` checks every file
against the manifest and every database's schema against this release before it
moves anything into place, and refuses a state directory that is not empty unless
told ``--force``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path, PurePosixPath
from typing import IO, Any
from zoneinfo import ZoneInfo

from hub.alerts.kinds import AlertKind, RuleKind, Severity
from hub.alerts.ports import AlertRaiser
from hub.settings import HubSettings
from hub.store.sqlite import known_versions, refuse_newer

_LOGGER = logging.getLogger(__name__)

PREFIX = "xiaoan-backup-"
SUFFIX = ".tar.gz"
MANIFEST = "MANIFEST.json"
FORMAT = 1
#: SQLite's companions of a database file and the hub's lock: never copied (the backup API covers them).
_TRANSIENT = re.compile(r"(-wal|-shm|-journal|\.lock|\.partial)$")
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d{{8}}T\d{{6}}Z)(?:-\d+)?{re.escape(SUFFIX)}$")
#: How often the nightly duty asks whether a backup is due.
BACKUP_CHECK_S = 300.0
#: After a failed nightly backup, the next try waits this long (a USB stick put back in, a full disk cleared).
RETRY_S = 3600.0
RULE = RuleKind.BACKUP_FAILED
SUBJECT = "backup"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what and where."""


@dataclass(frozen=True)
class BackupSources:
    """What a backup copies: the state directory, the settings' files outside it, the broker's accounts."""

    home: Path
    config_files: tuple[Path, ...] = ()
    broker_dir: Path | None = None


def backup_sources(settings: HubSettings, broker_dir: Path | None = None) -> BackupSources:
    """What a backup of this hub copies: its state directory and the files its settings name outside it."""
    home = settings.home.resolve()
    named = [settings.config_file, settings.notify_config, settings.mqtt_password_file, settings.mqtt_tls_ca_file,
             settings.mqtt_tls_cert_file, settings.mqtt_tls_key_file]
    outside = tuple(dict.fromkeys(p.resolve() for p in named if p is not None and not p.resolve().is_relative_to(home)))
    return BackupSources(home, outside, broker_dir)


@dataclass(frozen=True)
class BackupResult:
    archive: Path
    files: int
    databases: int
    size: int


@dataclass
class _Manifest:
    created: float
    home: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    broker_dir: str | None = None
    stores: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "created": self.created, "home": self.home, "files": self.files,
                           "config": self.config, "broker_dir": self.broker_dir, "stores": self.stores},
                          ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00"


def _files_under(root: Path, skip: Sequence[Path]) -> Iterator[Path]:
    """Regular files under ``root`` (sorted, for a stable archive), less transient ones and those in ``skip``
    (the backup directory itself, when it is inside ``root``)."""
    skip = [s for s in skip if s.is_relative_to(root)]
    for path in sorted(root.rglob("*")):
        if any(path == s or path.is_relative_to(s) for s in skip):
            continue
        if path.is_file() and not path.is_symlink() and not _TRANSIENT.search(path.name):
            yield path


def _copy_database(source: Path, target: Path) -> dict[str, int]:
    """An online backup of ``source`` into ``target``, checked; returns its stores' schema versions."""
    with closing(sqlite3.connect(source, timeout=30)) as db, closing(sqlite3.connect(target)) as copy:
        db.execute("PRAGMA busy_timeout=30000")
        db.backup(copy)  # all pages in one step: one consistent snapshot
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupError(f"{source}: the copy fails SQLite's check ({verdict}); the database may be damaged")
        copy.execute("PRAGMA journal_mode=DELETE")  # a single file in the archive
        try:
            return {str(store): int(version) for store, version in
                    copy.execute("SELECT store, version FROM schema_version")}
        except sqlite3.OperationalError:
            return {}


def archive_name(at: float, directory: Path) -> Path:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y%m%dT%H%M%SZ")
    path, n = directory / f"{PREFIX}{stamp}{SUFFIX}", 1
    while path.exists():
        n += 1
        path = directory / f"{PREFIX}{stamp}-{n}{SUFFIX}"
    return path


def archives(directory: Path) -> list[Path]:
    """The backups in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.match(p.name)), key=lambda p: (archive_time(p), p.name))


def archive_time(path: Path) -> float:
    """When a backup was made, from its name."""
    found = _NAME.match(path.name)
    if found is None:
        raise BackupError(f"{path}: not a backup's name ({PREFIX}YYYYMMDDTHHMMSSZ{SUFFIX})")
    return datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


def make_backup(sources: BackupSources, directory: Path, now: float | None = None) -> BackupResult:
    """Write one backup archive of ``sources`` into ``directory``; the hub may keep running."""
    home = sources.home.resolve()
    if not (home / "hub").is_dir():
        raise BackupError(f"{home}: no hub state here (expected {home / 'hub'}); set XIAOAN_HOME")
    if not directory.is_dir():
        raise BackupError(f"{directory}: the backup directory does not exist (is the USB stick mounted?)")
    created = time.time() if now is None else now
    manifest = _Manifest(created=created, home=str(home),
                         broker_dir=str(sources.broker_dir) if sources.broker_dir is not None else None)
    target = archive_name(created, directory)
    partial = target.with_name(target.name + ".partial")
    databases = 0
    with tempfile.TemporaryDirectory(prefix=".xiaoan-backup-", dir=directory) as staging_dir:
        staging = Path(staging_dir)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                skip = [directory.resolve()]
                for path in _files_under(home, skip):
                    name = "home/" + path.relative_to(home).as_posix()
                    if path.suffix == ".sqlite3" and _is_sqlite(path):
                        copy = staging / "db.sqlite3"
                        manifest.stores[name] = _copy_database(path, copy)
                        _add(tar, manifest, name, copy, path)
                        copy.unlink()
                        databases += 1
                    else:
                        _add(tar, manifest, name, path, path)
                for index, path in enumerate(sources.config_files):
                    name = f"config/{index}-{path.name}"
                    _add(tar, manifest, name, path, path)
                    manifest.config[name] = str(path)
                if sources.broker_dir is not None:
                    if not sources.broker_dir.is_dir():
                        raise BackupError(f"{sources.broker_dir}: the broker's account directory does not exist")
                    for path in _files_under(sources.broker_dir, []):
                        _add(tar, manifest, "broker/" + path.relative_to(sources.broker_dir).as_posix(), path, path)
                if not databases:
                    raise BackupError(f"{home / 'hub'}: no databases to back up; is XIAOAN_HOME the hub's?")
                info = tarfile.TarInfo(MANIFEST)
                data = manifest.to_json()
                info.size, info.mtime, info.mode = len(data), int(created), 0o600
                tar.addfile(info, io.BytesIO(data))
                raw.flush()
                os.fsync(raw.fileno())
            partial.replace(target)
            _sync_dir(directory)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return BackupResult(target, len(manifest.files), databases, target.stat().st_size)


class _Hashing:
    """A file read through SHA-256: the archive's checksum is of exactly the bytes written."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add(tar: tarfile.TarFile, manifest: _Manifest, name: str, path: Path, original: Path) -> None:
    """One file into the archive, with its original's mode and time, hashed as written (streamed: a
    year of readings does not fit a Raspberry Pi's memory)."""
    try:
        handle = path.open("rb")
        mode, mtime = original.stat().st_mode, original.stat().st_mtime
    except PermissionError as error:
        raise BackupError(f"{original}: permission denied: run the backup as a user who can read it"
                          " (sudo xiaoan backup …)") from error
    with handle:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = os.fstat(handle.fileno()).st_size, int(mtime), mode & 0o777
        reader = _Hashing(handle)
        tar.addfile(info, reader)
    manifest.files[name] = {"size": info.size, "sha256": reader.digest.hexdigest()}


def _sync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system (a USB stick's vfat) syncs directories
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups in ``directory``; returns those deleted."""
    found = archives(directory)
    old = found[:-keep] if keep > 0 else found
    for path in old:
        path.unlink()
    return old


# -- restore -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    files: int
    databases: int
    #: Where each config file went → where it was when backed up.
    config: dict[Path, str]
    broker_dir: Path | None


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
    except KeyError:
        raise BackupError(f"{archive}: no {MANIFEST}: not a xiaoan backup") from None
    if member is None:
        raise BackupError(f"{archive}: {MANIFEST} is not a file")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive}: backup format {manifest.get('format')!r}, this release reads {FORMAT}")
    return manifest


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or path.parts[0] not in {"home", "config", "broker"}:
        raise BackupError(f"refusing an archive member outside the backup's folders: {name!r}")
    return path


def _not_empty(directory: Path) -> bool:
    return directory.exists() and any(directory.iterdir())


def restore(archive: Path, home: Path, *, force: bool = False, broker_dir: Path | None = None,
            config_dir: Path | None = None) -> RestoreResult:
    """Restore ``archive`` into the state directory ``home`` (stop the hub first).

    ``config_dir`` receives the config files (default ``home/restored-config``), ``broker_dir``
    the broker's account files (default ``config_dir/broker``). A non-empty target is refused
    unless ``force``.
    """
    config_dir = config_dir or home / "restored-config"
    for target in (home, broker_dir):
        if target is not None and _not_empty(target) and not force:
            raise BackupError(f"{target} is not empty: restoring would overwrite it. Restore into an empty"
                              " directory, or add --force (stop the hub first)")
    if not archive.is_file():
        raise BackupError(f"{archive}: no such backup file")
    home.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar, \
            tempfile.TemporaryDirectory(prefix=".xiaoan-restore-", dir=home) as staging_dir:
        manifest = _read_manifest(tar, archive)
        staging = Path(staging_dir)
        listed: dict[str, dict[str, Any]] = manifest["files"]
        for member in tar.getmembers():
            if member.name == MANIFEST:
                continue
            if member.name not in listed or not member.isfile():
                raise BackupError(f"{archive}: {member.name!r} is not in the manifest")
            source = tar.extractfile(member)
            assert source is not None
            path = staging / _safe(member.name)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            reader = _Hashing(source)
            with path.open("wb") as out:
                shutil.copyfileobj(reader, out, 1 << 20)
            if reader.digest.hexdigest() != listed[member.name]["sha256"]:
                raise BackupError(f"{archive}: {member.name} does not match its checksum: the backup is damaged")
            path.chmod(member.mode & 0o777)
        missing = sorted(set(listed) - {str(p.relative_to(staging).as_posix()) for p in staging.rglob("*")
                                         if p.is_file()})
        if missing:
            raise BackupError(f"{archive}: files of the manifest are missing: {', '.join(missing[:5])}")
        # A database newer than this release is refused before anything moves (SchemaTooNew names it).
        for folder in {p.parent for p in (staging / "home").rglob("*.sqlite3")}:
            refuse_newer(folder, known_versions())
        databases = sum(1 for name in manifest["stores"])
        moved_home = _move_tree(staging / "home", home)
        config: dict[Path, str] = {}
        for name, original in manifest["config"].items():
            target = config_dir / PurePosixPath(name).name.split("-", 1)[1]
            _move(staging / name, target)
            config[target] = original
        broker_target = broker_dir or config_dir / "broker"
        broker_files = _move_tree(staging / "broker", broker_target) if (staging / "broker").is_dir() else 0
    return RestoreResult(moved_home + len(config) + broker_files, databases, config,
                         broker_target if broker_files else None)


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if target.suffix == ".sqlite3":
        # A database's old WAL beside a restored file would be replayed into it: they go first.
        for companion in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + companion).unlink(missing_ok=True)
    source.replace(target)


def _move_tree(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    moved = 0
    for path in sorted(source.rglob("*")):
        if path.is_file():
            _move(path, target / path.relative_to(source))
            moved += 1
    return moved


# -- the nightly duty --------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupStatus:
    """The nightly backup as ``/api/health`` shows it (no paths: the route is open)."""

    last_ok: float | None
    last_failure: float | None
    failing: bool
    kept: int


class NightlyBackup:
    """A duty (``backup``, checked every few minutes): once a day after ``at`` local time, a backup to
    ``directory``, keeping the newest ``keep``.

    A failure (the stick is missing, full, a file unreadable) raises a warning alarm, tried
    again every ``RETRY_S``; the next backup that works clears it. The last good backup is
    read from the directory's names, so a restarted hub neither repeats nor skips a night.
    """

    def __init__(self, sources: BackupSources, directory: Path, keep: int, at: time_of_day, tz: ZoneInfo,
                 alarms: AlertRaiser) -> None:
        self.sources, self.directory, self.keep, self.at, self.tz = sources, directory, keep, at, tz
        self._alarms = alarms
        self._lock = threading.Lock()
        found = archives(directory)
        self._last_ok: float | None = archive_time(found[-1]) if found else None
        self._last_failure: float | None = None
        self._failing = False
        self._kept = len(found)

    def due(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, self.tz)
        today = datetime.combine(local.date(), self.at, self.tz)
        if local < today:
            today -= timedelta(days=1)  # before tonight's time: yesterday's backup is the one due
        with self._lock:
            if self._last_ok is not None and self._last_ok >= today.timestamp():
                return False
            return self._last_failure is None or now - self._last_failure >= RETRY_S

    def tick(self, now: float) -> None:
        if self.due(now):
            self.run(now)

    def run(self, now: float) -> BackupResult | None:
        """Back up now; a failure is logged and alarmed, not raised (the duty must not stop)."""
        try:
            result = make_backup(self.sources, self.directory, now)
            pruned = prune(self.directory, self.keep)
        except (OSError, sqlite3.Error, tarfile.TarError, BackupError) as error:
            _LOGGER.error("nightly backup to %s failed: %s", self.directory, error)
            with self._lock:
                self._last_failure, self._failing = now, True
            self._observe(True, now, str(error))
            return None
        _LOGGER.info("backup %s written (%d files, %d databases, %d bytes)%s", result.archive, result.files,
                     result.databases, result.size, f"; deleted {len(pruned)} older" if pruned else "")
        with self._lock:
            self._last_ok, self._failing = now, False
            self._kept = len(archives(self.directory))
        self._observe(False, now, "")
        return result

    def _observe(self, failing: bool, now: float, error: str) -> None:
        english = self._alarms.locale == "en"
        message = (f"Nightly backup to {self.directory} failed: {error}" if english
                   else f"夜间备份到 {self.directory} 失败：{error}")
        self._alarms.observe(RULE, SUBJECT, failing, now, device="hub", kind=AlertKind.HUB,
                             severity=Severity.WARNING, message=message[:500],
                             data={"error": error[:300]} if failing else None)

    def status(self) -> BackupStatus:
        with self._lock:
            return BackupStatus(self._last_ok, self._last_failure, self._failing, self._kept)
