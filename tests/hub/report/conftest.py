"""A hub (no MQTT) holding a generated week with known excursions, gaps, door openings and alarms."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.wire import SensorInfo
from hub.alerts.config import AlertsConfig, UnitConfig
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.report.config import ReportConfig
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings
from hub.store.base import StoredEvent, StoredReading
from hub.store.state import Alert

TZ = ZoneInfo("Asia/Shanghai")
FRIDGE = "kitchen/fridge1"
FREEZER = "kitchen/freezer"
GAPPY = "store/fridge2"
DOOR = "kitchen/door1"
STEP_S = 60.0
WEEK = "2026-W47"  # Monday 2026-11-16 to Sunday 2026-11-22


def local(text: str) -> float:
    """Epoch seconds of a Beijing-time ``YYYY-MM-DD HH:MM``."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ).timestamp()


#: (sensor, start, end, value): the known excursions, written over the base signal.
EXCURSIONS = [
    (FRIDGE, "2026-11-15 23:30", "2026-11-16 00:20", 9.5),  # begins the week before, ends after Monday 00:00
    (FRIDGE, "2026-11-17 10:00", "2026-11-17 10:30", 11.0),
    (FRIDGE, "2026-11-18 23:50", "2026-11-19 00:40", 8.7),  # spans midnight
    (FRIDGE, "2026-11-22 23:45", "2026-11-23 00:15", 10.0),  # still outside when the week ends
    (FREEZER, "2026-11-20 03:00", "2026-11-20 03:25", -9.0),
    (GAPPY, "2026-11-19 13:50", "2026-11-19 14:20", -1.5),  # below the low limit, and then a gap
]
#: (sensor, start, end): no readings at all.
GAPS = [(GAPPY, "2026-11-18 06:00", "2026-11-18 14:00"), (GAPPY, "2026-11-19 14:05", "2026-11-19 16:00")]
#: Fault readings (no value) over a known outside spell must neither start nor end it.
FAULTS = [(FRIDGE, "2026-11-17 10:10"), (GAPPY, "2026-11-20 09:00")]
DOOR_OPENS = ["2026-11-17 09:58", "2026-11-18 23:49", "2026-11-20 12:00"]


def _base(sensor: str, index: int) -> float:
    if sensor == FREEZER:
        return -18.0 + (index % 7) * 0.2
    return 3.0 + (index * 7 % 30) / 10  # 3.0 … 5.9 °C


@dataclass
class Dataset:
    readings: dict[str, list[tuple[float, float | None]]] = field(default_factory=dict)
    door_opens: list[float] = field(default_factory=list)
    alert_id: int = 0


def generate(start: float, end: float) -> Dataset:
    data = Dataset()
    spells = [(name, local(lo), local(hi), out) for name, lo, hi, out in EXCURSIONS]
    gaps = [(name, local(lo), local(hi)) for name, lo, hi in GAPS]
    faults = {(name, local(at)) for name, at in FAULTS}
    for sensor in (FRIDGE, FREEZER, GAPPY):
        rows: list[tuple[float, float | None]] = []
        mine = [(lo, hi, out) for name, lo, hi, out in spells if name == sensor]
        holes = [(lo, hi) for name, lo, hi in gaps if name == sensor]
        for index in range(int((end - start) // STEP_S)):
            ts = start + index * STEP_S
            if any(lo <= ts < hi for lo, hi in holes):
                continue
            value: float | None = _base(sensor, index)
            for lo, hi, out in mine:
                if lo <= ts < hi:
                    value = out + (index % 3) * 0.1
            if (sensor, ts) in faults:
                value = None
            rows.append((ts, value))
        data.readings[sensor] = rows
    data.door_opens = [local(t) for t in DOOR_OPENS]
    return data


def _store(hub: Hub, data: Dataset) -> None:
    hub.state.record_status("test-site", "kitchen", "online", "boot-1", "1.0", local("2026-11-01 00:00"),
                            local("2026-11-01 00:00"), [
                                SensorInfo(sensor="fridge1", kind="temperature", profile="fridge", name="冷藏柜1"),
                                SensorInfo(sensor="freezer", kind="temperature", profile="freezer", name="冷冻柜"),
                                SensorInfo(sensor="door1", kind="door", name="冷藏柜门")])
    hub.state.record_status("test-site", "store", "online", "boot-2", "1.0", local("2026-11-01 00:00"),
                            local("2026-11-01 00:00"), [
                                SensorInfo(sensor="fridge2", kind="temperature", profile="fridge", name="库房冷藏")])
    hub.state.record_health("kitchen", json.dumps({"uptime_s": 86400.0 * 3, "dropped": 0, "outbox_depth": 0}),
                            local("2026-11-22 12:00"))
    for sensor, rows in data.readings.items():
        hub.series.write([StoredReading(sensor, ts, value, None if value is not None else "crc") for ts, value in rows],
                         [])
    events = []
    for seq, ts in enumerate(data.door_opens):
        events.append(StoredEvent("kitchen", "boot-1", 2 * seq, ts, DOOR, "door", "open"))
        events.append(StoredEvent("kitchen", "boot-1", 2 * seq + 1, ts + 90, DOOR, "door", "closed"))
    hub.series.write([], events)
    # The Tuesday excursion alarmed, was acknowledged, closed with the corrective action and verified.
    alert = Alert(rule=RuleKind.TEMPERATURE_LIMITS, subject=FRIDGE, kind=AlertKind.TEMPERATURE,
                  severity=Severity.CRITICAL, state=AlertState.VERIFIED, message="冷藏柜1 温度 11 °C，高于上限 8 °C",
                  started_at=local("2026-11-17 10:15"),
                  updated_at=local("2026-11-17 11:00"), value=11.0, peak=11.2, threshold=8.0,
                  fired_at=local("2026-11-17 10:15"), resolved_at=local("2026-11-17 10:30"),
                  acked_at=local("2026-11-17 10:18"), acked_by="王师傅", closed_at=local("2026-11-17 10:40"),
                  closed_by="王师傅", action="关紧柜门，食材转移至备用冷柜", verified_at=local("2026-11-17 11:00"),
                  verified_by="李安全员")
    data.alert_id = hub.state.save_alert(alert, actor="system", action="alert.fired").id or 0


def make_hub(home: Path, **report: object) -> Hub:
    config = HubConfig(alerts=AlertsConfig(units=[UnitConfig(temperature=FRIDGE, door=DOOR)]),
                       report=ReportConfig.model_validate(report))
    return Hub(HubSettings(home=home, rules=config), connect_mqtt=False)


@pytest.fixture(scope="module")
def week_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Dataset]]:
    """One hub for the module's read-only tests: building the week's data takes a moment."""
    hub = make_hub(tmp_path_factory.mktemp("report-hub"), school="实验小学")
    data = generate(local("2026-11-14 00:00"), local("2026-11-25 00:00"))
    _store(hub, data)
    yield hub, data
    hub.stop()


@pytest.fixture
def fresh_hub(tmp_path: Path) -> Iterator[tuple[Hub, Dataset]]:
    """A hub of its own, for tests that sign, schedule or remind."""
    hub = make_hub(tmp_path / "home", school="实验小学", remind_after_days=3)
    data = generate(local("2026-11-14 00:00"), local("2026-11-25 00:00"))
    _store(hub, data)
    yield hub, data
    hub.stop()
