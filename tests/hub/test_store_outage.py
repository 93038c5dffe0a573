"""The store alarm's record: an outage that is over is written down, even when the hub stops right after it."""

from __future__ import annotations

import time
from pathlib import Path

from hub.alerts.kinds import AlertState, RuleKind
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import SeriesUnreachable
from hub.store.state import StateStore
from tests.conftest import wait_for


def test_an_outage_over_since_the_last_tick_is_recorded_as_the_hub_stops(tmp_path: Path) -> None:
    """A hub restarted as soon as its database is back (an operator's reflex) kept no trace of the outage."""
    hub = Hub(HubSettings(home=tmp_path, tick_s=3600.0), connect_mqtt=False)
    hub.start()
    try:
        # The duty has had its first run; the next is an hour away.
        wait_for(lambda: any(d.name == "store-alarm" and d.runs >= 1 for d in hub.scheduler.status()))
        now = time.time()
        hub.pipeline.outage.failed(SeriesUnreachable("PostgreSQL cannot be reached"), now - 30.0)
        hub.pipeline.outage.stored(now)
    finally:
        hub.stop()
    state = StateStore(hub.settings.db_dir / "hub.sqlite3")
    try:
        (alert,) = [a for a in state.alerts() if a.rule == RuleKind.STORE_CANNOT_WRITE]
    finally:
        state.close()
    assert alert.state is AlertState.RESOLVED
    assert alert.data["reason"] == "database unreachable"
    assert alert.resolved_at is not None and alert.fired_at is not None
    assert round(alert.resolved_at - alert.fired_at) == 30
