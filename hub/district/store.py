"""The district's state in PostgreSQL: schools, forwarded records stored once, the alarm queue, open alarms.

Every worker of the district (on any machine) uses the same database, and the
database does what the shared-SQLite scale-out did by hand (docs/scale-out.md):

- **dedup**: a record's primary key is ``(site, kind, key)``; a batch is one
  ``INSERT … ON CONFLICT DO NOTHING``, so a batch re-sent after a lost confirmation,
  or the same batch arriving at two workers at once, stores each record once;
- **queued work**: each newly stored alarm record queues a job in the same
  transaction; workers claim jobs with ``FOR UPDATE SKIP LOCKED`` and apply them to
  ``alarms`` (each school's alarms as they stand now) in the transaction that deletes
  them, so a worker killed mid-job leaves the job to the next claim;
- **time series by month**: readings live in ``records_readings``, partitioned by the
  month (UTC) of their time; a worker makes a month's partition when the first reading
  of it arrives, and the leader drops whole months past ``readings_retention_days`` —
  a ``DROP TABLE``, not millions of ``DELETE``s. Everything else is kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hub.district.schema import migrate
from hub.district.wire import SITE_PATTERN, ForwardedRecord, RecordKind
from hub.pg.months import MonthPartitions, month_of, month_span
from hub.pg.pool import Connections
from hub.safetext import typed_problem

_LOGGER = logging.getLogger(__name__)

#: The advisory lock partitions are made and dropped under ("xiaoan-p" as bytes).
PARTITION_LOCK = 0x7869_616F_616E_2D70
#: The district keeps its copy of the readings this long by default: a quarter, for looking into what happened.
#: The two years the food-safety law asks are kept by each school's hub, whose record it is.
READINGS_RETENTION_DAYS = 92
READINGS_PARTITIONS = MonthPartitions("records_readings")


def partition_name(month: dt.date) -> str:
    return READINGS_PARTITIONS.name(month)


def token_digest(token: str) -> bytes:
    """Tokens are 32 random bytes: a plain SHA-256 is enough to keep them out of the database (no guessing to slow)."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int
    duplicates: int


#: The account log's actor for what was done on the district's machine, not on a page.
COMMAND_LINE = "(command line)"


def check_display_name(field: str, text: str) -> None:
    """A name people read on pages and paper: 1 to 100 characters, no control or direction characters."""
    if not text.strip() or len(text) > 100 or typed_problem(text) is not None:
        raise ValueError(f"{field}: 1 to 100 characters, no control characters")


def log_account_change(db: psycopg.Connection[Any], actor: str | None, action: str, subject: str,
                       detail: dict[str, Any]) -> None:
    """One line of the district's account log, in the caller's transaction (``actor`` None: the command line)."""
    db.execute("INSERT INTO district_account_log (actor, action, subject, detail) VALUES (%s, %s, %s, %s)",
               (actor or COMMAND_LINE, action, subject, Jsonb(detail)))


