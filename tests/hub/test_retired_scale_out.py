"""The same-machine scale-out is retired (docs/scale-out.md): a hub that still asks for it is refused, not obeyed.

Ignoring ``XIAOAN_SHARED_GROUP`` would be worse than refusing it: an installation that
starts two hub processes on one state directory would get two hubs both running the
school's rules, timers and notifications, every alarm raised and sent twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError
from hub.cli import main
from hub.settings import HubSettings, load_settings


def test_a_shared_group_is_refused_with_the_reason_and_the_way_out(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    monkeypatch.setenv("XIAOAN_SHARED_GROUP", "hub")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "XIAOAN_SHARED_GROUP" in message and "shared_group: the same-machine scale-out is retired" in message
    assert "one hub serves one school" in message and "district service" in message
    assert "docs/scale-out.md" in message and "unset XIAOAN_SHARED_GROUP" in message


def test_unset_or_empty_is_the_one_hub_of_its_school(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XIAOAN_SHARED_GROUP", raising=False)
    assert HubSettings().shared_group is None
    monkeypatch.setenv("XIAOAN_SHARED_GROUP", "")  # ``XIAOAN_SHARED_GROUP=`` in an environment file: nothing asked
    assert HubSettings().shared_group is None


def test_xiaoan_hub_with_a_shared_group_stops_before_opening_anything(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    monkeypatch.setenv("XIAOAN_SHARED_GROUP", "hub")
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        assert main(["hub"]) == 2
    finally:
        os.umask(umask)  # ``xiaoan hub`` narrows this process's umask before it reads its settings
    err = capsys.readouterr().err
    assert err.startswith("xiaoan: ") and "scale-out is retired" in err and "Traceback" not in err
    assert not (tmp_path / "hub").exists()  # no store opened, no rules lock, no second hub on the directory
