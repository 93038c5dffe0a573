"""SQLite retention: raw readings fold into hourly aggregates before they go, late ones merge in."""

from __future__ import annotations

from pathlib import Path

from hub.store.base import HOUR_S, StoredEvent, StoredReading
from hub.store.sqlite_series import SqliteSeriesStore

DAY = 86_400.0
T0 = 1_700_000_000 // HOUR_S * HOUR_S
SENSOR = "dev-a/fridge-1"


def test_prune_keeps_aggregates_and_merges_late_readings(tmp_path: Path) -> None:
    store = SqliteSeriesStore(tmp_path / "r.sqlite3", raw_retention_s=7 * DAY, hourly_retention_s=365 * DAY)
    store.write([StoredReading(SENSOR, T0 + 60, 2.0), StoredReading(SENSOR, T0 + 120, 4.0)],
                [StoredEvent("dev-a", "b", 1, T0 + 5, "dev-a/door", "door", "open")])
    store.write([StoredReading(SENSOR, T0 + 8 * DAY, 5.0)], [])
    store.downsample_and_prune(T0 + 8 * DAY)
    assert store.readings(SENSOR, T0, T0 + HOUR_S) == []
    assert store.events(T0, T0 + HOUR_S) == []
    assert len(store.readings(SENSOR, T0, T0 + 9 * DAY)) == 1  # the recent one stays raw
    [hour] = store.hourly(SENSOR, T0, T0 + HOUR_S)
    assert (hour.min, hour.max, hour.mean, hour.count) == (2.0, 4.0, 3.0, 2)
    # A reading replayed after its hour was pruned joins the hour instead of replacing it.
    store.write([StoredReading(SENSOR, T0 + 180, 9.0)], [])
    [hour] = store.hourly(SENSOR, T0, T0 + HOUR_S)
    assert (hour.min, hour.max, hour.mean, hour.count) == (2.0, 9.0, 5.0, 3)
    store.downsample_and_prune(T0 + 8 * DAY)
    assert store.readings(SENSOR, T0, T0 + HOUR_S) == []
    assert store.hourly(SENSOR, T0, T0 + HOUR_S) == [hour]
    # And aggregates go once their own retention has passed.
    store.downsample_and_prune(T0 + 400 * DAY)
    assert store.hourly(SENSOR, T0, T0 + HOUR_S) == []
    store.close()


def test_no_retention_keeps_everything(tmp_path: Path) -> None:
    store = SqliteSeriesStore(tmp_path / "r.sqlite3")
    store.write([StoredReading(SENSOR, 1000.0, 4.0)], [])
    store.downsample_and_prune(T0)
    assert len(store.readings(SENSOR, 0, 2000)) == 1
    store.close()
