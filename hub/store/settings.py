"""Settings edited on the admin page, versioned: every change a new version (who, when, what changed).

One file, ``settings.sqlite3``, only the hub's user may read (mode 0600): the notification
channels in it hold bot keys, webhook tokens and SMTP passwords. A section (``notify`` …)
is a JSON document; each change writes the whole document again as a new version with
the paths it changed, so any version can be read back, compared with the one before it,
and one change undone by a later version (nothing is ever rewritten or deleted).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hub.store.sqlite import Migration, SqliteStore

#: The file's mode: the hub's user only (its umask is 077 too; this holds for a file made before that).
PRIVATE = 0o600
#: How often a running hub looks for a version saved by another process (``xiaoan config import``):
#: such a change is in force within this many seconds.
POLL_S = 5.0

_V1 = """
CREATE TABLE IF NOT EXISTS settings_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    section TEXT NOT NULL,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS settings_versions_section ON settings_versions (section, id);
"""


@dataclass(frozen=True)
class SettingsVersion:
    """One version of a section: the whole document, who made it, when, and the paths it changed."""

    id: int
    section: str
    ts: float
    actor: str
    action: str
    changes: tuple[str, ...]
    data: dict[str, Any]


def _row(row: sqlite3.Row | tuple[Any, ...]) -> SettingsVersion:
    id_, section, ts, actor, action, changes, data = row
    return SettingsVersion(int(id_), section, float(ts), actor, action, tuple(json.loads(changes)), json.loads(data))


_COLUMNS = "id, section, ts, actor, action, changes, data"


class SettingsStore(SqliteStore):
    STORE: ClassVar[str] = "settings"
    MIGRATIONS: ClassVar[tuple[Migration, ...]] = (
        Migration(1, "versioned settings edited on the admin page", _V1),
    )

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created private before SQLite opens it (and its -wal / -shm, which SQLite makes with the file's mode).
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE))
        os.chmod(path, PRIVATE)
        super().__init__(path)

    def latest(self, section: str) -> SettingsVersion | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM settings_versions WHERE section = ?"
                                   " ORDER BY id DESC LIMIT 1", (section,)).fetchone()
        return None if row is None else _row(row)

    def version(self, section: str, version_id: int) -> SettingsVersion | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM settings_versions WHERE section = ? AND id = ?",
                                   (section, version_id)).fetchone()
        return None if row is None else _row(row)

    def before(self, section: str, version_id: int) -> SettingsVersion | None:
        """The version of ``section`` just before ``version_id`` (None: that one was the first)."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM settings_versions WHERE section = ? AND id < ?"
                                   " ORDER BY id DESC LIMIT 1", (section, version_id)).fetchone()
        return None if row is None else _row(row)

    def history(self, section: str, limit: int = 50) -> list[SettingsVersion]:
        """The newest versions first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM settings_versions WHERE section = ?"
                                    " ORDER BY id DESC LIMIT ?", (section, limit)).fetchall()
        return [_row(row) for row in rows]

    def save(self, section: str, data: dict[str, Any], *, ts: float, actor: str, action: str,
             changes: list[str], expect: int | None) -> SettingsVersion:
        """Write ``data`` as the next version, if the newest is still ``expect`` (None: there is none yet).

        Two admins saving at once: the second finds a newer version than the one it
        changed and is refused (``StaleVersion``) instead of undoing the first's change.
        """
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        with self.transaction() as db:
            row = db.execute("SELECT max(id) FROM settings_versions WHERE section = ?", (section,)).fetchone()
            newest = None if row is None or row[0] is None else int(row[0])
            if newest != expect:
                raise StaleVersion(section, expect, newest)
            cursor = db.execute("INSERT INTO settings_versions (section, ts, actor, action, changes, data)"
                                " VALUES (?, ?, ?, ?, ?, ?)",
                                (section, ts, actor, action, json.dumps(changes, ensure_ascii=False), text))
            new_id = int(cursor.lastrowid or 0)
        return SettingsVersion(new_id, section, ts, actor, action, tuple(changes), json.loads(text))


class StaleVersion(RuntimeError):
    """Someone else saved a newer version of the section meanwhile."""

    def __init__(self, section: str, expected: int | None, found: int | None) -> None:
        self.section, self.expected, self.found = section, expected, found
        super().__init__(f"{section}: changed meanwhile (version {found}, not {expected}); reload and try again")
