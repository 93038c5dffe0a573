"""Build the series store the settings name: the one place that knows both backends."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.yamlconfig import ConfigError
from hub.settings import HubSettings
from hub.store.base import SeriesStore
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import StateStore

if TYPE_CHECKING:
    from hub.store.influx_series import InfluxSeriesStore

_DAY_S = 86_400.0


def _seconds(days: float | None) -> float | None:
    return None if days is None else days * _DAY_S


class DeviceSites:
    """device → site from the state store, cached: the InfluxDB store tags every point with its site.

    A device unknown to the cache triggers one re-read (its status usually arrives
    in the same batch as its first telemetry), at most once per ``refresh_s``.
    """

    def __init__(self, state: StateStore, refresh_s: float = 5.0) -> None:
        self._state = state
        self._refresh_s = refresh_s
        self._sites: dict[str, str] = {}
        self._loaded = -float("inf")
        self._lock = threading.Lock()

    def __call__(self, device: str) -> str | None:
        with self._lock:
            site = self._sites.get(device)
            if site is None and time.monotonic() - self._loaded >= self._refresh_s:
                site = self._state.site_of(device)
                self._loaded = time.monotonic()
                if site is not None:
                    self._sites[device] = site
            return site


def open_series(settings: HubSettings, state: StateStore) -> SeriesStore:
    """The configured store, ready to write."""
    if settings.store == "sqlite":
        return SqliteSeriesStore(settings.db_dir / "readings.sqlite3", _seconds(settings.raw_retention_days),
                                 _seconds(settings.hourly_retention_days))
    if settings.store == "postgresql":
        return open_postgres(settings)
    return open_influx(settings, state)


def open_postgres(settings: HubSettings) -> SeriesStore:
    """The PostgreSQL store, its tables brought to this release's schema; a missing library is a settings error."""
    assert settings.postgres_dsn is not None  # the settings require it with store=postgresql
    try:
        from hub.store.pg_series import PostgresSeriesStore  # noqa: PLC0415 — optional extra
    except ImportError as error:
        raise ConfigError(Path("<environment>"), [
            f"XIAOAN_STORE: 'postgresql' needs the postgres extra (pip install 'xiaoan[postgres]'): {error}"]) from None
    return PostgresSeriesStore(settings.postgres_dsn, _seconds(settings.raw_retention_days),
                               _seconds(settings.hourly_retention_days))


def open_influx(settings: HubSettings, state: StateStore, site_refresh_s: float = 5.0) -> InfluxSeriesStore:
    """The InfluxDB store the settings describe, set up when they ask; a missing library is a settings error.

    ``site_refresh_s``: see ``DeviceSites``; ``xiaoan store copy`` asks for every device at once and
    passes 0, so no device's points go out without the ``site`` tag the hub gives them (a point with
    other tags is another point: the copy would double what the hub wrote after the switch).
    """
    try:
        from hub.store.influx_http import InfluxHttp  # noqa: PLC0415 — optional extra
        from hub.store.influx_series import InfluxSeriesStore  # noqa: PLC0415
    except ImportError as error:
        raise ConfigError(Path("<environment>"), [
            f"XIAOAN_STORE: 'influxdb' needs the influx extra (pip install 'xiaoan[influx]'): {error}"]) from None
    http = InfluxHttp(settings.influx_url, settings.influx_database, settings.influx_username,
                      settings.influx_password, settings.influx_token, timeout_s=settings.influx_timeout_s)
    store = InfluxSeriesStore(http, settings.influx_retention_policy, settings.influx_hourly_retention_policy or None,
                              site_of=DeviceSites(state, site_refresh_s))
    if settings.influx_setup:
        store.setup(_seconds(settings.raw_retention_days), _seconds(settings.hourly_retention_days))
    return store
