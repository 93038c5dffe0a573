"""Retention and downsampling inside InfluxDB 1.x: two retention policies and one continuous query.

Raw readings and events go to the raw policy (the database's default, so Grafana
queries need no policy prefix); the continuous query folds raw readings into
``reading_hourly`` (min/max/mean/count per sensor and hour) in the long policy.
It re-runs over the last day every hour (``RESAMPLE ... FOR 1d``) so readings an
edge replays after a short outage still reach their hour; ``backfill`` runs the
same SELECT over any range, for history copied in and for longer outages.

InfluxDB 2.x and 3.x have no retention policies or continuous queries: buckets
and tasks (2.x) or the server's own retention (3.x) do this instead — see
docs/influxdb.md; there ``setup`` is switched off (``XIAOAN_INFLUX_SETUP=false``).
"""

from __future__ import annotations

import logging

from hub.store.influx_http import InfluxError, InfluxHttp, quote_ident

_LOGGER = logging.getLogger(__name__)

READING = "reading"
EVENT = "event"
READING_HOURLY = "reading_hourly"
#: Hours that received readings after the continuous query's last run over them (rollup pending).
LATE_HOUR = "late_hour"
CQ_NAME = "xiaoan_reading_hourly"
#: How far back each hourly run of the continuous query recomputes (and the same in seconds).
RESAMPLE_FOR = "1d"
RESAMPLE_FOR_S = 86_400


def _duration(seconds: float | None) -> str:
    """An InfluxQL retention duration: whole hours (the minimum InfluxDB accepts is 1h), or forever."""
    if seconds is None:
        return "INF"
    return f"{max(1, round(seconds / 3600))}h"


def rollup_select(database: str, raw_rp: str, hourly_rp: str, where: str = "") -> str:
    """The SELECT … INTO shared by the continuous query and ``backfill``; ``GROUP BY *`` keeps the tags."""
    source = f"{quote_ident(database)}.{quote_ident(raw_rp)}.{quote_ident(READING)}"
    target = f"{quote_ident(database)}.{quote_ident(hourly_rp)}.{quote_ident(READING_HOURLY)}"
    return (f'SELECT min("value") AS "min_value", max("value") AS "max_value", mean("value") AS "mean_value",'
            f' count("value") AS "count_value" INTO {target} FROM {source}'
            f"{' WHERE ' + where if where else ''} GROUP BY time(1h), *")


def setup(http: InfluxHttp, raw_rp: str, hourly_rp: str | None, raw_retention_s: float | None,
          hourly_retention_s: float | None) -> None:
    """Create (or bring up to date) the database, both policies and the continuous query. Idempotent."""
    db = http.database
    http.query(f"CREATE DATABASE {quote_ident(db)}", write=True)
    existing = {row["name"]: row for row in http.rows(f"SHOW RETENTION POLICIES ON {quote_ident(db)}")}
    wanted = [(raw_rp, raw_retention_s, True)]
    if hourly_rp:
        wanted.append((hourly_rp, hourly_retention_s, False))
    for name, seconds, default in wanted:
        verb = "ALTER" if name in existing else "CREATE"
        replication = "" if verb == "ALTER" else " REPLICATION 1"
        http.query(f"{verb} RETENTION POLICY {quote_ident(name)} ON {quote_ident(db)}"
                   f" DURATION {_duration(seconds)}{replication}{' DEFAULT' if default else ''}", write=True)
    if hourly_rp:
        cq = (f"CREATE CONTINUOUS QUERY {quote_ident(CQ_NAME)} ON {quote_ident(db)}"
              f" RESAMPLE EVERY 1h FOR {RESAMPLE_FOR} BEGIN {rollup_select(db, raw_rp, hourly_rp)} END")
        try:
            http.query(cq, write=True)
        except InfluxError as error:
            if "already exists" not in str(error):
                raise
            # A definition from an older version (other policy names): replace it.
            http.query(f"DROP CONTINUOUS QUERY {quote_ident(CQ_NAME)} ON {quote_ident(db)}", write=True)
            http.query(cq, write=True)
    _LOGGER.info("InfluxDB %s: database %s, policies %s ready", http.url, db, [w[0] for w in wanted])


def backfill(http: InfluxHttp, raw_rp: str, hourly_rp: str, since_ns: int, until_ns: int) -> None:
    """Recompute the hourly aggregates of [since, until) from raw readings (what the CQ does per hour)."""
    http.query(rollup_select(http.database, raw_rp, hourly_rp, f"time >= {since_ns} AND time < {until_ns}"),
               write=True)
