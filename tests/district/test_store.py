"""The district's store on a real PostgreSQL: migrations, dedup by identity, the alarm queue, authentication."""

from __future__ import annotations

import threading

import psycopg
import pytest

from hub.district.leader import LOCK_IDLE_S, LeaderElection
from hub.district.schema import MIGRATIONS, migrate
from hub.district.store import DistrictStore
from hub.district.wire import ForwardedRecord, RecordKind
from tests.conftest import wait_for

pytestmark = pytest.mark.postgres


def reading(key: str, value: float = 4.0) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.READING, key=key, ts=1_800_000_000.0, body={"value": value})


def alarm(alert_id: int, state: str, updated_at: float) -> ForwardedRecord:
    return ForwardedRecord(kind=RecordKind.ALARM, key=f"{alert_id}/{state}/{updated_at!r}", ts=updated_at,
                           body={"id": alert_id, "state": state, "updated_at": updated_at})


def test_migrations_run_once_even_when_workers_start_together(district_dsn: str) -> None:
    versions: list[int] = []

    def start() -> None:
        with psycopg.connect(district_dsn, autocommit=True) as db:
            versions.append(migrate(db))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert versions == [MIGRATIONS[-1].version] * 4
    with psycopg.connect(district_dsn) as db:
        assert db.execute("SELECT store, version FROM schema_version").fetchall() == [("district", len(MIGRATIONS))]


