"""Store fixtures: the real InfluxDB server (see influx_fixtures)."""

from tests.hub.store.influx_fixtures import influx_server, influx_store

__all__ = ["influx_server", "influx_store"]
