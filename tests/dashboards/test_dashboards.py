"""Every Grafana query in dashboards/ runs against a real InfluxDB holding data the hub's write path produced.

Panel targets, template variable queries and annotation queries are pulled out
of the dashboard JSON, their Grafana macros filled the way Grafana fills them
for InfluxQL (regex-escaped variable values, ``$timeFilter``, ``$__interval``),
and each must run without error and return rows. A renamed field or tag in the
store breaks this test, not a school's dashboard.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from edge import wire
from edge.wire import SensorInfo
from hub.alerts.engine import AlertEngine
from hub.alerts.kinds import AlertKind, AlertState, RuleKind, Severity
from hub.settings import HubConfig
from hub.store.base import Sample, StoredEvent, StoredReading
from hub.store.influx_series import InfluxSeriesStore
from hub.store.state import Alert, StateStore
from hub.store.upkeep import alert_sample, health_samples, limit_samples

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
SITE = "test-site"
VALUES = {"site": SITE, "device": "dev-a", "sensor": "dev-a/fridge-1"}
#: Per dashboard, the device whose data its panels show (gates live on another device).
DEVICE_FOR = {"xiaoan-gates": "dev-c"}


def dashboard_files() -> list[Path]:
    return sorted((DASHBOARDS / "json").glob("*.json"))


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for variable in dashboard["templating"]["list"]:
        yield f"variable {variable['name']}", variable["query"]
    for annotation in dashboard["annotations"]["list"]:
        yield f"annotation {annotation['name']}", annotation["query"]
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target.get("rawQuery"), f"panel {panel['title']!r}: raw InfluxQL expected"
            yield f"panel {panel['title']} {target['refId']}", target["query"]


def grafana_regex(value: str) -> str:
    """How Grafana formats a variable inside /…/ for InfluxQL: regex-escaped, slashes escaped."""
    return re.escape(value).replace("/", "\\/")


def fill(query: str, values: dict[str, str], since: float, until: float) -> str:
    query = query.replace("$timeFilter", f"time >= {int(since * 1000)}ms and time <= {int(until * 1000)}ms")
    query = query.replace("$__interval", "5m")
    for name, value in values.items():
        query = query.replace(f"${name}", grafana_regex(value))
    assert re.search(r"\$(?!tag_)\w", query) is None, f"unfilled variable in {query}"
    return query


@pytest.fixture
def loaded(influx_store: InfluxSeriesStore, tmp_path: Path) -> tuple[InfluxSeriesStore, float]:
    """Six hours of a canteen and a gate, written through the store as the hub writes them.

    Health and limit points come from the hub's own producers (hub.store.upkeep) over a real
    state store and alert engine, and the alerts are the kinds the hub raises, so a renamed
    field or kind fails here.
    """
    now = time.time()
    start = now - 6 * 3600
    readings = [StoredReading(sensor, start + i * 60, base + (i % 30) * 0.2)
                for sensor, base in (("dev-a/fridge-1", 3.0), ("dev-a/freezer-1", -19.0)) for i in range(360)]
    readings += [StoredReading("dev-a/fridge-1", start + 30 + i * 3600, None, "disconnected") for i in range(6)]
    events = [StoredEvent("dev-c", "b1", seq, start + seq * 600, "dev-c/gate-1", "door",
                          "open" if seq % 2 == 0 else "closed") for seq in range(36)]
    influx_store.write(readings, events)
    state = StateStore(tmp_path / "hub.sqlite3")
    sensors = {"dev-a": (SensorInfo(sensor="fridge-1", kind="temperature", profile="fridge"),
                         SensorInfo(sensor="freezer-1", kind="temperature", profile="freezer")),
               "dev-c": (SensorInfo(sensor="gate-1", kind="gate"),)}
    engine = AlertEngine(state, HubConfig(), ZoneInfo("Asia/Shanghai"))
    samples: list[Sample] = []
    for i in range(72):
        ts = start + i * 300
        for device, infos in sensors.items():
            state.record_status(SITE, device, "offline" if i == 40 else "online", "b1", "1", ts, ts, infos)
            health = wire.Health(device=device, boot_id="b1", ts=ts, uptime_s=i * 300.0, outbox_depth=i % 5,
                                 dropped=i // 10, clock_synced=True)
            state.record_health(device, health.model_dump_json(), ts)
        engine.refresh_sensors()
        samples += health_samples(state, ts) + limit_samples(state, engine.limits, ts)
    for alert_state, at in (("pending", 3600.0), ("firing", 4500.0), ("resolved", 6000.0)):
        samples.append(alert_sample(Alert(RuleKind.TEMPERATURE_LIMITS, "dev-a/fridge-1", AlertKind.TEMPERATURE,
                                          Severity.CRITICAL, AlertState(alert_state), "冷藏柜 9.2 °C > 8 °C",
                                          start + at, start + at, value=9.2,
                                          id=1), SITE))
        samples.append(alert_sample(Alert(RuleKind.DOOR_OPEN_TOO_LONG, "dev-c/gate-1", AlertKind.DOOR, Severity.WARNING,
                                          AlertState(alert_state),
                                          "校门 门未关闭", start + at + 60, start + at + 60, id=2), SITE))
        samples.append(alert_sample(Alert(RuleKind.GATE_AFTER_HOURS, "dev-c/gate-1", AlertKind.GATE, Severity.CRITICAL,
                                          AlertState(alert_state),
                                          "校门 非开放时间打开", start + at + 120, start + at + 120, id=3), SITE))
    state.close()
    influx_store.write_samples(samples)
    return influx_store, now


def test_provisioning_points_at_the_dashboards_and_influxql() -> None:
    source = yaml.safe_load((DASHBOARDS / "provisioning/datasources/xiaoan-influxdb.yaml").read_text("utf-8"))
    [datasource] = source["datasources"]
    assert datasource["type"] == "influxdb"
    assert datasource["uid"] == "xiaoan-influxdb"
    assert "version" not in datasource.get("jsonData", {})  # no Flux: InfluxQL works on 1.x, 2.x and 3.x
    providers = yaml.safe_load((DASHBOARDS / "provisioning/dashboards/provider.yaml").read_text("utf-8"))
    assert providers["providers"][0]["type"] == "file"
    for path in dashboard_files():
        dashboard = json.loads(path.read_text("utf-8"))
        names = {v["name"] for v in dashboard["templating"]["list"]}
        assert {"site", "device"} <= names, path.name
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"]


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.stem)
def test_every_query_returns_rows(path: Path, loaded: tuple[InfluxSeriesStore, float]) -> None:
    store, now = loaded
    dashboard = json.loads(path.read_text("utf-8"))
    values = {**VALUES, "device": DEVICE_FOR.get(dashboard["uid"], VALUES["device"])}
    checked = 0
    for where, query in queries(dashboard):
        filled = fill(query, values, now - 24 * 3600, now)
        series = store.http.query(filled)  # raises on any InfluxQL error
        rows = sum(len(s.get("values", [])) for s in series)
        assert rows > 0, f"{path.name} {where}: no rows for {filled}"
        checked += 1
    assert checked >= 4


def test_the_gates_dashboard_shows_every_kind_of_gate_alarm(loaded: tuple[InfluxSeriesStore, float]) -> None:
    """Held open (kind door) and after hours (kind gate, from gate duty) both reach the gate panels."""
    store, now = loaded
    dashboard = json.loads((DASHBOARDS / "json" / "gates.json").read_text("utf-8"))
    values = {**VALUES, "device": DEVICE_FOR.get(dashboard["uid"], VALUES["device"])}
    alert_queries = [q for _, q in queries(dashboard) if 'FROM "alert"' in q]
    assert alert_queries
    for query in alert_queries:
        series = store.http.query(fill(query, values, now - 24 * 3600, now))
        messages = {str(v) for s in series for row in s.get("values", []) for v in row}
        assert "校门 非开放时间打开" in messages and "校门 门未关闭" in messages, query