def test_a_record_sent_twice_is_stored_once(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1")
    try:
        store.add_site("school-a", "第一中学")
        first = store.store("school-a", (reading("a/t1@1.0"), reading("a/t1@2.0")))
        again = store.store("school-a", (reading("a/t1@2.0"), reading("a/t1@3.0"), reading("a/t1@3.0")))
        assert (first.stored, first.duplicates) == (2, 0)
        assert (again.stored, again.duplicates) == (1, 2)
        assert sorted(store.keys("school-a", RecordKind.READING)) == ["a/t1@1.0", "a/t1@2.0", "a/t1@3.0"]
    finally:
        store.close()


def test_the_same_identity_at_two_schools_is_two_records(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1")
    try:
        store.add_site("school-a", "A")
        store.add_site("school-b", "B")
        store.store("school-a", (reading("fridge/t1@1.0"),))
        store.store("school-b", (reading("fridge/t1@1.0"),))
        assert store.counts("school-a") == store.counts("school-b") == {"reading": 1}
    finally:
        store.close()


def test_only_the_token_of_the_site_authenticates(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1")
    try:
        token_a = store.add_site("school-a", "A")
        token_b = store.add_site("school-b", "B")
        assert store.authenticate("school-a", token_a)
        assert not store.authenticate("school-a", token_b)
        assert not store.authenticate("school-c", token_a)
        with pytest.raises(ValueError, match="site"):
            store.add_site("School A", "bad id")
    finally:
        store.close()


def test_alarm_records_are_applied_once_in_lifecycle_order_whatever_order_they_arrive(district_dsn: str) -> None:
    one, two = DistrictStore(district_dsn, "w1"), DistrictStore(district_dsn, "w2")
    try:
        one.add_site("school-a", "A")
        # The acknowledgement arrives before the firing (an outage reordered them), and twice.
        one.store("school-a", (alarm(7, "acknowledged", 200.0), alarm(8, "firing", 150.0)))
        two.store("school-a", (alarm(7, "firing", 100.0), alarm(7, "acknowledged", 200.0)))
        applied: list[int] = []
        threads = [threading.Thread(target=lambda s=s: applied.append(s.apply_alarm_jobs(limit=1)))
                   for s in (one, two, one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        while one.apply_alarm_jobs():
            pass
        assert one.alarm_states("school-a") == {7: "acknowledged", 8: "firing"}
        with psycopg.connect(district_dsn) as db:
            assert db.execute("SELECT count(*) FROM alarm_jobs").fetchone() == (0,)
    finally:
        one.close()
        two.close()


def test_a_claimed_job_is_skipped_by_others_and_returns_when_its_claimer_dies(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1")
    try:
        store.add_site("school-a", "A")
        store.store("school-a", (alarm(1, "firing", 10.0),))
        with psycopg.connect(district_dsn) as holder:
            holder.execute("SELECT id FROM alarm_jobs FOR UPDATE")  # a worker mid-job
            assert store.apply_alarm_jobs() == 0
            holder.close()  # the worker dies before committing
        # The server ends the dead session (and frees its row lock) a moment after the socket closes.
        applied: list[int] = []

        def applied_once() -> bool:
            applied.append(store.apply_alarm_jobs())
            return sum(applied) >= 1

        wait_for(applied_once)
        assert sum(applied) == 1
        assert store.alarm_states("school-a") == {1: "firing"}
    finally:
        store.close()


def test_an_alarm_job_that_fails_to_apply_is_set_aside_and_the_next_ones_are_applied(district_dsn: str) -> None:
    """Found as a failed cast rolling back the whole claim: the same jobs claimed and failing for ever."""
    store = DistrictStore(district_dsn, "w1")
    try:
        store.add_site("school-a", "A")
        store.add_site("school-b", "B")
        with psycopg.connect(district_dsn, autocommit=True) as db:  # past the wire's check, as an older worker let in
            for key, body in (("bad/id", '{"id": "seven", "state": "firing", "updated_at": 1.0}'),
                              ("bad/state", '{"id": 9, "updated_at": 1.0}')):
                db.execute("INSERT INTO records (site, kind, key, ts, body, received_by)"
                           " VALUES ('school-a', 'alarm', %s, 1.0, %s::jsonb, 'old')", (key, body))
                db.execute("INSERT INTO alarm_jobs (site, key) VALUES ('school-a', %s)", (key,))
        store.store("school-a", (alarm(1, "firing", 10.0),))
        store.store("school-b", (alarm(2, "firing", 20.0),))
        assert store.apply_alarm_jobs() == 4
        assert store.alarm_states("school-a") == {1: "firing"}
        assert store.alarm_states("school-b") == {2: "firing"}
        dead = store.dead_alarm_jobs()
        assert [(site, key) for site, key, _ in dead] == [("school-a", "bad/id"), ("school-a", "bad/state")]
        assert "bigint" in dead[0][2] and "null" in dead[1][2]
        assert store.apply_alarm_jobs() == 0
    finally:
        store.close()


def test_a_leader_polling_slower_than_the_least_idle_bound_keeps_its_lock_session(district_dsn: str) -> None:
    """Found as the server ending the lock session between two touches (idle 5 s, poll up to 60 s): every round."""
    poll_s = LOCK_IDLE_S + 1
    sessions: list[int] = []
    election = LeaderElection(district_dsn, "w1", lambda: sessions.append(election_pid()), poll_s=poll_s)

    def election_pid() -> int:
        assert election._db is not None
        return int(election._db.info.backend_pid)

    election.start()
    try:
        wait_for(lambda: len(sessions) >= 3, timeout=4 * poll_s + 30)
        assert len(set(sessions)) == 1, "the lock session was ended and opened again between rounds"
        assert election.leading.is_set()
    finally:
        election.stop()


def test_a_school_not_heard_from_is_marked_silent_once_and_back_at_its_next_batch(district_dsn: str) -> None:
    store = DistrictStore(district_dsn, "w1")
    try:
        for site in ("heard", "never", "fresh"):
            store.add_site(site, site)
        store.store("heard", (reading("heard/1"),))
        store.store("fresh", (reading("fresh/1"),))
        with store.pool.connection() as db:
            db.execute("UPDATE sites SET last_contact = now() - interval '1 hour' WHERE site = 'heard'")
            # Registered an hour ago and never sent a thing: a hub not set up, or cut off since it was.
            db.execute("UPDATE sites SET created_at = now() - interval '1 hour' WHERE site = 'never'")
        assert store.mark_silent(900) == 2
        assert store.mark_silent(900) == 0  # once
        with store.pool.connection() as db:
            silent = {str(r[0]) for r in db.execute("SELECT site FROM sites WHERE silent_since IS NOT NULL")}
        assert silent == {"heard", "never"}
        store.store("never", (reading("never/1"),))
        with store.pool.connection() as db:
            row = db.execute("SELECT silent_since FROM sites WHERE site = 'never'").fetchone()
        assert row == (None,)
    finally:
        store.close()
