"""Everything one hub process runs, built from its settings: stores, alert engine, MQTT ingest."""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from edge import wire
from edge.config import BrokerSettings
from hub.alerts.engine import AlertEngine
from hub.ingest import IngestPipeline, MqttIngest
from hub.settings import HubSettings
from hub.store.sqlite_series import SqliteSeriesStore
from hub.store.state import Alert, StateStore

_LOGGER = logging.getLogger(__name__)


class Hub:
    def __init__(self, settings: HubSettings, connect_mqtt: bool = True) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        settings.db_dir.mkdir(parents=True, exist_ok=True)
        self.state = StateStore(settings.db_dir / "hub.sqlite3")
        self.series = SqliteSeriesStore(settings.db_dir / "readings.sqlite3")
        self.engine = AlertEngine(self.state, settings.rules, self.tz)
        self.pipeline = IngestPipeline(self.series, self.state, self.engine)
        self.mqtt: MqttIngest | None = None
        if connect_mqtt:
            broker = BrokerSettings(host=settings.mqtt_host, port=settings.mqtt_port,
                                    username=settings.mqtt_username, password=settings.password())
            self.mqtt = MqttIngest(self.pipeline, broker, settings.mqtt_client_id, site=settings.site,
                                   batch_size=settings.ingest_batch, tick_s=settings.tick_s,
                                   heartbeat_s=settings.hub_heartbeat_s, shared_group=settings.shared_group)
            self.engine.add_listener(self._sound_edge_buzzer)
        self.started_at = time.time()

    def _sound_edge_buzzer(self, alert: Alert) -> None:
        """Firing cold-chain alarms sound the buzzer on the device whose sensor it is."""
        if self.mqtt is None or "/" not in alert.subject:
            return
        device = alert.subject.split("/", 1)[0]
        site = next((d["site"] for d in self.state.devices() if d["device"] == device), None)
        if site is None:
            return
        if alert.state == "firing":
            command = wire.Command(action="alarm_on", ts=time.time(), reason=alert.message)
        elif alert.state in ("resolved", "cancelled"):
            command = wire.Command(action="alarm_off", ts=time.time(), reason=alert.message)
        else:
            return
        self.mqtt.send_command(site, device, command)

    def start(self) -> None:
        if self.mqtt is not None:
            self.mqtt.start()

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        self.series.close()
        self.state.close()
