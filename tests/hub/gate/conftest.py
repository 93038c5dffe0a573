"""A hub's gate-duty parts on real SQLite stores, fed raw wire messages, on a clock the test turns."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge import wire
from hub.alerts.engine import AlertEngine
from hub.calendar import CalendarConfig
from hub.gate.config import GateConfig
from hub.gate.monitor import GateMonitor
from hub.ingest import Inbound, IngestPipeline
from hub.settings import HubConfig
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import Alert, StateStore
from tests.edge.conftest import PtyPort

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(text: str) -> float:
    """An epoch for a local time in Shanghai, e.g. ``2026-11-17 23:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


CALENDAR: dict[str, Any] = {
    "groups": {
        "main": {"members": ["gate-1/main-gate", "gate-1/side-gate"], "close_grace_s": 600,
                 "school_day": [{"start": "06:30", "end": "08:00"}, {"start": "11:30", "end": "14:00"},
                                {"start": "16:30", "end": "18:30"}]},
        # The boarding house's night door: open through the night for the duty teacher.
        "dorm": {"members": ["gate-1/dorm-*"], "school_day": [{"start": "21:30", "end": "06:30"}],
                 "other_day": [{"start": "21:30", "end": "06:30"}]},
    },
}

GATE: dict[str, Any] = {
    "checkpoints": {
        "gatehouse": {"name": "门卫室", "tags": ["04A1B2C3D4"]},
        "playground": {"name": "操场", "tags": ["04A1B2C3E5"], "sensors": ["gate-1/checkpoint-playground"]},
        "canteen": {"name": "食堂", "tags": ["04A1B2C3F6"]},
    },
    "routes": {
        "campus": {"name": "校园巡更", "checkpoints": ["gatehouse", "playground", "canteen"],
                   "day_rounds": [{"start": "07:00", "end": "09:00"}, {"start": "12:00", "end": "14:00"},
                                  {"start": "17:00", "end": "19:00"}],
                   "night_rounds": [{"start": "21:00", "end": "23:00"}, {"start": "23:30", "end": "01:30"}]},
    },
}


def hub_config(**extra: Any) -> HubConfig:
    return HubConfig(calendar=CalendarConfig.model_validate(CALENDAR), gate=GateConfig.model_validate(GATE),
                     **extra)


class Rig:
    """State and series stores, the alert engine, the ingest pipeline and the gate monitor."""

    def __init__(self, path: Path, config: HubConfig, now: float) -> None:
        self.now = now
        self.path = path
        self.config = config
        self.state = StateStore(path / "hub.sqlite3")
        self.series = SqliteSeriesStore(path / "series.sqlite3")
        self.engine = AlertEngine(self.state, config, SHANGHAI, clock=lambda: self.now)
        self.pipeline = IngestPipeline(self.series, self.state, self.engine, clock=lambda: self.now)
        self.monitor = self.open_monitor()
        self.seq = 0

    def open_monitor(self) -> GateMonitor:
        monitor = GateMonitor(self.path / "gate.sqlite3", self.config.gate, self.config.calendar,
                              self.config.alerts.defaults.offline_after_s, self.state, self.series, self.engine,
                              clock=lambda: self.now,
                              held_open_kinds=self.config.alerts.defaults.door_open_max_s)
        self.pipeline.add_event_listener(monitor.on_events)
        return monitor

    def announce(self, device: str, sensors: list[dict[str, Any]], ts: float | None = None) -> None:
        body = {"state": "online", "boot_id": "b", "ts": ts or self.now, "sensors": sensors}
        self.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.STATUS), json.dumps(body).encode(),
                                       0, 1, self.now)])

    def event(self, sensor_key: str, kind: str, state: str, ts: float, **detail: Any) -> None:
        device, sensor = sensor_key.split("/")
        self.seq += 1
        body = {"device": device, "boot_id": "b", "seq": self.seq, "ts": ts, "sensor": sensor, "kind": kind,
                "state": state, "detail": detail}
        self.pipeline.process([Inbound(wire.topic("s", device, wire.Channel.EVENT), json.dumps(body).encode(),
                                       self.seq, 1, self.now)])

    def at(self, ts: float) -> None:
        """Turn the clock to ``ts`` and let both the engine and the monitor see it."""
        self.now = ts
        self.engine.tick(ts)
        self.monitor.tick(ts)

    def alerts(self, rule: str) -> list[Alert]:
        return [a for a in self.state.alerts() if a.rule == rule]

    def close(self) -> None:
        self.monitor.close()
        self.series.close()
        self.state.close()


GATES = [{"sensor": "main-gate", "kind": "gate", "name": "校门"}, {"sensor": "side-gate", "kind": "gate",
                                                                  "name": "侧门"},
         {"sensor": "dorm-door", "kind": "door", "name": "宿舍门"}]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    # Tuesday 17 November 2026, a school day; the hub starts watching at noon.
    running = Rig(tmp_path, hub_config(), local("2026-11-17 12:00"))
    running.announce("gate-1", GATES)
    yield running
    running.close()


@pytest.fixture
def pty_port() -> Iterator[PtyPort]:
    port = PtyPort()
    yield port
    port.close()
