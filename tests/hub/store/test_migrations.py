"""Schema versions: the databases of release 0.1.0 open under this code with every row intact and every
feature working; a newer database is refused with a clear message; a fresh one gets every step; the
pending steps of an upgrade are applied together or not at all.

The 0.1.0 databases are the SQL dumps in ``release_0_1_0/`` (written by that release's own code,
see its ``generate.py``), loaded into fresh files for each test.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from edge import wire
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.audit import verify_chain
from hub.cli import main
from hub.gate.store import GateStore
from hub.ingest import Inbound
from hub.notify.deliverylog import DeliveryLog
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.sqlite import Migration, SchemaTooNew, SqliteStore, known_versions, statements
from hub.store.state import Alert, AlertAction, DeadLetter, SensorUpdate, StateStore
from tests.hub.store.release_0_1_0.generate import FILES, PASSWORDS

RELEASE = Path(__file__).parent / "release_0_1_0"
#: The stores recorded in each file once this release has opened it.
STORES = {"hub.sqlite3": {"state", "accounts"}, "readings.sqlite3": {"series"}, "gate.sqlite3": {"gate"},
          "samples.sqlite3": {"samples"}, "reports.sqlite3": {"reports"}, "notify.sqlite3": {"notify"}}


#: Tables of 0.1.0 a later step drops, per file: the retired same-machine scale-out's (state schema 8).
DROPPED = {"hub.sqlite3": {"rule_feed", "ingest_workers"}}


#: A hub opened on 0.1.0's databases, and every row each file held before it opened them.
Release = tuple[Hub, dict[str, dict[str, list[tuple[object, ...]]]]]


def load_release(home: Path) -> Path:
    """A 0.1.0 hub's state directory under ``home``, from the checked-in dumps; returns its db dir."""
    db_dir = home / "hub"
    db_dir.mkdir(parents=True)
    for name in FILES:
        with closing(sqlite3.connect(db_dir / name)) as db:
            db.executescript((RELEASE / f"{Path(name).stem}.sql").read_text(encoding="utf-8"))
    return db_dir


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a file (the version table aside), in a stable order."""
    with closing(sqlite3.connect(path)) as db:
        tables = [name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'schema_version' ORDER BY name")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)  # noqa: S608 - names from sqlite_master
                for table in tables}


def versions(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT store, version FROM schema_version").fetchall())


def schema(path: Path) -> set[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return set(db.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                              " AND name != 'schema_version'").fetchall())


@pytest.fixture
def release_hub(tmp_path: Path) -> Iterator[Release]:
    db_dir = load_release(tmp_path)
    before = {name: snapshot(db_dir / name) for name in FILES}
    hub = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    yield hub, before
    hub.stop()


# -- the upgrade from 0.1.0 ----------------------------------------------------------------------


def test_every_row_of_the_release_is_still_there(release_hub: Release) -> None:
    hub, before = release_hub
    DeliveryLog(hub.settings.db_dir / "notify.sqlite3").close()  # built by the hub only with notifications set up
    counts = {name: {table: len(rows) for table, rows in tables.items()} for name, tables in before.items()}
    # The dumps are not empty: every table that holds a record has rows (the scale-out feed was drained by design).
    assert all(n > 0 for name, tables in counts.items() for table, n in tables.items() if table != "rule_feed"), counts
    known = known_versions()
    for name in FILES:
        after = snapshot(hub.settings.db_dir / name)
        dropped = DROPPED.get(name, set())
        assert not dropped & set(after), f"{name}: the retired tables are still there"
        for table, rows in before[name].items():
            if table in dropped:
                continue
            # Later steps add columns at the end of a table (ALTER TABLE … ADD COLUMN): the old ones are as they were.
            width = len(rows[0]) if rows else 0
            assert sorted((row[:width] for row in after[table]), key=repr) == rows, f"{name}: {table} changed"
        # Tables later steps added start empty.
        assert all(rows == [] for t, rows in after.items() if t not in before[name]), f"{name}: new tables not empty"
        assert versions(hub.settings.db_dir / name) == {store: known[store] for store in STORES[name]}


def test_the_stores_read_the_release_record(release_hub: Release) -> None:
    hub, _ = release_hub
    assert [d["device"] for d in hub.state.devices()] == ["dev-a", "dev-b"]
    assert {s["key"] for s in hub.state.sensors()} >= {"dev-a/fridge-1", "dev-a/fridge-2", "dev-b/fridge-3"}
    assert {a.subject: a.state for a in hub.state.alerts()} == {
        "dev-a/fridge-1": "firing", "dev-a/fridge-2": "resolved", "dev-b/fridge-3": "verified",
        "dev-a/door-1": "pending"}
    acked = next(a for a in hub.state.alerts() if a.subject == "dev-a/fridge-2")
    assert (acked.acked_by, acked.ack_note) == ("wang", "door left open")
    assert [s.reason for s in hub.state.silences(now=0.0)] == ["defrost"]  # the removed one stays removed
    assert hub.state.limit_edits() == {"dev-a/fridge-2": {"low": 0.0, "high": 6.0}}
    assert hub.state.dead_letter_count() == 1
    assert [u.user.username for u in hub.accounts.users()] == ["admin", "wang", "gate"]
    assert [t.name for t in hub.accounts.tokens()] == ["dashboard"]
    sweeps = hub.gate.store.sweeps()
    assert [(s.group, s.not_closed) for s in sweeps] == [("main", 1)]
    assert sweeps[0].states["dev-c/door-1"]["name"] == "北门"
    assert len(hub.gate.store.visits(0, 2e9)) == 2
    assert [o.spec.reason for o in hub.gate.overrides()] == ["运动会"]
    assert hub.reports.store.meta("last_weekly") == "2026-W46"
    assert {r.label for r in hub.reports.store.runs()} == {"2026-W46", "2026-11-16"}
    assert [s.signer_name for s in hub.reports.store.signoffs("weekly", "2026-W46")] == ["管理员"]
    log = DeliveryLog(hub.settings.db_dir / "notify.sqlite3")
    try:
        assert [a.outcome for a in log.attempts()] == ["failed", "sent"]
        assert [a.channel for a in log.attempts(alert_id=2)] == ["sms"]
    finally:
        log.close()


def test_the_audit_chain_of_the_release_still_verifies_and_grows(release_hub: Release) -> None:
    hub, _ = release_hub
    entries = hub.state.audit_entries()
    assert len(entries) == 20 and verify_chain(entries) == []
    firing = next(a for a in hub.state.alerts() if a.state == "firing")
    assert firing.id is not None
    acked = hub.engine.act(firing.id, "acknowledge", "wang", "on my way")  # an old alert, acknowledged now
    assert acked.state == "acknowledged"
    assert hub.state.alert(firing.id) == acked
    after = hub.state.audit_entries()
    assert len(after) == 21 and after[-1].action == "acknowledge" and verify_chain(after) == []


def test_old_passwords_still_sign_in(release_hub: Release) -> None:
    hub, _ = release_hub
    user = hub.accounts.authenticate("admin", PASSWORDS["admin"])
    assert user is not None and user.username == "admin"
    assert hub.accounts.authenticate("wang", "not the password") is None
    session = hub.accounts.start_session(user.id)
    assert hub.accounts.session_user(session, idle_s=3600, max_s=86_400) == user


def test_old_samples_are_listed_and_take_new_dishes(release_hub: Release) -> None:
    hub, _ = release_hub
    store = hub.samples.store
    (lunch,) = store.on_day("2026-11-16")
    assert [d.name for d in lunch.dishes] == ["红烧肉", "米饭"] and lunch.compromised
    assert [r.meal for r in store.not_discarded()] == ["lunch"]
    assert store.dish_by_code("lunch-20261116-09") is not None
    dish = store.add_dish(lunch.id, "青菜", 100.0, None, lunch.placed_at + 120, "api", 48 * 3600)
    assert dish.code == "lunch-20261116-03"
    assert [d.name for d in store.on_day("2026-11-16")[0].dishes] == ["红烧肉", "米饭", "青菜"]


def test_a_new_reading_is_stored_beside_the_old_ones(release_hub: Release) -> None:
    hub, _ = release_hub
    old = hub.series.readings("dev-a/fridge-2", 0, 2e9)
    ts = old[-1].ts + 60
    telemetry = {"device": "dev-a", "boot_id": "b2", "seq": 1, "readings": [
        {"sensor": "fridge-2", "kind": "temperature", "value": 4.2, "unit": "°C", "ts": ts}]}
    hub.pipeline.process([Inbound(wire.topic("s1", "dev-a", wire.Channel.TELEMETRY), json.dumps(telemetry).encode(),
                                  1, 1, 0.0)])
    assert hub.series.readings("dev-a/fridge-2", 0, 2e9) == [*old, *hub.series.readings("dev-a/fridge-2", ts, ts + 1)]
    assert [r.value for r in hub.series.readings("dev-a/fridge-2", ts, ts + 1)] == [4.2]
    assert next(s for s in hub.state.sensors() if s["key"] == "dev-a/fridge-2")["last_value"] == 4.2
    # The hourly aggregates 0.1.0's maintenance kept for readings past retention are still answered.
    assert sum(h.count for h in hub.series.hourly("dev-a/fridge-1", 0, old[0].ts - 86_400)) == 90


def test_version_one_is_the_release_schema(tmp_path: Path) -> None:
    """Version 1 makes exactly the tables, indexes and triggers 0.1.0 made; a fresh hub and an upgraded
    0.1.0 hub end with the same schema after the later steps."""
    release = load_release(tmp_path / "old")
    first_steps = {cls.STORE: cls.MIGRATIONS[0] for cls in _all_stores() if not cls.__module__.startswith("tests.")}
    for name in FILES:
        only_v1 = tmp_path / "v1" / name
        only_v1.parent.mkdir(exist_ok=True)
        with closing(sqlite3.connect(only_v1, isolation_level=None)) as db:
            for store in STORES[name]:
                first_steps[store].run(db)
        assert schema(only_v1) == schema(release / name), name
    upgraded = Hub(HubSettings(home=tmp_path / "old"), connect_mqtt=False)
    DeliveryLog(upgraded.settings.db_dir / "notify.sqlite3").close()
    upgraded.stop()
    hub = Hub(HubSettings(home=tmp_path / "new"), connect_mqtt=False)
    DeliveryLog(hub.settings.db_dir / "notify.sqlite3").close()
    hub.stop()
    for name in FILES:
        added, dropped = later_steps(STORES[name])
        expected = (schema(release / name) - dropped) | added
        assert schema(upgraded.settings.db_dir / name) == expected, name
        assert schema(hub.settings.db_dir / name) == expected, name
        assert versions(hub.settings.db_dir / name) == {s: known_versions()[s] for s in STORES[name]}


def later_steps(stores: set[str]) -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    """What the steps after version 1 of these stores create, and what of version 1 they drop."""
    added: set[tuple[str, str, str]] = set()
    dropped: set[tuple[str, str, str]] = set()
    for cls in _all_stores():
        if cls.STORE not in stores or cls.__module__.startswith("tests."):
            continue
        with closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
            cls.MIGRATIONS[0].run(db)
            query = "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
            first = set(db.execute(query).fetchall())
            for step in cls.MIGRATIONS[1:]:
                step.run(db)
            last = set(db.execute(query).fetchall())
            added |= last - first
            dropped |= first - last
    return added, dropped


def test_a_release_database_is_adopted_as_version_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db_dir = load_release(tmp_path)
    with caplog.at_level(logging.INFO, logger="hub.store.sqlite"):
        StateStore(db_dir / "hub.sqlite3").close()
    assert "state tables from before schema versions, recorded as version 1" in caplog.text
    # Then the later steps run; the accounts get their row when they open.
    assert versions(db_dir / "hub.sqlite3") == {"state": known_versions()["state"]}


def test_every_store_s_first_step_only_creates_what_is_missing() -> None:
    """Version 1 runs over 0.1.0's tables when it adopts them: it must be a no-op there."""
    stores = [cls for cls in _all_stores() if not cls.__module__.startswith("tests.")]
    assert {cls.STORE for cls in stores} >= {"state", "accounts", "series", "gate", "samples", "reports", "notify"}
    for cls in stores:
        with closing(sqlite3.connect(":memory:", isolation_level=None)) as db:
            cls.MIGRATIONS[0].run(db)
            cls.MIGRATIONS[0].run(db)  # raises "already exists" unless every CREATE says IF NOT EXISTS


