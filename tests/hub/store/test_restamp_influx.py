"""Issue 25's scenario against InfluxDB: readings published before the clock synced end at their true times.

InfluxDB refuses a 1970 point outright (it is older than the raw retention policy), so
the hub holds such readings in its state database until the anchor arrives and writes
them once, at their true time; the rollups of the hours they fall in are recomputed.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from hub.alerts.engine import AlertEngine
from hub.ingest import IngestPipeline
from hub.settings import HubConfig
from hub.store.influx_series import InfluxSeriesStore
from hub.store.state import StateStore
from tests.hub.test_restamp import KEY, TRUE_WALL_AT_MONO_0, UNSYNCED, heartbeat, restamp_audits, run_scenario


def test_readings_published_before_sync_end_at_their_true_time_in_influxdb(
        tmp_path: Path, influx_store: InfluxSeriesStore) -> None:
    state = StateStore(tmp_path / "hub.sqlite3")
    try:
        # The store's idea of "now": the hours of the scenario are closed, so hourly() reads their rollups.
        influx_store.clock = lambda: TRUE_WALL_AT_MONO_0 + 3 * 86_400
        pipeline = IngestPipeline(influx_store, state, AlertEngine(state, HubConfig(), ZoneInfo("Asia/Shanghai")))
        run_scenario(pipeline, influx_store, state)
        before = influx_store.readings(KEY, 0, 4e9)
        pipeline.process([heartbeat(700.0)])  # the next heartbeat: the boot has nothing left to re-stamp
        assert influx_store.readings(KEY, 0, 4e9) == before
        assert len(restamp_audits(state)) == 1
        (hour,) = influx_store.hourly(KEY, TRUE_WALL_AT_MONO_0 // 3600 * 3600,
                                      TRUE_WALL_AT_MONO_0 // 3600 * 3600 + 3600)
        assert hour.count == UNSYNCED + 1
    finally:
        state.close()
