"""Every delivery attempt and its outcome, in SQLite, so "did the message go out?" has an answer.

Kept in its own table (and file, if the caller wishes) beside the hub's state: the
weekly report and the alert page read it; nothing in it decides anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.store.sqlite import Migration, SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_delivery_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    channel TEXT NOT NULL,
    tier TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    alert_ids TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    latency_s REAL NOT NULL DEFAULT 0,
    title TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notify_delivery_by_ts ON notify_delivery_log (ts);
"""

#: Outcomes: sent / failed (an attempt on a channel), deferred (rate limit, nothing sent),
#: undeliverable (every channel of the route failed; retried later), abandoned (given up).
OUTCOMES = ("sent", "failed", "deferred", "undeliverable", "abandoned")


@dataclass(frozen=True)
class DeliveryAttempt:
    ts: float
    channel: str
    tier: str
    incident_key: str
    alert_ids: tuple[int, ...]
    outcome: str
    error: str = ""
    latency_s: float = 0.0
    title: str = ""
    id: int | None = None


class DeliveryLog(SqliteStore):
    STORE = "notify"
    MIGRATIONS = (Migration(1, "the delivery log (0.1.0)", _SCHEMA),)

    def record(self, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO notify_delivery_log (ts, channel, tier, incident_key, alert_ids, outcome, error,"
                " latency_s, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt.ts, attempt.channel, attempt.tier, attempt.incident_key, json.dumps(attempt.alert_ids),
                 attempt.outcome, attempt.error, attempt.latency_s, attempt.title),
            )

    def attempts(self, *, alert_id: int | None = None, since: float | None = None,
                 limit: int = 500) -> list[DeliveryAttempt]:
        """Newest first; ``alert_id`` keeps attempts that spoke for that alert (also inside a digest)."""
        # Without an alert to look for, SQL can stop at the limit; with one, rows are read
        # lazily until enough match (an alert's ids sit inside a JSON list).
        query = ("SELECT id, ts, channel, tier, incident_key, alert_ids, outcome, error, latency_s, title"
                 " FROM notify_delivery_log WHERE ts >= ? ORDER BY id DESC")
        args: list[Any] = [since if since is not None else float("-inf")]
        if alert_id is None:
            query += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args)
            found = self._matching(rows, alert_id, limit)
        return found

    @staticmethod
    def _matching(rows: Iterable[Sequence[Any]], alert_id: int | None, limit: int) -> list[DeliveryAttempt]:
        found: list[DeliveryAttempt] = []
        for row in rows:
            ids = tuple(json.loads(row[5]))
            if alert_id is not None and alert_id not in ids:
                continue
            found.append(DeliveryAttempt(id=row[0], ts=row[1], channel=row[2], tier=row[3], incident_key=row[4],
                                         alert_ids=ids, outcome=row[6], error=row[7], latency_s=row[8],
                                         title=row[9]))
            if len(found) >= limit:
                break
        return found