def _all_stores() -> list[type[SqliteStore]]:
    found: list[type[SqliteStore]] = []
    pending = list(SqliteStore.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


# -- state schema 8: the retired same-machine scale-out -------------------------------------------


class _StateV7(StateStore):
    """The state store as releases with schema 7 open it: version 8 not yet known."""

    MIGRATIONS = StateStore.MIGRATIONS[:7]  # type: ignore[assignment]  # fewer steps than this release: the point


def test_schema_8_drops_the_scale_out_tables_of_a_version_7_database_and_keeps_the_rest(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A version-7 database of a hub that ran scale-out workers, with a feed entry left behind (a killed
    rules worker) and two workers' progress: version 8 drops both tables; every other row stays as it was."""
    path = tmp_path / "hub.sqlite3"
    old = _StateV7(path)
    assert old.schema_version == 7
    old.record_status("s1", "dev-a", "online", "b1", "1.0", 100.0, 100.0,
                      [wire.SensorInfo(sensor="t0", kind="temperature", unit="°C", profile="fridge")])
    old.commit_ingest([wire.MessageId("dev-a", "b1", 1)], 101.0,
                      [SensorUpdate("dev-a/t0", "dev-a", "t0", "temperature", "°C", 9.5, 100.5)],
                      [DeadLetter("xiaoan/v1/s1/dev-a/telemetry", "malformed JSON", b"{", 101.0, "dev-a")])
    alert = old.save_alert(Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject="dev-a/t0", kind=AlertKind.TEMPERATURE,
                                 severity=Severity.CRITICAL, state=AlertState.FIRING, message="9.5 °C",
                                 started_at=100.5, updated_at=101.0, value=9.5), action="fire")
    assert alert.id is not None
    old.add_alert_action(AlertAction(alert.id, 102.0, "wang", "moved the food"))
    old.add_note("alert/1", "checked the door seal", "wang", 103.0)
    old.save_limit_edit("dev-a/t0", {"low": 0.0, "high": 6.0}, "admin", 104.0)
    with old.transaction() as db:
        db.executemany("INSERT INTO ingest_workers (worker, done_before, beat) VALUES (?, ?, ?)",
                       [("xiaoan-hub-1", 101.0, 101.0), ("xiaoan-hub-2", 100.9, 101.0)])
        db.execute("INSERT INTO rule_feed (received, body) VALUES (?, ?)",
                   (101.0, '{"r":[["dev-a/t0",100.5,9.5,null,true]],"e":[],"h":[],"s":false}'))
    old.close()
    before = snapshot(path)
    assert before["rule_feed"] and before["ingest_workers"]
    assert ("rule_feed", 1) in before["sqlite_sequence"]

    with caplog.at_level(logging.INFO, logger="hub.store.sqlite"):
        store = StateStore(path)
    try:
        assert store.schema_version == 8 and versions(path) == {"state": 8}
        assert "state schema version 8: the retired same-machine scale-out's rule feed" in caplog.text
        assert [d["device"] for d in store.devices()] == ["dev-a"] and store.dead_letter_count("dev-a") == 1
        assert [a.subject for a in store.alerts()] == ["dev-a/t0"] and len(store.alert_changes()) == 1
        assert store.limit_edits() == {"dev-a/t0": {"low": 0.0, "high": 6.0}}
        assert verify_chain(store.audit_entries()) == []
    finally:
        store.close()
    after = snapshot(path)
    assert not {"rule_feed", "ingest_workers"} & set(after)
    assert after["sqlite_sequence"] == [row for row in before["sqlite_sequence"] if row[0] != "rule_feed"]
    kept = {table: rows for table, rows in before.items()
            if table not in {"rule_feed", "ingest_workers", "sqlite_sequence"}}
    assert {table: rows for table, rows in after.items() if table != "sqlite_sequence"} == kept
    fresh = tmp_path / "fresh.sqlite3"
    StateStore(fresh).close()
    assert schema(path) == schema(fresh)  # the upgraded file is what a new hub starts with


# -- a database from a newer release ---------------------------------------------------------------


def _from_the_future(path: Path, store: str, version: int) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE schema_version SET version = ? WHERE store = ?", (version, store))
        db.commit()


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "hub" / "hub.sqlite3"
    StateStore(path).close()
    known = known_versions()["state"]
    future = known + 1
    _from_the_future(path, "state", future)
    with pytest.raises(SchemaTooNew) as refused:
        StateStore(path)
    message = str(refused.value)
    assert str(path) in message and "state" in message and f"version {future}" in message
    assert f"up to {known}" in message and "newer release" in message and "restore a backup" in message
    assert (refused.value.store, refused.value.found, refused.value.known) == ("state", future, known)
    assert versions(path)["state"] == future  # left as it was
    with pytest.raises(SchemaTooNew):
        Hub(HubSettings(home=tmp_path), connect_mqtt=False)


def test_xiaoan_hub_refuses_a_newer_database_before_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "hub" / "gate.sqlite3"
    GateStore(path).close()
    _from_the_future(path, "gate", 3)
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    assert main(["hub"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xiaoan: ") and str(path) in err and "gate tables are at schema version 3" in err
    assert "Traceback" not in err
    assert not (tmp_path / "hub" / "hub.sqlite3").exists()  # refused before any store opened


# -- the mechanism, on a store of its own ----------------------------------------------------------


def _backfill(db: sqlite3.Connection) -> None:
    db.execute("UPDATE things SET size = length(name)")


class _Things(SqliteStore):
    STORE = "things"
    MIGRATIONS = (Migration(1, "things", "CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY);"),)


class _ThingsV3(SqliteStore):
    STORE = "things"
    MIGRATIONS = (*_Things.MIGRATIONS,
                  Migration(2, "a size per thing", "ALTER TABLE things ADD COLUMN size INTEGER;"
                                                   " CREATE INDEX things_by_size ON things (size);"),
                  Migration(3, "sizes of the things already kept", _backfill))


def _broken_step(db: sqlite3.Connection) -> None:
    raise RuntimeError("step 3 failed")


class _ThingsBroken(SqliteStore):
    STORE = "things"
    MIGRATIONS = (*_ThingsV3.MIGRATIONS[:2], Migration(3, "fails", _broken_step))


def _names(path: Path) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT * FROM things ORDER BY name").fetchall()


def test_later_steps_apply_to_an_older_database_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "things.sqlite3"
    old = _Things(path)
    with old.transaction() as db:
        db.executemany("INSERT INTO things (name) VALUES (?)", [("cup",), ("kettle",)])
    old.close()
    new = _ThingsV3(path)
    new.close()
    assert new.schema_version == 3 and versions(path) == {"things": 3}
    assert _names(path) == [("cup", 3), ("kettle", 6)]
    reopened = _ThingsV3(path)  # nothing pending: opens without running a step again
    reopened.close()
    assert _names(path) == [("cup", 3), ("kettle", 6)]


def test_the_pending_steps_apply_together_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "things.sqlite3"
    _Things(path).close()
    with pytest.raises(RuntimeError, match="step 3 failed"):
        _ThingsBroken(path)
    assert versions(path) == {"things": 1}
    assert _names(path) == []
    with closing(sqlite3.connect(path)) as db:
        assert [c[1] for c in db.execute("PRAGMA table_info(things)")] == ["name"]  # step 2 rolled back too
    _ThingsV3(path).close()
    assert versions(path) == {"things": 3}


def test_steps_must_be_numbered_in_order() -> None:
    with pytest.raises(ValueError, match="1, 2, 3"):
        type("Gap", (SqliteStore,), {"STORE": "gap", "MIGRATIONS": (Migration(1, "a", ""), Migration(3, "c", ""))})


def test_a_script_is_split_into_whole_statements() -> None:
    script = ("CREATE TABLE a (x TEXT DEFAULT ';'); CREATE TRIGGER t BEFORE DELETE ON a\n"
              "BEGIN SELECT RAISE(ABORT, 'no; never'); END;\n-- done\n")
    assert list(statements(script)) == [
        "CREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE TRIGGER t BEFORE DELETE ON a\nBEGIN SELECT RAISE(ABORT, 'no; never'); END;"]
