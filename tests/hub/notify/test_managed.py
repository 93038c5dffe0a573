"""The notification settings in the database: seeded once from the YAML, exported and imported as YAML."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import yaml

from hub.cli import main
from hub.notify.config import AppriseChannelConfig
from hub.runtime import Hub
from hub.settings import HubSettings, load_settings

EXAMPLE = Path(__file__).parents[3] / "firmware-config" / "hub" / "notify.example.yaml"
KEY = "00000000-1111-2222-3333-444444444444"


def _hub(home: Path, notify_yaml: Path) -> Hub:
    return Hub(load_settings(home=home, notify_config=notify_yaml), connect_mqtt=False)


def test_the_yaml_at_start_seeds_an_empty_database_only(tmp_path: Path) -> None:
    hub = _hub(tmp_path, EXAMPLE)
    try:
        latest = hub.notify_settings.latest()
        assert latest is not None and latest.action == "seed" and latest.actor == f"seed:{EXAMPLE}"
        assert hub.notifications.config is not None and "wecom_kitchen" in hub.notifications.channels
    finally:
        hub.stop()
    other = tmp_path / "other.yaml"
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    del data["channels"]["feishu_safety"]
    data["routes"]["safety_officer"]["fallback"] = ["mail_safety"]
    other.write_text(yaml.safe_dump(data), encoding="utf-8")
    hub = _hub(tmp_path, other)
    try:
        assert hub.notify_settings.latest() == latest
        assert hub.notifications.config is not None and "feishu_safety" in hub.notifications.config.channels
    finally:
        hub.stop()


def test_export_masks_secrets_and_the_round_trip_keeps_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str],
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    _hub(tmp_path, EXAMPLE).stop()
    masked, full = tmp_path / "masked.yaml", tmp_path / "full.yaml"
    assert main(["config", "export", "-o", str(masked)]) == 0
    assert main(["config", "export", "--with-secrets", "-o", str(full)]) == 0
    assert stat.S_IMODE(os.stat(full).st_mode) == 0o600
    text = masked.read_text(encoding="utf-8")
    assert KEY not in text and "PASSWORD" not in text and "wecombot://…4444" in text
    assert KEY in full.read_text(encoding="utf-8")
    # The masked export goes back in: each masked URL stands for the one this hub holds.
    assert main(["config", "import", str(masked)]) == 0
    # A changed file with secrets in full goes in as the next version, every secret intact.
    data = yaml.safe_load(full.read_text(encoding="utf-8"))
    data["channels"]["wecom_kitchen"]["label"] = "厨房群"
    full.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["config", "import", str(full)]) == 0
    hub = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    try:
        config = hub.notifications.config
        assert config is not None
        wecom = config.channels["wecom_kitchen"]
        assert isinstance(wecom, AppriseChannelConfig) and wecom.urls == [f"wecombot://{KEY}"]
        assert wecom.label == "厨房群"
        assert [v.action for v in hub.notify_settings.history()] == ["import", "import", "seed"]
        assert hub.notify_settings.history()[0].changes == ("channels.wecom_kitchen",)
    finally:
        hub.stop()
    assert KEY not in capsys.readouterr().out + caplog.text


def test_an_import_with_a_mistake_changes_nothing_and_names_the_field(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    _hub(tmp_path, EXAMPLE).stop()
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["channels"]["sms_kitchen"]["numbers"] = ["13800138000"]
    data["routes"]["canteen"]["fallback"] = ["wecom_kitchen", "nobody"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert main(["config", "import", str(bad)]) == 2
    assert "channels.sms_kitchen.numbers" in capsys.readouterr().err
    del data["channels"]["sms_kitchen"]["numbers"]
    data["channels"]["sms_kitchen"]["numbers"] = ["+8613800138000"]
    data["channels"]["wecom_kitchen"]["urls"] = ["wecombot://…zzzz"]
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["config", "import", str(bad)]) == 2
    assert "channels.wecom_kitchen.urls.0" in capsys.readouterr().err
    hub = Hub(HubSettings(home=tmp_path), connect_mqtt=False)
    try:
        assert [v.action for v in hub.notify_settings.history()] == ["seed"]
    finally:
        hub.stop()
