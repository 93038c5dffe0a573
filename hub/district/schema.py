"""The district's PostgreSQL schema as numbered steps (applied by ``hub.pg.schema``).

Released steps are never edited: a change is a new step (docs/operations.md).
"""

from __future__ import annotations

import psycopg

from hub.pg.schema import Migration, check_steps
from hub.pg.schema import migrate as migrate_store

STORE = "district"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "schools, forwarded records, the alarm queue, open alarms, the leader", """
CREATE TABLE sites (
    site TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_sha256 BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_contact TIMESTAMPTZ,
    silent_since TIMESTAMPTZ
);
CREATE TABLE records (
    site TEXT NOT NULL REFERENCES sites (site),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    body JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_by TEXT NOT NULL,
    PRIMARY KEY (site, kind, key)
);
CREATE INDEX records_site_ts ON records (site, kind, ts);
CREATE TABLE alarm_jobs (
    id BIGSERIAL PRIMARY KEY,
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE alarms (
    site TEXT NOT NULL REFERENCES sites (site),
    alert_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    body JSONB NOT NULL,
    applied_by TEXT NOT NULL,
    PRIMARY KEY (site, alert_id)
);
CREATE TABLE leader (
    role TEXT PRIMARY KEY,
    worker TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    beat TIMESTAMPTZ NOT NULL
);
"""),
    Migration(2, "alarm jobs that failed to apply, set aside with the reason", """
CREATE TABLE alarm_dead_jobs (
    id BIGINT PRIMARY KEY,
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    queued_at TIMESTAMPTZ NOT NULL,
    reason TEXT NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    failed_by TEXT NOT NULL
);
"""),
    Migration(3, "district inspectors, scoped to their schools; the open alarms by school", """
CREATE TABLE inspectors (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    token_sha256 BYTEA NOT NULL UNIQUE,
    all_sites BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE inspector_sites (
    inspector TEXT NOT NULL REFERENCES inspectors (name) ON DELETE CASCADE,
    site TEXT NOT NULL REFERENCES sites (site),
    PRIMARY KEY (inspector, site)
);
CREATE INDEX alarms_open ON alarms (site) WHERE state IN ('firing', 'acknowledged', 'resolved', 'closed');
"""),
    Migration(4, "inspectors' signatures under a week's compliance table", """
CREATE TABLE district_signoffs (
    week TEXT NOT NULL,
    inspector TEXT NOT NULL REFERENCES inspectors (name),
    signed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    comment TEXT NOT NULL,
    PRIMARY KEY (week, inspector)
);
"""),
    Migration(5, "records partitioned: readings by month (dropped after their retention), the rest kept", """
ALTER TABLE records RENAME TO records_before_partitions;
ALTER TABLE records_before_partitions RENAME CONSTRAINT records_pkey TO records_before_partitions_pkey;
ALTER INDEX records_site_ts RENAME TO records_before_partitions_site_ts;
CREATE TABLE records (
    site TEXT NOT NULL REFERENCES sites (site),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    body JSONB NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    received_by TEXT NOT NULL,
    -- A partitioned table's unique key holds its partition keys. ts is part of what every kind's key already
    -- names (a reading's and an alarm change's key carry it; an event's and an audit entry's time is theirs
    -- for ever), so (site, kind, key) is still the identity a re-sent record is recognised by.
    PRIMARY KEY (site, kind, key, ts)
) PARTITION BY LIST (kind);
CREATE TABLE records_readings PARTITION OF records FOR VALUES IN ('reading') PARTITION BY RANGE (ts);
CREATE TABLE records_kept PARTITION OF records DEFAULT;
CREATE INDEX records_site_ts ON records (site, kind, ts);
DO $$
DECLARE month date;
BEGIN
    FOR month IN SELECT DISTINCT date_trunc('month', to_timestamp(ts) AT TIME ZONE 'UTC')::date
                 FROM records_before_partitions WHERE kind = 'reading' LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF records_readings FOR VALUES FROM (%s) TO (%s)',
                       'records_readings_' || to_char(month, 'YYYYMM'),
                       extract(epoch FROM month::timestamp AT TIME ZONE 'UTC'),
                       extract(epoch FROM (month + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
    END LOOP;
END $$;
INSERT INTO records SELECT site, kind, key, ts, body, received_at, received_by FROM records_before_partitions;
DROP TABLE records_before_partitions;
"""),
    Migration(6, "inspectors sign in to the district's pages with a password: its hash, failed tries, sessions", """
ALTER TABLE inspectors ADD COLUMN password_hash TEXT;
ALTER TABLE inspectors ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inspectors ADD COLUMN locked_until TIMESTAMPTZ;
CREATE TABLE district_sessions (
    id_sha256 BYTEA PRIMARY KEY,
    inspector TEXT NOT NULL REFERENCES inspectors (name) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX district_sessions_by_inspector ON district_sessions (inspector, created_at);
"""),
    Migration(7, "district admins make accounts and register schools from a page; accounts can be disabled;"
                 " who did which is logged", """
ALTER TABLE inspectors ADD COLUMN role TEXT NOT NULL DEFAULT 'inspector' CHECK (role IN ('inspector', 'admin'));
ALTER TABLE inspectors ADD COLUMN created_by TEXT;
ALTER TABLE inspectors ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE inspectors ADD COLUMN disabled_by TEXT;
ALTER TABLE inspectors ADD CONSTRAINT admins_see_every_school CHECK (role <> 'admin' OR all_sites);
ALTER TABLE sites ADD COLUMN created_by TEXT;
CREATE TABLE district_account_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail JSONB NOT NULL
);
"""),
)


check_steps(STORE, MIGRATIONS)


def migrate(db: psycopg.Connection[tuple[object, ...]], migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the district database to the newest version; returns it."""
    return migrate_store(db, STORE, migrations)
