"""`xiaoan config import` into a running hub: the hub's settings duty puts the new version in force, no restart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hub.cli import main
from hub.notify.config import AppriseChannelConfig
from hub.runtime import Hub
from hub.settings import HubConfig, HubSettings, load_settings
from tests.conftest import wait_for
from tests.hub.web.conftest import SENSORS, Feed

EXAMPLE = Path(__file__).parents[3] / "firmware-config" / "hub" / "notify.example.yaml"


def _label(hub: Hub) -> str | None:
    config = hub.notifications.config
    channel = config.channels.get("wecom_kitchen") if config is not None else None
    return channel.label if isinstance(channel, AppriseChannelConfig) else None


def test_imports_reach_a_running_hub_and_a_bad_one_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    hub = Hub(load_settings(home=tmp_path, notify_config=EXAMPLE), connect_mqtt=False)
    hub.start()
    try:
        # Channels and routes: exported, changed, imported while the hub runs.
        full = tmp_path / "notify.yaml"
        assert main(["config", "export", "--with-secrets", "-o", str(full)]) == 0
        data = yaml.safe_load(full.read_text(encoding="utf-8"))
        data["channels"]["wecom_kitchen"]["label"] = "厨房群（新）"
        full.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        assert main(["config", "import", str(full)]) == 0
        assert "a running hub uses it within 5 seconds" in capsys.readouterr().out
        wait_for(lambda: _label(hub) == "厨房群（新）", timeout=30)

        # The admin page's setup: a sensor named and assigned, a term, from a file.
        setup = tmp_path / "setup.yaml"
        setup.write_text(yaml.safe_dump({
            "sensors": {"dev-a/fridge-1": {"name": "1号冷藏柜", "role": "cold_unit", "profile": "fridge"}},
            "terms": [{"name": "2026 秋季学期", "start": "2026-09-01", "end": "2027-01-22"}]},
            allow_unicode=True), encoding="utf-8")
        assert main(["config", "import", "--section", "setup", str(setup)]) == 0
        wait_for(lambda: "dev-a/fridge-1" in hub.settings.rules.sensors, timeout=30)
        assert hub.settings.rules.sensors["dev-a/fridge-1"].name == "1号冷藏柜"
        assert [t.name for t in hub.gate.calendar.config.terms] == ["2026 秋季学期"]

        # A door in a group nobody defined: refused naming the field, the version in force stays.
        setup.write_text(yaml.safe_dump({"sensors": {"dev-a/door-1": {"name": "后门", "role": "door",
                                                                      "group": "nowhere"}}},
                                        allow_unicode=True), encoding="utf-8")
        capsys.readouterr()
        assert main(["config", "import", "--section", "setup", str(setup)]) == 2
        assert "sensors.dev-a/door-1.group" in capsys.readouterr().err
        assert [v.action for v in hub.setup.history()] == ["import"]
        exported = tmp_path / "setup-out.yaml"
        assert main(["config", "export", "--section", "setup", "-o", str(exported)]) == 0
        assert yaml.safe_load(exported.read_text(encoding="utf-8"))["sensors"]["dev-a/fridge-1"]["name"] == "1号冷藏柜"
    finally:
        hub.stop()


def test_checklists_and_cold_units_imported_while_the_hub_runs_are_in_force_without_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    hub = Hub(HubSettings(home=tmp_path, rules=HubConfig(alarm_delay_s=0)), connect_mqtt=False)
    feed = Feed(hub)
    feed.status(SENSORS)
    hub.start()
    try:
        assert hub.settings.rules.alerts.units == [] and "kitchen_close" not in hub.checks.templates()
        setup = tmp_path / "setup.yaml"
        setup.write_text(yaml.safe_dump({
            "units": [{"temperature": "dev-a/fridge-1", "door": "dev-a/door-1"}],
            "checks": {"grace_min": 30, "templates": {"kitchen_close": {
                "name": "食堂闭店检查", "cadence": "daily", "due_by": "20:00", "days": "every",
                "items": [{"key": "gas_off", "text": "燃气总阀已关闭", "key_item": True}]}}}},
            allow_unicode=True), encoding="utf-8")
        assert main(["config", "import", "--section", "setup", str(setup)]) == 0
        # The settings-reload duty finds the version the command saved: the checklists follow …
        wait_for(lambda: "kitchen_close" in hub.checks.templates(), timeout=30)
        assert set(hub.checks.templates()) == {"kitchen_close"} and hub.checks.config.grace_min == 30
        assert [d.key for d in hub.checks.due(with_prefill=False)] == ["kitchen_close"]
        # … and so do the cold units: the fridge's rise is one incident with its door.
        feed.reading("fridge-1", 12.0)
        (alert,) = [a for a in hub.state.alerts() if a.subject == "dev-a/fridge-1"]
        assert alert.incident == "unit:dev-a/fridge-1"
        assert hub.reports.source.config.alerts.units[0].door == "dev-a/door-1"
    finally:
        hub.stop()
