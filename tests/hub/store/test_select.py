"""Which series store the settings name, and what a missing setting says."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError
from hub.settings import HubSettings, load_settings
from hub.store.pg_series import PostgresSeriesStore
from hub.store.select import open_series
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import StateStore


def test_postgresql_without_a_database_is_refused_naming_the_setting(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    monkeypatch.setenv("XIAOAN_STORE", "postgresql")
    monkeypatch.delenv("XIAOAN_POSTGRES_DSN", raising=False)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "XIAOAN_POSTGRES_DSN" in str(refused.value)
    assert "required when XIAOAN_STORE=postgresql" in str(refused.value)


@pytest.mark.postgres
def test_the_setting_chooses_the_store_and_its_retention(tmp_path: Path, postgres_database: str) -> None:
    state = StateStore(tmp_path / "hub.sqlite3")
    try:
        for settings, kind in ((HubSettings(home=tmp_path), SqliteSeriesStore),
                               (HubSettings(home=tmp_path, store="postgresql", postgres_dsn=postgres_database,
                                            raw_retention_days=30, hourly_retention_days=None), PostgresSeriesStore)):
            store = open_series(settings, state)
            try:
                assert isinstance(store, kind)
                if isinstance(store, PostgresSeriesStore):
                    assert (store.raw_retention_s, store.hourly_retention_s) == (30 * 86_400.0, None)
            finally:
                store.close()
    finally:
        state.close()
