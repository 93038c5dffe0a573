"""Everything one hub process runs, built from its settings: stores, alert engine, MQTT ingest."""

from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from edge import wire
from edge.config import BrokerSettings
from hub.alerts.buzzer import EdgeBuzzers
from hub.alerts.engine import AlertEngine
from hub.alerts.notifier import DispatchingNotifier
from hub.auth.store import AccountStore
from hub.broker_watch import BrokerDropWatch
from hub.gate.monitor import GateMonitor
from hub.ingest import IngestPipeline, MqttIngest
from hub.notify.base import Channel, Notification
from hub.notify.config import NotifyConfig, build_channels, build_dispatcher
from hub.notify.deliverylog import DeliveryLog
from hub.notify.dispatcher import DispatchWorker
from hub.notify.local import WebChannel
from hub.report.assemble import report_service, report_source
from hub.samples.monitor import SampleMonitor
from hub.scaleout import RulesLock
from hub.settings import HubSettings
from hub.store.feed import SeriesDuties
from hub.store.select import open_series
from hub.store.state import StateStore
from hub.web.broadcast import Broadcaster
from hub.web.live import LiveFeed

_LOGGER = logging.getLogger(__name__)


class Hub:
    def __init__(self, settings: HubSettings, connect_mqtt: bool = True) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        settings.db_dir.mkdir(parents=True, exist_ok=True)
        self.state = StateStore(settings.db_dir / "hub.sqlite3")
        self.accounts = AccountStore(settings.db_dir / "hub.sqlite3")
        self.series = open_series(settings, self.state)
        self.engine = AlertEngine(self.state, settings.rules, self.tz)
        # Several workers on one shared subscription share this state directory; the one holding
        # rules.lock runs the rules, timers and maintenance for all (hub.scaleout, docs/scale-out.md).
        self.rules_lock = RulesLock(settings.db_dir / "rules.lock") if settings.shared_group else None
        self.runs_rules = self.rules_lock is None or self.rules_lock.held
        if self.rules_lock is not None:
            _LOGGER.info("hub worker %s in group %s: %s", settings.mqtt_client_id, settings.shared_group,
                         "runs the rules" if self.runs_rules else "ingest only (another worker runs the rules)")
        self.pipeline = IngestPipeline(self.series, self.state, self.engine,
                                       worker=settings.mqtt_client_id if settings.shared_group else None,
                                       runs_rules=self.runs_rules)
        rules = settings.rules
        self.gate = GateMonitor(settings.db_dir / "gate.sqlite3", rules.gate, rules.calendar,
                                rules.alerts.defaults.offline_after_s, self.state, self.series, self.engine)
        self.pipeline.add_event_listener(self.gate.on_events)
        self.pipeline.add_ticker(self.gate.tick)
        # One calendar for the whole hub: the gate monitor's, which includes the overrides made through the API.
        self.samples = SampleMonitor(settings.db_dir / "samples.sqlite3", rules.samples, self.state, self.series,
                                     self.engine, self.tz, calendar=lambda: self.gate.calendar,
                                     send_command=self._publish_command)
        self.pipeline.add_event_listener(self.samples.on_events)
        self.pipeline.add_ticker(self.samples.tick)
        self._next_prune = 0.0
        self.pipeline.add_ticker(self._prune_seen)
        self.series_duties = SeriesDuties(self.series, self.state, self.engine, settings.maintenance_interval_s,
                                          settings.dashboard_sample_s)
        self.mqtt: MqttIngest | None = None
        self.broker_watch: BrokerDropWatch | None = None
        self.web_notices = WebChannel("web")
        # The kitchen buzzers follow the alerts, the silences and the nodes' heartbeats (hub.alerts.buzzer).
        self.buzzers = EdgeBuzzers(self.state, self.engine.silences, self._publish_command, self.tz,
                                   acknowledge=self.engine.act,
                                   connected=lambda: self.mqtt is not None and self.mqtt.connected.is_set())
        # The open web pages: alert changes, readings (coalesced per tick), doors and samples, pushed live.
        self.broadcaster = Broadcaster()
        self.live = LiveFeed(self.broadcaster, self.engine.limits, door_kinds=settings.rules.gate.door_kinds)
        self.engine.add_listener(self.live.on_alert)
        self.pipeline.add_reading_listener(self.live.on_readings)
        self.pipeline.add_event_listener(self.live.on_events)
        self.pipeline.add_ticker(self.live.tick)
        self.samples.add_change_listener(self.live.on_samples_changed)
        #: The built notification channels by name (the admin page's "send test message").
        self.notify_channels: dict[str, Channel] = {}
        self.notify_worker: DispatchWorker | None = None
        self.delivery_log: DeliveryLog | None = None
        if settings.notify is not None:
            self._build_notifications(settings.notify)
        # The Monday report, on-demand reports and sign-off reminders (its own thread does the building).
        source = report_source(settings, self.state, self.series, self.samples.store, self.gate.store,
                               self.samples.canteen_open)
        self.reports = report_service(settings, source, self.state, self.announce)
        self.pipeline.add_ticker(self.reports.tick)
        if connect_mqtt:
            broker = BrokerSettings(host=settings.mqtt_host, port=settings.mqtt_port,
                                    username=settings.mqtt_username, password=settings.password(),
                                    tls=settings.mqtt_tls())
            self.mqtt = MqttIngest(self.pipeline, broker, settings.mqtt_client_id, site=settings.site,
                                   batch_size=settings.ingest_batch, tick_s=settings.tick_s,
                                   heartbeat_s=settings.hub_heartbeat_s, shared_group=settings.shared_group)
            self.buzzers.attach(self.engine, self.pipeline)
            if self.runs_rules:
                # Messages the broker dropped for us are lost without a trace elsewhere: an alarm of its own.
                self.broker_watch = BrokerDropWatch(broker, f"{settings.mqtt_client_id}-sys", self.engine,
                                                    settings.db_dir / "broker-drops.json",
                                                    settings.rules.alerts.defaults.dropped_quiet_s)
                self.pipeline.add_ticker(self.broker_watch.tick)
        self.started_at = time.time()

    def _prune_seen(self, now: float) -> None:
        """Hourly: forget old message ids so the dedup table does not grow forever."""
        if now < self._next_prune:
            return
        self._next_prune = now + 3600
        pruned = self.state.prune_seen(now - self.settings.seen_retention_days * 86_400)
        if pruned:
            _LOGGER.info("forgot %d message ids older than %g days", pruned, self.settings.seen_retention_days)

    def _build_notifications(self, config: NotifyConfig) -> None:
        """Channels, routes and the dispatch worker; a failing channel becomes an alert of its own."""
        self.delivery_log = DeliveryLog(self.settings.db_dir / "notify.sqlite3")
        channels = build_channels(config, publish_command=self.buzzers.route_command, web=self.web_notices)
        self.notify_channels = channels
        dispatcher = build_dispatcher(config, channels, self.delivery_log,
                                      on_channel_failure=self.engine.on_channel_failure,
                                      on_channel_recovered=self.engine.on_channel_ok)
        self.notify_worker = DispatchWorker(dispatcher)
        self.engine.notifier = DispatchingNotifier(self.notify_worker, config, self.engine.name)

    def announce(self, notification: Notification) -> None:
        """A message that is not an alarm (a new report, a sign-off reminder) on its route, or on the page."""
        if self.notify_worker is not None and notification.tier in self.notify_worker.dispatcher.tiers:
            self.notify_worker.submit(notification)
            return
        if self.notify_worker is not None:
            _LOGGER.warning("no notification route %r: %s shown on the web page only", notification.tier,
                            notification.title)
        self.web_notices.send(notification)

    def _publish_command(self, device: str, command: wire.Command) -> None:
        site = self.state.site_of(device)
        if self.mqtt is None or site is None:
            raise ConnectionError(f"no broker connection or unknown device {device!r}")
        self.mqtt.send_command(site, device, command)

    def start(self) -> None:
        if self.notify_worker is not None:
            self.notify_worker.start()
        if self.runs_rules:
            self.series_duties.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.broker_watch is not None:
            self.broker_watch.start()

    def stop(self) -> None:
        if self.broker_watch is not None:
            self.broker_watch.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        self.series_duties.stop()
        if self.notify_worker is not None:
            self.notify_worker.stop()
        if self.delivery_log is not None:
            self.delivery_log.close()
        self.reports.close()
        self.samples.close()
        self.gate.close()
        self.series.close()
        self.accounts.close()
        self.state.close()
        if self.rules_lock is not None:
            self.rules_lock.release()
