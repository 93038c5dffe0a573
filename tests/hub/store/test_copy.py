"""`xiaoan store copy`: SQLite history into InfluxDB, interrupted and resumed, nothing doubled."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub.store.base import HOUR_S, StoredEvent, StoredReading
from hub.store.copy import copy_history
from hub.store.influx_series import InfluxSeriesStore
from hub.store.sqlite_series import SqliteSeriesStore
from tests.hub.store.influx_fixtures import ADMIN


class Interrupted(Exception):
    pass


def test_copy_resumes_and_reads_back_the_same(tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    t0 = (int(time.time()) // HOUR_S - 24 * 10) * HOUR_S
    sqlite = SqliteSeriesStore(tmp_path / "readings.sqlite3", raw_retention_s=9 * 86_400.0)
    sensors = ["dev-a/fridge-1", "dev-a/fridge-2", "dev-b/freezer-1"]
    sqlite.write([StoredReading(s, t0 + i * 300, -18.0 + (i % 13) * 0.5 + n)
                  for n, s in enumerate(sensors) for i in range(24 * 12 * 10)],
                 [StoredEvent("dev-c", "b1", seq, t0 + 2 * 86_400 + seq * 600, "dev-c/gate", "door", "open")
                  for seq in range(50)])
    sqlite.downsample_and_prune(t0 + 10 * 86_400)  # the first day is aggregates only now
    checkpoint = tmp_path / "progress.json"
    calls = 0

    def interrupt_once(_line: str) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        copy_history(sqlite, influx_store, checkpoint, batch=1000, report=interrupt_once)
    progress = copy_history(sqlite, influx_store, checkpoint, batch=1000, report=lambda _line: None)
    assert (progress.readings, progress.events, progress.hourly) == (3 * 24 * 12 * 9, 50, 3 * 24)
    again = copy_history(sqlite, influx_store, checkpoint, batch=1000, report=lambda _line: None)
    assert again.copied == {"readings": 0, "events": 0, "readings_hourly": 0}  # nothing changed: nothing to do

    until = t0 + 10 * 86_400
    for sensor in sensors:
        assert influx_store.readings(sensor, t0, until, limit=100_000) == sqlite.readings(sensor, t0, until, 100_000)
        want, got = sqlite.hourly(sensor, t0, until), influx_store.hourly(sensor, t0, until)
        assert len(want) == 240
        assert [(a.hour, a.min, a.max, a.count) for a in got] == [(a.hour, a.min, a.max, a.count) for a in want]
    assert influx_store.events(t0, until) == sqlite.events(t0, until)
    sqlite.close()


def test_cli_store_copy(tmp_path: Path, influx_store: InfluxSeriesStore, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main  # noqa: PLC0415

    home = tmp_path / "home"
    sqlite = SqliteSeriesStore(home / "hub" / "readings.sqlite3")
    now = time.time()
    sqlite.write([StoredReading("dev-a/fridge-1", now - i * 60, 4.0) for i in range(100)], [])
    sqlite.close()
    for key, value in {"XIAOAN_HOME": str(home), "XIAOAN_INFLUX_URL": influx_store.http.url,
                       "XIAOAN_INFLUX_DATABASE": influx_store.http.database, "XIAOAN_INFLUX_USERNAME": ADMIN[0],
                       "XIAOAN_INFLUX_PASSWORD": ADMIN[1]}.items():
        monkeypatch.setenv(key, value)
    assert main(["store", "copy"]) == 0
    assert "copied 100 readings" in capsys.readouterr().out
    assert len(influx_store.readings("dev-a/fridge-1", now - 7200, now + 1)) == 100


def test_hourly_aggregates_are_recomputed_over_every_copied_day(tmp_path: Path,
                                                                influx_store: InfluxSeriesStore) -> None:
    """Sensors with different spans, across a day boundary: InfluxDB's closed hours (read from its rollups)
    come out as SQLite has them, for each sensor."""
    midnight = (int(time.time()) // 86_400 - 3) * 86_400
    source = SqliteSeriesStore(tmp_path / "r.sqlite3")
    source.write([StoredReading("a/early", midnight - 600.0, 1.0), StoredReading("a/early", midnight + 4000.0, 3.0),
                  StoredReading("b/late", midnight - 10.0, 2.0), StoredReading("b/late", midnight + 20.0, 4.0)], [])
    copy_history(source, influx_store, tmp_path / "copy.json", batch=3, report=lambda _: None)
    for sensor in ("a/early", "b/late"):
        want = source.hourly(sensor, midnight - 86_400, midnight + 86_400)
        assert len(want) == 2
        assert influx_store.hourly(sensor, midnight - 86_400, midnight + 86_400) == want
    rollups = influx_store.http.rows('SELECT "count_value" FROM "hourly"."reading_hourly" GROUP BY "sensor"')
    assert sorted((row["sensor"], row["time"] // 1000, row["count_value"]) for row in rollups) == [
        ("a/early", midnight - 3600, 1), ("a/early", midnight + 3600, 1),
        ("b/late", midnight - 3600, 1), ("b/late", midnight, 1)]
    source.close()


def test_a_second_copy_picks_up_readings_stored_after_a_complete_one(
        tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    """The issue's defect: once complete, a copy copied nothing more — neither new readings nor those of
    sensors sorting before the last one copied, nor late ones (an edge's backlog) with earlier times."""
    now = round(time.time())
    source = SqliteSeriesStore(tmp_path / "r.sqlite3")
    source.write([StoredReading(s, now - 3600 + i * 60, 4.0) for s in ("dev-a/fridge-1", "dev-b/fridge-1")
                  for i in range(30)], [StoredEvent("dev-a", "b1", 1, now - 3000, "dev-a/door", "door", "open")])
    checkpoint = tmp_path / "copy.json"
    copy_history(source, influx_store, checkpoint, batch=25, report=lambda _: None)
    later = [StoredReading("dev-a/fridge-1", now - 3600 + i * 60, 5.0) for i in range(30, 40)]  # newer
    later += [StoredReading("dev-a/fridge-1", now - 3630, 3.0)]  # an edge's backlog: before everything copied
    later += [StoredReading("dev-0/fridge-1", now - 100, 6.0)]  # a new sensor sorting before all others
    later += [StoredReading("dev-b/fridge-1", now - 3570, 7.0)]  # between two readings already copied
    source.write(later, [StoredEvent("dev-a", "b1", 2, now - 3500, "dev-a/door", "door", "closed")])
    copy_history(source, influx_store, checkpoint, batch=25, report=lambda _: None)
    for sensor in ("dev-0/fridge-1", "dev-a/fridge-1", "dev-b/fridge-1"):
        want = source.readings(sensor, now - 7200, now + 1)
        assert influx_store.readings(sensor, now - 7200, now + 1) == want, sensor
        assert [(a.hour, a.count) for a in influx_store.hourly(sensor, now - 7200, now + 1)] == [
            (a.hour, a.count) for a in source.hourly(sensor, now - 7200, now + 1)], sensor
    assert influx_store.events(now - 7200, now + 1) == source.events(now - 7200, now + 1)
    source.close()


def test_the_switch_procedure_end_to_end(tmp_path: Path, influx_store: InfluxSeriesStore,
                                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/influxdb.md to the letter: copy while the hub writes to SQLite, switch the hub to InfluxDB, copy
    again, verify; readings keep arriving throughout, some of them late (an edge's backlog). Then a reading
    the copy never saw, and a point lost from InfluxDB, each make --verify fail with the day to look at."""
    from hub.cli import main  # noqa: PLC0415
    from hub.store.state import StateStore  # noqa: PLC0415

    home = tmp_path / "home"
    now = round(time.time())
    state = StateStore(home / "hub" / "hub.sqlite3")
    for device in ("dev-a", "dev-b", "dev-c"):  # the site tag, as the hub and the copy look it up
        state.record_status("test-site", device, "online", "b1", "1", now, now, [])
    state.close()
    for key, value in {"XIAOAN_HOME": str(home), "XIAOAN_INFLUX_URL": influx_store.http.url,
                       "XIAOAN_INFLUX_DATABASE": influx_store.http.database, "XIAOAN_INFLUX_USERNAME": ADMIN[0],
                       "XIAOAN_INFLUX_PASSWORD": ADMIN[1], "XIAOAN_RAW_RETENTION_DAYS": "10",
                       "XIAOAN_TIMEZONE": "Asia/Shanghai"}.items():
        monkeypatch.setenv(key, value)
    sqlite = SqliteSeriesStore(home / "hub" / "readings.sqlite3", raw_retention_s=10 * 86_400.0,
                               hourly_retention_s=3650 * 86_400.0)
    sensors = ["dev-a/fridge-1", "dev-b/freezer-1"]
    # Two weeks at 10 minutes: the first days are hourly aggregates only once SQLite's maintenance has run.
    sqlite.write([StoredReading(s, now - 14 * 86_400 + i * 600, 3.0 + i % 5) for s in sensors
                  for i in range(14 * 144)],
                 [StoredEvent("dev-c", "b1", seq, now - 5 * 86_400 + seq * 3600, "dev-c/gate", "door", "open")
                  for seq in range(100)])
    sqlite.downsample_and_prune(now)
    arrived = iter(range(1, 10_000))

    def hub_stores_more(_line: str) -> None:
        """The hub, still on SQLite, stores readings while the copy runs: new ones, and an edge's backlog."""
        n = next(arrived)
        sqlite.write([StoredReading("dev-b/freezer-1", now + n, 1.0),
                      StoredReading("dev-a/fridge-1", now - 3 * 86_400 + n, 2.0)],  # sorts first, hours late
                     [StoredEvent("dev-c", "b1", 1000 + n, now - 2 * 86_400 + n, "dev-c/gate", "door", "closed")])

    copy_history(sqlite, influx_store, home / "hub" / "readings.sqlite3.copy-progress.json", batch=500,
                 report=hub_stores_more)
    assert next(arrived) > 5  # the hub stored readings during the copy
    hub_stores_more("")  # and after it, before the switch
    sqlite.close()

    # The switch: from now on the hub writes to InfluxDB. The broker redelivers the last reading the old hub
    # stored but had not acknowledged, and new readings keep coming while the copy runs again.
    influx_store.write([StoredReading("dev-b/freezer-1", now + 1, 1.0)], [])
    stop = threading.Event()

    def hub_on_influx() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            influx_store.write([StoredReading(s, now + 20_000 + n, 5.0) for s in sensors], [])
            stop.wait(0.01)  # a reading every 10 ms: the pace of the hub, not a synchronisation

    writer = threading.Thread(target=hub_on_influx)
    writer.start()
    try:
        assert main(["store", "copy"]) == 0
        assert "copied " in capsys.readouterr().out
        assert main(["store", "copy", "--verify"]) == 0, capsys.readouterr().out
        out = capsys.readouterr().out
        assert "verify: InfluxDB holds what SQLite holds" in out
        assert "compared by their hourly counts" in out  # the pruned days were compared too
        assert main(["store", "copy"]) == 0  # the final pass again: nothing to do, nothing doubled
        assert "copied 0 readings, 0 events, 0 hourly aggregates" in capsys.readouterr().out
    finally:
        stop.set()
        writer.join()
    assert main(["store", "copy", "--verify"]) == 0

    # A reading SQLite holds that the copy never saw.
    sqlite = SqliteSeriesStore(home / "hub" / "readings.sqlite3")
    skipped_ts = now - 2 * 86_400 + 7
    day = dt.datetime.fromtimestamp(skipped_ts, ZoneInfo("Asia/Shanghai")).date().isoformat()
    in_influx = len(influx_store.readings("dev-a/fridge-1", skipped_ts - 3 * 86_400, skipped_ts + 86_400,
                                          limit=100_000))
    before = sqlite.count_between("readings", "dev-a/fridge-1", 0, 2**62)
    sqlite.write([StoredReading("dev-a/fridge-1", skipped_ts, 9.0)], [])
    sqlite.close()
    capsys.readouterr()
    assert main(["store", "copy", "--verify"]) == 1
    out = capsys.readouterr().out
    difference = [line for line in out.splitlines() if line.startswith("DIFFERENT")]
    assert len(difference) == 1 and difference[0].startswith(f"DIFFERENT readings: dev-a/fridge-1 {day}: sqlite ")
    sqlite_n, influx_n = (int(part.split()[-1]) for part in difference[0].split(": ", 2)[2].split(", "))
    assert sqlite_n == influx_n + 1, out
    assert "1 sensor-days differ" in out
    assert main(["store", "copy"]) == 0
    assert main(["store", "copy", "--verify"]) == 0
    assert len(influx_store.readings("dev-a/fridge-1", skipped_ts - 3 * 86_400, skipped_ts + 86_400,
                                     limit=100_000)) == in_influx + 1
    assert before > 0

    # A point lost from InfluxDB.
    lost_ts = float(now - 86_400)  # on the ten-minute grid
    assert lost_ts in {r.ts for r in influx_store.readings("dev-b/freezer-1", lost_ts, lost_ts + 1)}
    lost_ns = round(lost_ts) * 1_000_000_000
    where = f"time >= {lost_ns} AND time <= {lost_ns}"
    influx_store.http.query("DELETE FROM \"reading\" WHERE \"sensor\" = 'dev-b/freezer-1' AND " + where,  # noqa: S608
                            write=True)
    local = dt.datetime.fromtimestamp(lost_ts, ZoneInfo("Asia/Shanghai")).date()
    start_ms = round(dt.datetime.combine(local, dt.time(0), ZoneInfo("Asia/Shanghai")).timestamp() * 1000)
    sqlite = SqliteSeriesStore(home / "hub" / "readings.sqlite3")
    held = sqlite.count_between("readings", "dev-b/freezer-1", start_ms, start_ms + 86_400_000)
    sqlite.close()
    capsys.readouterr()
    assert main(["store", "copy", "--verify"]) == 1
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("DIFFERENT")] == [
        f"DIFFERENT readings: dev-b/freezer-1 {local.isoformat()}: sqlite {held}, influxdb {held - 1}"], out


def test_verify_counts_local_days_across_a_daylight_saving_change(tmp_path: Path,
                                                                 influx_store: InfluxSeriesStore) -> None:
    """Days of 23 or 25 hours (a school in a zone with daylight saving time) are counted as the local days
    they are, on both sides; a point lost on such a day, or on an ordinary one, is reported on its day."""
    from hub.store.verify import verify_copy  # noqa: PLC0415

    berlin = ZoneInfo("Europe/Berlin")

    def midnight(day: dt.date) -> int:
        return round(dt.datetime.combine(day, dt.time(0), berlin).timestamp())

    change = dt.datetime.now(berlin).date() - dt.timedelta(days=2)
    while midnight(change + dt.timedelta(days=1)) - midnight(change) == 86_400:
        change -= dt.timedelta(days=1)
    first, end = change - dt.timedelta(days=2), change + dt.timedelta(days=3)
    source = SqliteSeriesStore(tmp_path / "r.sqlite3")
    source.write([StoredReading(s, t, 4.0) for s in ("a/fridge", "b/fridge")
                  for t in range(midnight(first), midnight(end), 1800)], [])
    copy_history(source, influx_store, tmp_path / "copy.json", report=lambda _: None)
    result = verify_copy(source, influx_store, berlin, 400 * 86_400.0, 3650 * 86_400.0)
    assert result.differences == []
    assert result.compared["readings"] == (2 * 5, 2 * (midnight(end) - midnight(first)) // 1800)
    change_length = midnight(change + dt.timedelta(days=1)) - midnight(change)
    for day in (change, change + dt.timedelta(days=1)):
        lost_ns = (midnight(day) + 12 * 3600) * 1_000_000_000
        where = f"time >= {lost_ns} AND time <= {lost_ns}"
        influx_store.http.query("DELETE FROM \"reading\" WHERE \"sensor\" = 'b/fridge' AND " + where,  # noqa: S608
                                write=True)
    result = verify_copy(source, influx_store, berlin, 400 * 86_400.0, 3650 * 86_400.0)
    assert [str(d) for d in result.differences] == [
        f"DIFFERENT readings: b/fridge {change.isoformat()}: sqlite {change_length // 1800},"
        f" influxdb {change_length // 1800 - 1}",
        f"DIFFERENT readings: b/fridge {(change + dt.timedelta(days=1)).isoformat()}: sqlite 48, influxdb 47"]
    source.close()


def test_a_checkpoint_of_the_old_format_is_not_trusted(tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    """A school that ran the old copy has a checkpoint saying "complete": the new copy starts over."""
    now = round(time.time())
    source = SqliteSeriesStore(tmp_path / "r.sqlite3")
    source.write([StoredReading("dev-a/fridge-1", now - i * 60, 4.0) for i in range(10)], [])
    checkpoint = tmp_path / "copy.json"
    checkpoint.write_text(json.dumps({"readings_after": ["dev-z/x", now * 1000], "events_after": None,
                                      "hourly_after": None, "readings": 10, "events": 0, "hourly": 0,
                                      "first_ts": now - 540, "last_ts": now, "backfilled": True,
                                      "done": ["readings", "events", "hourly"]}), encoding="utf-8")
    lines: list[str] = []
    progress = copy_history(source, influx_store, checkpoint, report=lines.append)
    assert progress.copied["readings"] == 10
    assert "not trusted" in lines[0]
    assert len(influx_store.readings("dev-a/fridge-1", now - 3600, now + 1)) == 10
    source.close()


def test_a_bucket_fingerprint_changes_with_any_change_to_its_rows(tmp_path: Path) -> None:
    """What the copy relies on to find what changed: an added row (at any time), a replaced value, a
    re-stamped reading, a merged hourly aggregate; and the same rows always sum up the same."""
    day = 86_400_000
    store = SqliteSeriesStore(tmp_path / "r.sqlite3", raw_retention_s=86_400.0)
    base = 20_000 * 86_400.0
    store.write([StoredReading("s", base + i * 0.5, 1.1 * i) for i in range(100)], [])
    seen = [store.fingerprints("readings", "s", day)]
    assert list(seen[0]) == [20_000] and seen[0][20_000][0] == 100
    assert store.fingerprints("readings", "s", day) == seen[0]
    store.write([StoredReading("s", base + 0.25, 7.0)], [])  # late, between two rows already there
    store.write([StoredReading("s", base + 1.0, 99.0)], [])  # a value replaced at the same millisecond
    store.write([StoredReading("s", base - 1.0, 2.0)], [])  # the day before: a bucket of its own
    for _ in range(3):
        seen.append(store.fingerprints("readings", "s", day))
    assert seen[1] == seen[2] == seen[3] != seen[0] and set(seen[1]) == {19_999, 20_000}
    with sqlite3.connect(tmp_path / "r.sqlite3") as db:  # a re-stamp: one row moved within its day
        db.execute("UPDATE readings SET ts_ms = ts_ms + 1 WHERE sensor = 's' AND ts_ms = ?",
                   (round((base + 49.5) * 1000),))
    assert store.fingerprints("readings", "s", day)[20_000] != seen[1][20_000]
    store.downsample_and_prune(base + 3 * 86_400.0)
    hourly = store.fingerprints("readings_hourly", "s", 28 * day)
    store.write([StoredReading("s", base + 30.0, 5.0)], [])  # replayed after its hour was pruned
    store.downsample_and_prune(base + 3 * 86_400.0)
    assert store.fingerprints("readings_hourly", "s", 28 * day) != hourly
    store.close()