class DistrictStore:
    """The district's tables, used by every worker; each method is one transaction."""

    def __init__(self, dsn: str, worker: str, readings_retention_days: int = READINGS_RETENTION_DAYS) -> None:
        self.worker = worker
        self.readings_retention_days = readings_retention_days
        self.pool = Connections(dsn)
        #: Months whose readings partition this worker knows to exist.
        self._months: set[dt.date] = set()
        with self.pool.connection() as db:
            self.schema_version = migrate(db)

    def close(self) -> None:
        self.pool.close()

    def add_site(self, site: str, name: str, created_by: str | None = None) -> str:
        """Register a school; returns its token (shown once: only its digest is kept).

        ``created_by``: the admin who registered it on a page (None: the command line).
        """
        if not SITE_PATTERN.match(site):
            raise ValueError(f"site: {site!r} is not a site id (lower-case letters, digits, - and _, up to 64)")
        check_display_name("name", name)
        token = secrets.token_urlsafe(32)
        with self.pool.connection() as db, db.transaction():
            made = db.execute("INSERT INTO sites (site, name, token_sha256, created_by) VALUES (%s, %s, %s, %s)"
                              " ON CONFLICT (site) DO NOTHING", (site, name.strip(), token_digest(token), created_by))
            if not made.rowcount:
                raise ValueError(f"site: {site!r} is registered already")
            log_account_change(db, created_by, "site.added", site, {"name": name.strip()})
        return token

    def authenticate(self, site: str, token: str) -> bool:
        with self.pool.connection() as db:
            row = db.execute("SELECT token_sha256 FROM sites WHERE site = %s", (site,)).fetchone()
        if row is None:
            hmac.compare_digest(token_digest(token), token_digest(""))  # same work either way
            return False
        return hmac.compare_digest(bytes(row[0]), token_digest(token))  # type: ignore[call-overload]

    def _retention_start(self, now: float) -> float:
        """Readings before this (the start of the oldest month kept) are no longer kept."""
        return month_span(month_of(now - self.readings_retention_days * 86_400.0))[0]

    def _ensure_months(self, months: set[dt.date]) -> None:
        """Make the readings partitions of ``months`` that do not exist yet (each worker may: under a lock)."""
        for month in sorted(months - self._months):
            with self.pool.connection() as db, db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
                READINGS_PARTITIONS.make(db, month, *month_span(month))
            self._months.add(month)

    def store(self, site: str, records: tuple[ForwardedRecord, ...], now: float | None = None) -> Stored:
        """Store a batch of one school in one transaction; returns once it is committed (the confirmation).

        A reading older than the readings' retention is confirmed and not kept (counted with
        the duplicates): its month is gone or about to go, and refusing it would hold up the
        school's outbox for ever.
        """
        cutoff = self._retention_start(time.time() if now is None else now)
        expired = sum(1 for r in records if r.kind is RecordKind.READING and r.ts < cutoff)
        if expired:
            _LOGGER.info("%s sent %d reading(s) older than the %d days kept: confirmed, not kept", site, expired,
                         self.readings_retention_days)
            records = tuple(r for r in records if r.kind is not RecordKind.READING or r.ts >= cutoff)
        months = {month_of(r.ts) for r in records if r.kind is RecordKind.READING}
        self._ensure_months(months)
        try:
            stored = self._insert(site, records)
        except psycopg.errors.CheckViolation:
            # "No partition for the row": the leader dropped a month this worker still thought was there.
            self._months.clear()
            self._ensure_months(months)
            stored = self._insert(site, records)
        return Stored(stored.stored, stored.duplicates + expired)

    def drop_expired_readings(self, now: float) -> list[str]:
        """The leader's duty: drop the readings partitions of months wholly past the retention; returns their names."""
        cutoff = self._retention_start(now)
        dropped = []
        with self.pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for month in READINGS_PARTITIONS.months(db):
                if month_span(month)[1] <= cutoff:
                    name = partition_name(month)
                    db.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                    dropped.append(name)
        self._months.clear()
        return dropped

    def _insert(self, site: str, records: tuple[ForwardedRecord, ...]) -> Stored:
        kinds = [r.kind.value for r in records]
        keys = [r.key for r in records]
        times = [r.ts for r in records]
        bodies = [json.dumps(r.body, ensure_ascii=False) for r in records]
        with self.pool.connection() as db, db.transaction():
            inserted = db.execute(
                "INSERT INTO records (site, kind, key, ts, body, received_by)"
                " SELECT %s, k, key, ts, body::jsonb, %s FROM unnest(%s::text[], %s::text[], %s::float8[], %s::text[])"
                " AS r (k, key, ts, body) ON CONFLICT DO NOTHING RETURNING kind, key",
                (site, self.worker, kinds, keys, times, bodies)).fetchall()
            alarms = [str(key) for kind, key in inserted if kind == RecordKind.ALARM.value]
            if alarms:
                db.execute("INSERT INTO alarm_jobs (site, key) SELECT %s, unnest(%s::text[])", (site, alarms))
            db.execute("UPDATE sites SET last_contact = now(), silent_since = NULL WHERE site = %s", (site,))
        return Stored(len(inserted), len(records) - len(inserted))

    def apply_alarm_jobs(self, limit: int = 100) -> int:
        """Claim queued alarm records no other worker holds and bring ``alarms`` up to them; returns how many.

        A lifecycle record older than the one applied (``updated_at``) changes nothing:
        records of one alarm may arrive in any order after an outage. Each job is
        applied in a savepoint: one that fails (a body the wire let through that still
        does not cast) moves to ``alarm_dead_jobs`` with the reason, and the claim
        commits the others — rolled back, the same jobs would be claimed and fail again
        for ever, and no school's alarms would move.
        """
        with self.pool.connection() as db, db.transaction():
            claimed = db.execute(
                "WITH job AS (SELECT id FROM alarm_jobs ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
                " DELETE FROM alarm_jobs a USING job WHERE a.id = job.id RETURNING a.id, a.site, a.key, a.queued_at",
                (limit,)).fetchall()
            for job_id, site, key, queued_at in claimed:
                try:
                    with db.transaction():  # a savepoint
                        db.execute(
                            "INSERT INTO alarms (site, alert_id, state, updated_at, body, applied_by)"
                            " SELECT site, (body->>'id')::bigint, body->>'state', (body->>'updated_at')::float8,"
                            " body, %s FROM records WHERE site = %s AND kind = %s AND key = %s"
                            " ON CONFLICT (site, alert_id) DO UPDATE SET state = excluded.state,"
                            " updated_at = excluded.updated_at, body = excluded.body, applied_by = excluded.applied_by"
                            " WHERE alarms.updated_at <= excluded.updated_at",
                            (self.worker, site, RecordKind.ALARM.value, key))
                except (psycopg.DataError, psycopg.IntegrityError) as error:  # the body's content, not the link
                    reason = f"{type(error).__name__}: {error}"[:1000]
                    db.execute("INSERT INTO alarm_dead_jobs (id, site, key, queued_at, reason, failed_by)"
                               " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                               (job_id, site, key, queued_at, reason, self.worker))
                    _LOGGER.error("alarm record %s of %s could not be applied (%s): set aside in alarm_dead_jobs",
                                  key, site, reason)
        return len(claimed)

    def dead_alarm_jobs(self) -> list[tuple[str, str, str]]:
        """Alarm records set aside, oldest first: (site, key, reason)."""
        with self.pool.connection() as db:
            rows = db.execute("SELECT site, key, reason FROM alarm_dead_jobs ORDER BY id").fetchall()
        return [(str(site), str(key), str(reason)) for site, key, reason in rows]

    def mark_silent(self, silent_after_s: float) -> int:
        """The leader's duty: schools not heard from for ``silent_after_s`` are marked silent (once).

        A school never heard from counts from its registration: a hub never set up, or cut
        off since, is as blind a spot as one that stopped.
        """
        with self.pool.connection() as db:
            cursor = db.execute("UPDATE sites SET silent_since = now() WHERE silent_since IS NULL"
                                " AND coalesce(last_contact, created_at) < now() - make_interval(secs => %s)",
                                (silent_after_s,))
            return cursor.rowcount

    def beat(self, role: str) -> None:
        """The leader's mark in ``leader``: who holds the role, since when, last seen alive."""
        with self.pool.connection() as db:
            db.execute("INSERT INTO leader (role, worker, since, beat) VALUES (%s, %s, now(), now())"
                       " ON CONFLICT (role) DO UPDATE SET beat = now(),"
                       " since = CASE WHEN leader.worker = excluded.worker THEN leader.since ELSE now() END,"
                       " worker = excluded.worker", (role, self.worker))

    def leader(self, role: str) -> str | None:
        with self.pool.connection() as db:
            row = db.execute("SELECT worker FROM leader WHERE role = %s", (role,)).fetchone()
        return None if row is None else str(row[0])

    def counts(self, site: str) -> dict[str, int]:
        """Records stored for a school, by kind."""
        with self.pool.connection() as db:
            rows = db.execute("SELECT kind, count(*) FROM records WHERE site = %s GROUP BY kind", (site,)).fetchall()
        return {str(kind): int(str(n)) for kind, n in rows}

    def keys(self, site: str, kind: RecordKind) -> list[str]:
        with self.pool.connection() as db:
            rows = db.execute("SELECT key FROM records WHERE site = %s AND kind = %s", (site, kind.value)).fetchall()
        return [str(key) for (key,) in rows]

    def alarm_states(self, site: str) -> dict[int, str]:
        with self.pool.connection() as db:
            rows = db.execute("SELECT alert_id, state FROM alarms WHERE site = %s", (site,)).fetchall()
        return {int(str(alert_id)): str(state) for alert_id, state in rows}
