from __future__ import annotations

from pathlib import Path

import pytest

from edge.configfile import load_edge_settings
from edge.yamlconfig import ConfigError

GOOD = """\
site: school-1
device: canteen-1
broker:
  username: canteen-1
  password: secret
sources:
  - kind: simulated_temperature
    sensor: fridge-1
    profile: fridge
    interval_s: 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "device.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    settings = load_edge_settings(write(tmp_path, GOOD))
    assert settings.device == "canteen-1"
    assert settings.sources[0].options()["interval_s"] == 5


def test_source_option_error_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("interval_s: 5", "interval_s: fast"))
    with pytest.raises(ConfigError) as caught:
        load_edge_settings(path)
    assert f"{path}:10: sources.0.interval_s" in str(caught.value)


def test_misspelt_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  password: secret", "  passwrd: secret"))
    with pytest.raises(ConfigError) as caught:
        load_edge_settings(path)
    assert f"{path}:5: broker.passwrd: Extra inputs are not permitted" in str(caught.value)


def test_missing_password_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  password: secret\n", ""))
    with pytest.raises(ConfigError, match=r"device.yaml:3: broker: .*anonymous access is refused"):
        load_edge_settings(path)


def test_unknown_source_kind_lists_known_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("simulated_temperature", "thermometer"))
    with pytest.raises(ConfigError, match=r"device.yaml:7: sources.0.kind: unknown source kind 'thermometer'"):
        load_edge_settings(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  - kind: [unclosed\n")
    with pytest.raises(ConfigError, match=r"device.yaml:1[12]: not valid YAML"):
        load_edge_settings(path)


def test_duplicate_sensor_ids_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  - kind: simulated_temperature\n    sensor: fridge-1\n")
    with pytest.raises(ConfigError, match="duplicate sensor id 'fridge-1'"):
        load_edge_settings(path)
