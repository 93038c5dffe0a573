"""Notification config at start: a route an escalation policy needs must exist.

The alarm path under fault (a channel down, the fallback delivering) is tested in
tests/faults/test_alarm_path.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError
from hub.settings import load_settings


def test_a_policy_route_missing_from_the_notify_config_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("channels:\n  web: {type: web}\nroutes:\n  canteen:\n    always: [web]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no route for 'canteen_manager'"):
        load_settings(home=tmp_path, notify_config=path)
