"""Dashboard fixtures: the same private InfluxDB server the store tests use."""

from tests.hub.store.influx_fixtures import influx_server, influx_store

__all__ = ["influx_server", "influx_store"]
