"""The SQLite store's quick reads for the weekly report give what ``readings`` gives, without the objects."""

from __future__ import annotations

from pathlib import Path

from hub.store.base import StoredReading
from hub.store.sqlite_series import SqliteSeriesStore

T0 = 1_780_000_000.0


def test_values_and_first_values_match_the_readings(tmp_path: Path) -> None:
    store = SqliteSeriesStore(tmp_path / "r.sqlite3")
    readings = [StoredReading("a/fridge", T0 + i * 10.5, None if i % 4 == 0 else i / 3, None) for i in range(40)]
    readings.append(StoredReading("b/freezer", T0 + 100.25, -18.5))
    store.write(readings, [])
    full = store.readings("a/fridge", T0 + 5, T0 + 300)
    assert store.values("a/fridge", T0 + 5, T0 + 300, 10_000) == [(r.ts, r.value) for r in full]
    assert store.values("a/fridge", T0 + 5, T0 + 300, 3) == [(r.ts, r.value) for r in full[:3]]
    # The first valued reading of each sensor in the window; one without any is left out.
    assert store.first_values(["a/fridge", "b/freezer", "c/none"], T0, T0 + 200) == {
        "a/fridge": (T0 + 10.5, 1 / 3), "b/freezer": (T0 + 100.25, -18.5)}
    assert store.first_values(["a/fridge"], T0 + 41, T0 + 43) == {}  # only the unvalued reading at T0 + 42
    store.close()
