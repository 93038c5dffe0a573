"""The README's example configs must stay valid: people copy them."""

from __future__ import annotations

import re
from pathlib import Path

from edge.configfile import load_edge_settings
from edge.yamlconfig import load_model
from hub.settings import HubConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_edge_config_is_valid(tmp_path: Path) -> None:
    (block,) = [b for b in yaml_blocks() if b.startswith("site:")]
    path = tmp_path / "edge.yaml"
    path.write_text(block, encoding="utf-8")
    settings = load_edge_settings(path)
    assert settings.device == "canteen-1"


def test_readme_hub_config_is_valid(tmp_path: Path) -> None:
    (block,) = [b for b in yaml_blocks() if b.startswith("alarm_delay_s:")]
    path = tmp_path / "hub.yaml"
    path.write_text(block, encoding="utf-8")
    config = load_model(HubConfig, path)
    assert config.profiles["freezer"].high == -18
    assert "main-gates" in config.calendar.groups
