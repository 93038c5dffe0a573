"""Everything one hub process runs, built from its settings: stores, alert engine, MQTT ingest, duties.

The periodic duties are all registered in one place (``Hub._register_duties``) on the
hub's scheduler, which runs each on a thread of its own: the MQTT writer only ingests.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from zoneinfo import ZoneInfo

from edge import wire
from edge.config import BrokerSettings
from hub.alerts.buzzer import EdgeBuzzers
from hub.alerts.engine import AlertEngine, AlertNotifier, LoggingNotifier
from hub.alerts.smsreplies import SmsReplies
from hub.auth.links import AlarmLinks
from hub.auth.smscodes import SmsCodes
from hub.auth.store import AccountStore
from hub.backup import BACKUP_CHECK_S, NightlyBackup, backup_sources
from hub.broker_watch import BrokerDropWatch
from hub.calibration import certificates
from hub.calibration.service import CalibrationService
from hub.checks.service import ChecksService
from hub.closed import SignedPeriods
from hub.dynsec import Dynsec, DynsecSettings
from hub.enrolment import DeviceEnrolment, DeviceState, EnrolmentStore
from hub.forward.component import DistrictForward
from hub.gate.monitor import GateMonitor
from hub.gate.store import Sweep
from hub.health import ALERT_TIMERS, Vitals
from hub.ingest import DeviceQuotas, IngestPipeline, MqttIngest
from hub.notify.component import Notifications
from hub.notify.managed import NotifySettings
from hub.report.assemble import report_service, report_source, report_store
from hub.report.service import CHECK_EVERY_S
from hub.report.signed import SignedReports
from hub.samples.monitor import SampleMonitor
from hub.scheduler import Duty, Scheduler
from hub.settings import HubConfig, HubSettings
from hub.setup.directory import ConfiguredDirectory
from hub.setup.service import SchoolSetup
from hub.sites import SiteGuard, served_site
from hub.store.select import open_series
from hub.store.settings import POLL_S, SettingsStore
from hub.store.state import StateStore
from hub.store.upkeep import MARKS_INTERVAL_S, SeriesUpkeep
from hub.store_outage import StoreAlarm
from hub.visitors.service import VisitorBook
from hub.web.broadcast import Broadcaster
from hub.web.live import LiveFeed

_LOGGER = logging.getLogger(__name__)
#: How often message ids older than the retention are forgotten.
PRUNE_SEEN_S = 3600.0
#: How often overdue checklists and work orders are looked for (their deadlines are in minutes, not seconds).
CHECKS_TICK_S = 60.0
#: How often probes' calibration due dates are looked at (they are days, not seconds).
CALIBRATION_TICK_S = 600.0
#: How often the SMS modems' inboxes are read for replies that acknowledge an alarm.
SMS_REPLIES_S = 15.0
#: How often visitor records past their retention are deleted.
VISITOR_RETENTION_S = 3600.0


def _dynsec(settings: HubSettings) -> Dynsec | None:
    """The broker's dynamic security administrator, when this hub was given its password."""
    password = settings.admin_password()
    if password is None:
        return None
    tls = settings.mqtt_tls()
    return Dynsec(DynsecSettings(settings.mqtt_host, settings.mqtt_device_port, settings.mqtt_admin_username,
                                 password, tls=tls))


def notify_settings(settings: HubSettings) -> NotifySettings:
    """The channels and routes in the database; the YAML given at start fills an empty database, and only that."""
    required = {tier.route for policy in settings.rules.alerts.policies.values() for tier in policy.tiers}
    found = NotifySettings(SettingsStore(settings.db_dir / "settings.sqlite3"), required)
    if settings.notify is not None:
        source = str(settings.notify_config) if settings.notify_config is not None else "settings"
        if found.seed(settings.notify, source):
            _LOGGER.info("notification channels and routes taken from %s into the database", source)
        else:
            latest = found.latest()
            _LOGGER.info("%s not read: the database holds the notification settings (version %s); change them on"
                         " the admin page, or with `xiaoan config import`", source, latest.id if latest else "?")
    return found


def _served_site(settings: HubSettings, state: StateStore, enrolled: EnrolmentStore) -> str | None:
    """The one school this hub serves (hub.sites): set, or its devices' site; SiteConflict for two."""
    known = [str(device["site"]) for device in state.devices()]
    known += [device.site for device in enrolled.all() if device.state is not DeviceState.REVOKED]
    return served_site(settings.site, known)


