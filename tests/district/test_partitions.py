"""Readings at the district by month on a real PostgreSQL: partitions made as months arrive, dropped past their
retention, a database of schema 4 moved over, everything that is not a reading kept."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from hub.district.schema import MIGRATIONS, migrate
from hub.district.store import DistrictStore, partition_name
from hub.district.wire import ForwardedRecord, RecordKind

pytestmark = pytest.mark.postgres

#: 2026-12-03 12:00 UTC: "now" for these tests.
NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC).timestamp()
DAY = 86_400.0


def reading(sensor: str, ts: float, value: float = 4.0) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.READING, key=f"kitchen/{sensor}@{round(ts * 1000)}", ts=ts,
                           body={"sensor": f"kitchen/{sensor}", "value": value, "fault": None, "clock_synced": True})


def event(seq: int, ts: float) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.EVENT, key=f"kitchen/b/{seq}", ts=ts, body={"kind": "door"})


def where(dsn: str, kind: RecordKind) -> dict[str, int]:
    """The table each of a kind's rows is in, counted."""
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT tableoid::regclass::text, count(*) FROM records WHERE kind = %s GROUP BY 1",
                          (kind.value,)).fetchall()
    return {str(table): int(n) for table, n in rows}


def test_readings_go_to_their_month_and_a_re_send_is_still_stored_once(district_dsn: str) -> None:
    one, two = DistrictStore(district_dsn, "w1"), DistrictStore(district_dsn, "w2")
    try:
        one.add_site("school-a", "第一小学")
        november, december = NOW - 10 * DAY, NOW
        batch = (reading("t0", november), reading("t0", december), event(1, november))
        assert one.store("school-a", batch, now=NOW).stored == 3
        # The other worker, which has not made these months itself, gets the same batch again.
        again = two.store("school-a", batch, now=NOW)
        assert (again.stored, again.duplicates) == (0, 3)
        assert where(district_dsn, RecordKind.READING) == {"records_readings_202611": 1, "records_readings_202612": 1}
        assert where(district_dsn, RecordKind.EVENT) == {"records_kept": 1}
    finally:
        one.close()
        two.close()


def test_months_past_the_retention_are_dropped_whole_and_late_readings_of_them_confirmed_not_kept(
        district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1", readings_retention_days=60)
    try:
        store.add_site("school-a", "第一小学")
        old = dt.datetime(2026, 8, 15, tzinfo=dt.UTC).timestamp()
        store.store("school-a", (reading("t0", old), reading("t0", NOW - 40 * DAY), reading("t0", NOW),
                                 event(1, old)), now=old + DAY)
        months = {partition_name(dt.date(2026, m, 1)) for m in (8, 10, 12)}
        assert set(where(district_dsn, RecordKind.READING)) == months

        # Now is 2026-12-03: 60 days back is in October, so August (and anything before October) goes.
        assert store.drop_expired_readings(NOW) == ["records_readings_202608"]
        assert store.drop_expired_readings(NOW) == []
        assert set(where(district_dsn, RecordKind.READING)) == {"records_readings_202610", "records_readings_202612"}
        assert where(district_dsn, RecordKind.EVENT) == {"records_kept": 1}  # only readings expire

        # A school back after a long outage sends an August reading: confirmed (so its outbox moves on), not kept.
        late = store.store("school-a", (reading("t1", old + 60), reading("t1", NOW)), now=NOW)
        assert (late.stored, late.duplicates) == (1, 1)
        assert "records_readings_202608" not in where(district_dsn, RecordKind.READING)
    finally:
        store.close()


def test_a_worker_that_still_counts_on_a_dropped_month_makes_it_again(district_dsn: str) -> None:
    """The leader (a short retention here) drops October while another worker (a long one) still holds it as made."""
    keeper, leader = DistrictStore(district_dsn, "w1"), DistrictStore(district_dsn, "w2", readings_retention_days=31)
    try:
        keeper.add_site("school-a", "第一小学")
        october = dt.datetime(2026, 10, 20, tzinfo=dt.UTC).timestamp()
        keeper.store("school-a", (reading("t0", october),), now=NOW)
        assert leader.drop_expired_readings(NOW) == ["records_readings_202610"]
        assert keeper.store("school-a", (reading("t0", october + 60),), now=NOW).stored == 1
        assert where(district_dsn, RecordKind.READING) == {"records_readings_202610": 1}
    finally:
        keeper.close()
        leader.close()


def test_a_database_of_schema_4_moves_its_records_into_the_partitions(district_dsn: str) -> None:
    with psycopg.connect(district_dsn, autocommit=True) as db:
        assert migrate(db, MIGRATIONS[:4]) == 4
        db.execute("INSERT INTO sites (site, name, token_sha256) VALUES ('school-a', '第一小学', '\\x00')")
        for record in (reading("t0", NOW - 40 * DAY), reading("t0", NOW), event(1, NOW)):
            db.execute("INSERT INTO records (site, kind, key, ts, body, received_by) VALUES (%s, %s, %s, %s, %s, 'w0')",
                       ("school-a", record.kind.value, record.key, record.ts, json.dumps(record.body)))
    store = DistrictStore(district_dsn, "w1")
    try:
        assert store.schema_version == MIGRATIONS[-1].version
        assert where(district_dsn, RecordKind.READING) == {"records_readings_202610": 1, "records_readings_202612": 1}
        assert store.counts("school-a") == {"reading": 2, "event": 1}
        assert store.store("school-a", (reading("t0", NOW), event(1, NOW)), now=NOW).duplicates == 2
    finally:
        store.close()