def check_site(settings: HubSettings) -> None:
    """``xiaoan hub`` before it starts: a hub holding two schools stops with its message, not in the app's start-up."""
    settings.db_dir.mkdir(parents=True, exist_ok=True)
    state = StateStore(settings.db_dir / "hub.sqlite3")
    enrolled = EnrolmentStore(settings.db_dir / "devices.sqlite3")
    try:
        _served_site(settings, state, enrolled)
    finally:
        enrolled.close()
        state.close()


def _enrolment(settings: HubSettings, state: StateStore) -> DeviceEnrolment:
    """The admin page's devices, and the one school this hub serves."""
    enrolled = EnrolmentStore(settings.db_dir / "devices.sqlite3")
    sites = SiteGuard(_served_site(settings, state, enrolled))
    return DeviceEnrolment(enrolled, state, _dynsec(settings), sites=sites)


class Hub:
    def __init__(self, settings: HubSettings, connect_mqtt: bool = True) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        settings.db_dir.mkdir(parents=True, exist_ok=True)
        self.state = StateStore(settings.db_dir / "hub.sqlite3")
        self.state.dead_letters_per_device = settings.dead_letters_per_device
        self.accounts = AccountStore(settings.db_dir / "hub.sqlite3")
        self.enrolment = _enrolment(settings, self.state)
        self.sites = self.enrolment.sites
        self.series = open_series(settings, self.state)
        settings = self.settings = self._school_setup(settings)
        # The sign-offs first: a signed period's records are closed to the engine, the gate and the samples.
        reports_store = report_store(settings)
        signed = SignedReports(reports_store, self.tz)
        self.engine = AlertEngine(self.state, settings.rules, self.tz, signed=signed)
        # One process per school runs the ingest, the rules and every duty (docs/scale-out.md).
        self.pipeline = IngestPipeline(self.series, self.state, self.engine, sites=self.sites,
                                       quotas=DeviceQuotas(settings.device_rate_per_s, settings.device_burst,
                                                           settings.dead_letter_alarm_count,
                                                           settings.dead_letter_alarm_window_s))
        rules = settings.rules
        self.gate = GateMonitor(settings.db_dir / "gate.sqlite3", rules.gate, rules.calendar,
                                rules.alerts.defaults.offline_after_s, self.state, self.series, self.engine,
                                signed=signed, held_open_kinds=rules.alerts.defaults.door_open_max_s)
        self.pipeline.add_event_listener(self.gate.on_events)
        # One calendar for the whole hub: the gate monitor's, which includes the overrides made through the API.
        self.samples = SampleMonitor(settings.db_dir / "samples.sqlite3", rules.samples, self.state, self.series,
                                     self.engine, self.tz, calendar=lambda: self.gate.calendar,
                                     send_command=self._publish_command, signed=signed)
        self.pipeline.add_event_listener(self.samples.on_events)
        self.checks = self._checks(signed)
        self.district = self._district()
        self.series_upkeep = self._series_upkeep()
        self.mqtt: MqttIngest | None = None
        self.broker_watch: BrokerDropWatch | None = None
        self.broadcaster = Broadcaster()
        self.live = self._live_feed()
        # The kitchen buzzers follow the alerts, the silences and the nodes' heartbeats (hub.alerts.buzzer).
        self.buzzers = EdgeBuzzers(self.state, self.engine.silences, self._publish_command, self.tz,
                                   acknowledge=self.engine.act,
                                   connected=lambda: self.mqtt is not None and self.mqtt.connected.is_set())
        # Channels and routes live in the database (edited on the admin page); the YAML seeds an empty one.
        self.notify_settings = notify_settings(settings)
        self.notifications = Notifications(self.notify_settings.config(), settings.db_dir / "notify.sqlite3",
                                           publish_command=self.buzzers.route_command,
                                           on_channel_failure=self.engine.on_channel_failure,
                                           on_channel_ok=self.engine.on_channel_ok, name_of=self.engine.name,
                                           steps_of=self.engine.playbook_texts, on_notifier=self._set_notifier,
                                           links=self.links, mint_code=self.sms_codes.mint,
                                           calendar=lambda: self.gate.calendar)
        self.notify_settings.on_change = self.notifications.reload
        if self.notifications.notifier is not None:
            self.engine.notifier = self.notifications.notifier
        self.calibration = self._calibration()
        self.visitors = self._visitors(signed)
        # The Monday report, on-demand reports and sign-off reminders (its own thread does the building).
        source = report_source(settings, self.state, self.series, self.samples.store, self.gate.store,
                               self.samples.canteen_open, self.checks.store,
                               self._school_day, self.calibration.store, self.visitors.store)
        self.reports = report_service(settings, source, self.state, self.notifications.announce, reports_store)
        if connect_mqtt:
            self._connect()
        # A disk that refuses writes: an alarm from memory, recorded when the disk writes again.
        self.store_alarm = StoreAlarm(self.pipeline.outage, settings.rules.alerts, lambda: self.engine.notifier.deliver,
                                      self.engine.record_resolved, self.engine.locale)
        self.backup = self._nightly_backup()
        self.scheduler = Scheduler()
        self._register_duties()
        self.started_at = time.time()
        mqtt = self.mqtt
        backup = self.backup
        self.vitals = Vitals(self.pipeline.counters, self.scheduler, self.notifications, self.state, self.started_at,
                             lambda: mqtt.connected.is_set() if mqtt is not None else None,
                             self.pipeline.outage, lambda: backup.status() if backup is not None else None,
                             self.gate.coverage)

    def _district(self) -> DistrictForward | None:
        """The district link (hub.forward) where the settings enable it: new records and alarm changes to its outbox."""
        link = self.settings.district
        if not link.enabled:
            return None
        found = DistrictForward(link, self.settings.db_dir, alarms=self.engine, logs=self.state, series=self.series)
        self.pipeline.add_durable_listener(found.on_stored)
        return found

    def _live_feed(self) -> LiveFeed:
        """The open web pages: alert changes, readings (coalesced per tick), doors and samples, pushed live."""
        live = LiveFeed(self.broadcaster, self.engine.limits, door_kinds=self.settings.rules.gate.door_kinds)
        self.engine.add_listener(live.on_alert)
        self.pipeline.add_reading_listener(live.on_readings)
        self.pipeline.add_event_listener(live.on_events)
        self.samples.add_change_listener(live.on_samples_changed)
        return live

    def _school_setup(self, settings: HubSettings) -> HubSettings:
        """The admin page's setup (sensors named and assigned, terms, holidays, door groups) over the YAML."""
        self.settings_store = SettingsStore(settings.db_dir / "settings.sqlite3")
        self.setup = SchoolSetup(self.settings_store, settings.rules, self.state, self.state,
                                 on_change=self.apply_rules)
        return settings.model_copy(update={"rules": self.setup.effective()})

    def _series_upkeep(self) -> SeriesUpkeep:
        """Retention and the dashboards' samples of the series (which follow the alerts where it keeps them)."""
        upkeep = SeriesUpkeep(self.series, self.state, self.engine.limits)
        if upkeep.takes_samples:
            self.engine.add_listener(upkeep.on_alert)
        return upkeep

    def _school_day(self, day: dt.date) -> bool:
        """A school day by the hub's one calendar (the gate's object, replaced when an override is made)."""
        return self.gate.calendar.is_school_day(day)

    def _sweeps(self, since: float, until: float) -> list[Sweep]:
        """The gate duty's closing sweeps in ``[since, until)`` (what a checklist's gate item is answered from)."""
        return self.gate.store.sweeps(since=since, until=until, limit=1000)

    def _checks(self, signed: SignedPeriods) -> ChecksService:
        """Checklists and work orders: due on the hub's one calendar, prefilled from the series and the samples."""
        settings = self.settings
        # Sensors by the names and profiles in force: a probe the admin made a freezer is checked as one.
        directory = ConfiguredDirectory(self.state, lambda: self.settings.rules)
        return ChecksService(settings.db_dir / "checks.sqlite3", settings.rules.checks, self.state, directory,
                             self.engine, self.series, self.samples.store, settings.rules.samples, self.tz,
                             school_day=self._school_day, canteen_open=self.samples.canteen_open,
                             limits=self.engine.limits, sweeps=self._sweeps, signed=signed)

    def _calibration(self) -> CalibrationService:
        """Probe calibration: checks on record, offsets sent to the nodes, followed in their status."""
        settings = self.settings
        found = CalibrationService(settings.rules.calibration, settings.db_dir / "calibration.sqlite3", self.state,
                                   self.state, self.engine, self.series, self._publish_command,
                                   self.notifications.announce, self.tz, certificates.directory(settings.db_dir))
        self.pipeline.add_status_listener(found.on_status)
        return found

    def _visitors(self, signed: SignedPeriods) -> VisitorBook:
        """The gate register: the gate's hours from the hub's one calendar, its after-hours openings from the duty."""
        settings = self.settings
        return VisitorBook(settings.db_dir / "visitors.sqlite3", settings.rules.visitors, self.state, self.engine,
                           self.accounts, self.tz, lambda: self.gate.calendar, self.gate,
                           self.notifications.announce, settings.rules.alerts.public_url, signed=signed)

    def _connect(self) -> None:
        """The broker link: ingest, the buzzers' follow-up and the drop watch."""
        settings = self.settings
        broker = BrokerSettings(host=settings.mqtt_host, port=settings.mqtt_port,
                                username=settings.mqtt_username, password=settings.password(),
                                tls=settings.mqtt_tls())
        self.mqtt = MqttIngest(self.pipeline, broker, settings.mqtt_client_id, site=settings.site,
                               batch_size=settings.ingest_batch, lanes=settings.ingest_lanes,
                               backfill_batch=settings.ingest_backfill_batch)
        self.buzzers.attach(self.engine, self.pipeline)
        # Messages the broker dropped for us are lost without a trace elsewhere: an alarm of its own.
        self.broker_watch = BrokerDropWatch(broker, f"{settings.mqtt_client_id}-sys", self.engine,
                                            settings.db_dir / "broker-drops.json",
                                            settings.rules.alerts.defaults.dropped_quiet_s)

    def _nightly_backup(self) -> NightlyBackup | None:
        """The nightly backup to a USB stick (or another disk): only where a directory is set."""
        settings = self.settings
        if settings.backup_dir is None:
            return None
        return NightlyBackup(backup_sources(settings, settings.backup_broker_dir), settings.backup_dir,
                             settings.backup_keep, settings.backup_at, self.tz, self.engine)

    def _register_duties(self) -> None:
        """Every periodic duty of the hub, with its interval; the scheduler gives each a thread.

        All of them, always: the hub is the one process of its school (docs/scale-out.md).
        """
        settings, add = self.settings, self.scheduler.add
        if self.mqtt is not None:
            add(Duty("hub-heartbeat", settings.hub_heartbeat_s, self.mqtt.heartbeat))
        # The settings saved by another process (the CLI) are followed.
        add(Duty("settings-reload", POLL_S, self._reload_settings, first_after_s=POLL_S))
        tick_s = settings.tick_s
        add(Duty(ALERT_TIMERS, tick_s, self.engine.tick))
        add(Duty("store-alarm", tick_s, self.store_alarm.tick))
        add(Duty("gate", tick_s, self.gate.tick))
        add(Duty("samples", tick_s, self.samples.tick))
        add(Duty("checks", CHECKS_TICK_S, self.checks.tick, first_after_s=min(10.0, CHECKS_TICK_S)))
        add(Duty("visitors", tick_s, self.visitors.run_duty))
        add(Duty("visitor-retention", VISITOR_RETENTION_S, self.visitors.prune,
                 first_after_s=min(60.0, VISITOR_RETENTION_S)))
        add(Duty("live-page", tick_s, self.live.tick))
        if self.mqtt is not None:
            add(Duty("edge-buzzers", tick_s, self.buzzers.tick))
        if self.broker_watch is not None:
            add(Duty("broker-watch", tick_s, self.broker_watch.tick))
        add(Duty("reports", CHECK_EVERY_S, self.reports.run_due))
        if self.district is not None:
            add(Duty("district-forward", self.settings.district.tick_s, self.district.tick))
        add(Duty("calibration", CALIBRATION_TICK_S, self.calibration.tick, first_after_s=30.0))
        if self.backup is not None:
            # Checked every few minutes; it backs up once a day after backup_at (and retries hourly on failure).
            add(Duty("backup", BACKUP_CHECK_S, self.backup.tick, first_after_s=min(60.0, BACKUP_CHECK_S)))
        add(Duty("prune-seen", PRUNE_SEEN_S, self._prune_seen))
        add(Duty("prune-dead-letters", PRUNE_SEEN_S, self._prune_dead_letters))
        add(Duty("prune-alarm-links", PRUNE_SEEN_S, self._prune_links))
        add(Duty("sms-replies", SMS_REPLIES_S, self._read_sms_replies))
        add(Duty("dead-letter-alarms", min(60.0, settings.dead_letter_alarm_window_s), self.pipeline.dead_letter_tick))
        upkeep = self.series_upkeep
        # The first retention run waits a while: a hub that restarts often still gets it, and a
        # starting hub first catches up with what the broker kept for it.
        if upkeep.needs_retention:
            add(Duty("series-retention", settings.maintenance_interval_s, upkeep.maintain,
                     first_after_s=min(300.0, settings.maintenance_interval_s)))
        if upkeep.takes_samples:
            add(Duty("dashboard-samples", settings.dashboard_sample_s, upkeep.sample,
                     first_after_s=min(10.0, settings.dashboard_sample_s)))
            add(Duty("alert-marks", min(MARKS_INTERVAL_S, settings.dashboard_sample_s), upkeep.flush_marks,
                     first_after_s=min(MARKS_INTERVAL_S, settings.dashboard_sample_s)))

    def apply_rules(self, config: HubConfig) -> None:
        """Settings changed while running (the admin page's setup, an import): the engine (cold units too), gate
        duty and patrols, samples, checklists and pages follow."""
        self.settings = self.settings.model_copy(update={"rules": config})
        self.engine.reconfigure(config)
        self.gate.reconfigure(config.calendar, config.gate)
        self.samples.config = config.samples
        self.checks.reconfigure(config.checks, config.samples)
        self.reports.source.config = config  # names, profiles and limits in the reports built from now on
        self.live.on_limits_changed("*")

    def _reload_settings(self, _now: float) -> None:
        """A version of the setup or of the channels saved by another process: in force now."""
        self.setup.poll()
        self.notify_settings.poll()

    def _prune_seen(self, now: float) -> None:
        """Hourly: forget old message ids so the dedup table does not grow forever."""
        pruned = self.state.prune_seen(now - self.settings.seen_retention_days * 86_400)
        if pruned:
            _LOGGER.info("forgot %d message ids older than %g days", pruned, self.settings.seen_retention_days)

    @functools.cached_property
    def links(self) -> AlarmLinks:
        """One-tap links in alarm messages and the alarm-scoped sessions they open (hub.auth.links)."""
        return AlarmLinks(self.accounts)

    @functools.cached_property
    def sms_codes(self) -> SmsCodes:
        """The reply codes alarm SMS offer (hub.auth.smscodes)."""
        return SmsCodes(self.accounts)

    @functools.cached_property
    def sms_replies(self) -> SmsReplies:
        """Acknowledgements by SMS reply, read from the modems of the SMS channels (hub.alerts.smsreplies)."""
        return SmsReplies(self.sms_codes, self.accounts, self.engine, self.state)

    def _read_sms_replies(self, _now: float) -> None:
        for modem in self.notifications.modems():
            self.sms_replies.poll(modem)

    def _prune_links(self, _now: float) -> None:
        pruned = self.links.prune() + self.sms_codes.prune()
        if pruned:
            _LOGGER.info("forgot %d expired one-tap link(s) and link session(s)", pruned)

    def _prune_dead_letters(self, now: float) -> None:
        """Hourly: dead letters are kept for a person to look at, not for ever (counted when deleted)."""
        days = self.settings.dead_letter_retention_days
        pruned = self.state.prune_dead_letters(now - days * 86_400, now)
        if pruned:
            _LOGGER.info("deleted %d dead letters older than %g days", pruned, days)

    def _set_notifier(self, notifier: AlertNotifier | None) -> None:
        self.engine.notifier = notifier if notifier is not None else LoggingNotifier()

    def _publish_command(self, device: str, command: wire.Command) -> None:
        site = self.state.site_of(device)
        if self.mqtt is None or site is None:
            raise ConnectionError(f"no broker connection or unknown device {device!r}")
        self.mqtt.send_command(site, device, command)

    def start(self) -> None:
        self.notifications.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.broker_watch is not None:
            self.broker_watch.start()
        self.scheduler.start()

    def stop(self) -> None:
        # The duties first: they use the broker connection and every store closed below.
        self.scheduler.stop(timeout=30)
        if self.broker_watch is not None:
            self.broker_watch.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        self.store_alarm.record_ended()  # an outage over since the duty's last tick
        self.notifications.stop()
        self.reports.close()
        self.checks.close()
        if self.district is not None:
            self.district.close()
        self.calibration.close()
        self.visitors.close()
        self.samples.close()
        self.gate.close()
        self.series.close()
        self.accounts.close()
        self.enrolment.store.close()
        self.notify_settings.store.close()
        self.settings_store.close()
        self.state.close()
