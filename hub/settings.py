"""The hub's settings: one typed object, from ``XIAOAN_*`` environment variables and an optional YAML file.

Environment variables carry where things are (ports, state directory, broker
credentials); the YAML file (``XIAOAN_CONFIG``) carries what the safety officer
decides (limits per cold unit, alarm delays). Both are validated at start and a
bad value refuses to start with the key (and the file line) at fault.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.config import TlsSettings
from edge.failsafe import PROFILE_LIMITS
from edge.wire import ID_PATTERN
from edge.yamlconfig import ConfigError, load_model
from hub.alerts.config import AlertsConfig
from hub.alerts.kinds import Severity
from hub.calendar import DEFAULT_GROUP, CalendarConfig
from hub.calibration.config import CalibrationConfig
from hub.checks.config import ChecksConfig
from hub.forward.settings import DistrictLink
from hub.gate.config import GateConfig
from hub.notify.config import NotifyConfig, load_notify_config
from hub.report.config import ReportConfig
from hub.samples.config import SamplesConfig
from hub.visitors.config import VisitorsConfig

#: The hub's hard limits (alarm at once, no delay) on top of the domain presets.
_HARD_HIGH = {"fridge": 15.0, "freezer": -5.0, "sample_fridge": 12.0}
#: Domain presets from Chinese school-canteen practice (GB 31654-2021): refrigeration
#: 0–8 °C, freezing at or below -12 °C (many kitchens run -18 °C), and a dedicated
#: food-sample fridge at 0–8 °C — the same table the edge's local alarm uses.
DEFAULT_PROFILES: dict[str, dict[str, float | None]] = {
    name: {"low": preset.low, "high": preset.high, "hard_high": _HARD_HIGH[name]}
    for name, preset in PROFILE_LIMITS.items()
}


class Band(BaseModel):
    """A regulatory band: the widest limits the rule allows a cold unit (None: no limit on that side).

    Limits inside it are the school's own choice; limits beyond it loosen the rule, and
    need a reason and a second person's approval (hub.alerts.limit_edits).
    """

    model_config = ConfigDict(extra="forbid")

    low: float | None = None
    high: float | None = None


#: GB 31654-2021's bands, per profile; a province's stricter (or other) rule is set under ``bands``.
DEFAULT_BANDS: dict[str, Band] = {name: Band(low=preset.low, high=preset.high)
                                  for name, preset in PROFILE_LIMITS.items()}


class LimitOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    name: str | None = None
    low: float | None = None
    high: float | None = None
    hard_low: float | None = None
    hard_high: float | None = None
    delay_s: float | None = Field(default=None, ge=0)
    hysteresis: float | None = Field(default=None, ge=0)
    severity: Severity | None = None


class HubConfig(BaseModel):
    """The YAML side of the settings: rules and limits."""

    model_config = ConfigDict(extra="forbid")

    #: An excursion must last this long before it alarms (a door opening is not an alarm).
    alarm_delay_s: float = Field(default=900.0, ge=0)
    hysteresis: float = Field(default=0.5, ge=0)
    #: Per-profile limits, merged over DEFAULT_PROFILES (e.g. ``freezer: {high: -18}``).
    profiles: dict[str, LimitOverride] = Field(default_factory=dict)
    #: Per-sensor overrides keyed by ``device/sensor``.
    sensors: dict[str, LimitOverride] = Field(default_factory=dict)
    #: Regulatory bands per profile, replacing DEFAULT_BANDS' entry (a province's own rule).
    bands: dict[str, Band] = Field(default_factory=dict)
    #: Other rules, cold units, escalation policies, maintenance windows, message language.
    alerts: AlertsConfig = AlertsConfig()
    #: School days, holidays and swapped working days, terms, and the opening windows of gates and doors.
    calendar: CalendarConfig = CalendarConfig()
    #: Gate duty: which events are gates, severities by day and night, patrol checkpoints and routes.
    gate: GateConfig = GateConfig()
    #: Food-sample retention (留样): weights, retention, meal times, the sample cabinet (docs/samples.md).
    samples: SamplesConfig = SamplesConfig()
    #: Checklists (日巡视 / 周排查 / 月总查, the food-safety records) and work orders (docs/checks.md).
    checks: ChecksConfig = ChecksConfig()
    #: The gate register: visitors, invitations, leave slips, retention (docs/gate.md, "The visitor book").
    visitors: VisitorsConfig = VisitorsConfig()
    #: Reports: the Monday schedule, the log sheet's times, sign-off reminders (docs/reports.md).
    report: ReportConfig = ReportConfig()
    #: Probe calibration: tolerance, intervals per profile, reminders, the guided check's window (docs/alerts.md).
    calibration: CalibrationConfig = CalibrationConfig()

    def band(self, profile: str) -> Band | None:
        """The regulatory band of a profile (None: the profile has none, edits are checked for sense only)."""
        return self.bands.get(profile) or DEFAULT_BANDS.get(profile)

    @model_validator(mode="after")
    def _keys(self) -> HubConfig:
        for key in self.sensors:
            if key.count("/") != 1:
                raise ValueError(f"sensors key {key!r} must be 'device/sensor'")
        group = self.visitors.gate_group
        if group != DEFAULT_GROUP and group not in self.calendar.groups:
            raise ValueError(f"visitors.gate_group {group!r} is no door group of calendar.groups"
                             f" ({', '.join(sorted(self.calendar.groups)) or 'none'}) nor 'default'")
        return self


#: Why ``XIAOAN_SHARED_GROUP`` is refused, and what to do instead.
RETIRED_SHARED_GROUP = ("shared_group: the same-machine scale-out is retired; one hub serves one school, several"
                        " schools feed a district service (docs/scale-out.md). Stop the extra hub workers and unset"
                        " XIAOAN_SHARED_GROUP.")


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOAN_", extra="ignore")

    #: State directory: databases, broker data, generated credentials.
    home: Path = Path("var")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    mqtt_host: str = "127.0.0.1"
    #: The broker's hub door (firmware-config/mosquitto/xiaoan.conf): hub accounts only, ids as the hub sets them.
    mqtt_port: int = Field(default=1884, ge=1, le=65535)
    mqtt_username: str = "hub"
    mqtt_password: str | None = None
    #: Defaults to ``{home}/credentials/hub.password`` (written by ``xiaoan demo`` / provisioning).
    mqtt_password_file: Path | None = None
    mqtt_client_id: str = "xiaoan-hub"
    #: The school CA that signed the broker's certificate: set it to connect over TLS (docs/security.md).
    mqtt_tls_ca_file: Path | None = None
    #: A client certificate and key, for a broker that requires them (``require_certificate true``).
    mqtt_tls_cert_file: Path | None = None
    mqtt_tls_key_file: Path | None = None
    #: The devices' door as the hub reaches it, where the dynamic security administrator logs in
    #: (devices added from the admin page) and, unless ``device_broker_port`` is set, what new devices' configs name.
    mqtt_device_port: int = Field(default=1883, ge=1, le=65535)
    #: The dynamic security plugin's administrator (docs/security.md, "Devices added from the admin page").
    mqtt_admin_username: str = "xiaoan-admin"
    mqtt_admin_password: str | None = None
    #: Defaults to ``{home}/credentials/xiaoan-admin.password``; without it the page cannot add devices.
    mqtt_admin_password_file: Path | None = None
    #: The broker's host name as the Pis reach it; defaults to the host name the admin page was opened at.
    device_broker_host: str | None = None
    device_broker_port: int | None = Field(default=None, ge=1, le=65535)
    #: The school CA's certificate (``ca.crt`` of scripts/make-ca.sh) when the devices' door is TLS: configs of
    #: devices added on the admin page then connect over TLS (to ``device_broker_port``, default 8883), and their
    #: install command fetches this certificate to the Pi first (docs/install-pi.md, "TLS instead of plain MQTT").
    device_tls_ca_file: Path | None = None
    #: The one school (site) this hub serves (hub.sites); ``+``: the site of its devices, the first one's on a new hub.
    #: Another school's devices are refused: a second school gets a hub of its own (docs/district.md).
    site: str = Field(default="+", pattern=rf"^\+$|{ID_PATTERN}")
    #: The link to a district service (docs/district.md): off unless a district registered this school.
    district: DistrictLink = Field(default_factory=DistrictLink)
    #: The school's time zone: messages, pages and reports speak local time.
    timezone: str = "Asia/Shanghai"
    #: Retired (docs/scale-out.md, "Retired"): several hub workers on one state directory. Kept only to be refused
    #: when set, since an ignored one would let two hubs started on one directory both run the school's rules.
    shared_group: str | None = None
    #: A line shown on the status page (the demo says that it shortened the alarm delay).
    banner: str = ""
    config_file: Path | None = Field(default=None, validation_alias="XIAOAN_CONFIG")
    #: Notification channels and routes (docs/notifications.md); without it alarms reach the page,
    #: the log and the edge buzzers only.
    notify_config: Path | None = None
    #: How often pending delays are checked without new readings.
    tick_s: float = Field(default=1.0, gt=0)
    hub_heartbeat_s: float = Field(default=10.0, gt=0)
    #: Message ids are remembered this long for deduplication (storing is idempotent beyond it).
    seen_retention_days: float = Field(default=30.0, gt=0)
    #: Largest batch of MQTT messages committed in one transaction.
    ingest_batch: int = Field(default=500, ge=1)
    #: Two broker sessions, live and backfill (hub.ingest.MqttIngest): a backlog drained after an outage
    #: never delays a live event. Off: one session for everything, as hubs before the lanes.
    ingest_lanes: bool = True
    #: Most backfill messages in one batch: a live message waits at most for one such batch.
    ingest_backfill_batch: int = Field(default=100, ge=1, le=10_000)
    # -- per-device quotas at the hub (docs/security.md, "Per-device quotas") -------------------
    #: Dead letters kept per device (the oldest are dropped, counted): bounds what one device costs on disk.
    dead_letters_per_device: int = Field(default=20, ge=1)
    #: Dead letters older than this are deleted (counted as dropped) by an hourly duty.
    dead_letter_retention_days: float = Field(default=30.0, gt=0)
    #: This many dead letters from one device within ``dead_letter_alarm_window_s`` raise an alarm.
    dead_letter_alarm_count: int = Field(default=20, ge=1)
    dead_letter_alarm_window_s: float = Field(default=600.0, gt=0)
    #: Messages per second one device may send on average (0: no limit), and the burst it may send at once.
    #: Beyond it messages are refused: counted, not stored and not confirmed, so the edge keeps and resends them.
    #: An edge sends a message every few seconds and drains a backlog at most ``outbox.unconfirmed_max`` (1000)
    #: ahead of the hub's confirmations; the defaults leave that room and stop a flood.
    device_rate_per_s: float = Field(default=500.0, ge=0)
    device_burst: float = Field(default=5000.0, ge=1)
    # -- people, sessions and the web API (docs/security.md) --------------------------------------
    #: The hub is reached over HTTPS (directly or behind a TLS proxy): session cookies are sent only over it.
    https: bool = False
    #: A session unused this long is over (people sign in again).
    session_idle_s: float = Field(default=8 * 3600.0, gt=0)
    #: A session is over this long after signing in, used or not.
    session_max_s: float = Field(default=7 * 86400.0, gt=0)
    #: Failed logins per username and per client address within ``login_window_s`` before refusing (429).
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: float = Field(default=900.0, gt=0)
    # -- HTTP limits of the hub's own server (hub.http_limits, docs/security.md) --------------------
    #: Largest request body (JSON, forms) in bytes; larger is a 413 before anything reads it or checks credentials.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Largest photo upload body in bytes: the 8 MB photo limit plus room for the multipart framing.
    http_max_photo_body_bytes: int = Field(default=8 * 1024 * 1024 + 64 * 1024, ge=1024)
    #: A connection must send complete request headers this soon after it opens (or after its first byte of
    #: a next request); slower is disconnected.
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    #: An idle kept-alive connection is closed after this long (uvicorn's ``timeout_keep_alive``).
    http_keep_alive_s: int = Field(default=5, ge=1)
    #: Largest request head (request line and headers) in bytes; larger is a 400.
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    #: Open connections at most; past it a new one is answered 503 with ``Retry-After`` and closed at once.
    #: Lowered at start to fit the open-files limit (less a reserve for the hub's own files).
    http_max_connections: int = Field(default=4096, ge=1)
    #: Connections the kernel queues before the hub accepts them (``listen`` backlog).
    http_backlog: int = Field(default=2048, ge=1)
    #: Live event streams (``/api/stream``) one account may hold open at once; more is a 429.
    stream_max_per_account: int = Field(default=8, ge=1)
    #: Live event streams open at once over all accounts; more is a 503.
    stream_max_total: int = Field(default=200, ge=1)
    #: Filled from ``config_file`` by ``load_settings``.
    rules: HubConfig = HubConfig()
    #: Filled from ``notify_config`` by ``load_settings``.
    notify: NotifyConfig | None = None

    # -- the nightly backup (hub.backup, docs/operations.md "Backups") ------------------------------
    #: Where the nightly backup writes its archive (a USB stick's mount point); unset: no nightly backup.
    backup_dir: Path | None = None
    #: How many nightly archives are kept there (the oldest beyond it are deleted).
    backup_keep: int = Field(default=7, ge=1)
    #: The local time after which each day's backup is made (a quiet hour).
    backup_at: time = time(2, 30)
    #: The broker's account directory (``xiaoan provision --dir``), when the hub's user may read it.
    backup_broker_dir: Path | None = None

    # -- time-series store (docs/influxdb.md) ----------------------------------------------------
    #: Where readings and events go; the hub's own state (alerts, devices) stays in SQLite either way.
    store: Literal["sqlite", "influxdb", "postgresql"] = "sqlite"
    #: Raw readings and events are kept this long, then only hourly min/max/mean/count (``None``: forever).
    raw_retention_days: float | None = Field(default=400.0, ge=1)
    hourly_retention_days: float | None = Field(default=3650.0, ge=1)
    #: How often the hub runs the SQLite store's downsampling and pruning.
    maintenance_interval_s: float = Field(default=3600.0, gt=0)
    #: How often device health and limit bands are copied to InfluxDB for Grafana.
    dashboard_sample_s: float = Field(default=60.0, gt=0)
    influx_url: str = "http://127.0.0.1:8086"
    influx_database: str = Field(default="xiaoan", min_length=1)
    #: Raw readings and events; created as the database's default policy when ``influx_setup``.
    influx_retention_policy: str = Field(default="raw", min_length=1)
    #: Hourly aggregates (continuous query target); empty: no downsampling in InfluxDB.
    influx_hourly_retention_policy: str = "hourly"
    influx_username: str | None = None
    influx_password: str | None = Field(default=None, validate_default=True)
    #: InfluxDB 2.x / 3.x API token (sent as ``Authorization: Token …``), instead of username/password.
    influx_token: str | None = Field(default=None, validate_default=True)
    #: Create the database, retention policies and continuous query at start (InfluxDB 1.x only).
    influx_setup: bool = True
    influx_timeout_s: float = Field(default=30.0, gt=0)
    #: With ``store=postgresql``: the database readings and events go to, as a libpq connection string
    #: (``host=… port=… dbname=… user=… password=…``) or URI (docs/postgresql.md).
    postgres_dsn: str | None = Field(default=None, validate_default=True)

    @field_validator("shared_group")
    @classmethod
    def _shared_group(cls, group: str | None) -> str | None:
        """Refuse the retired scale-out loudly: a deployment that still sets it must be told, not ignored."""
        if group:
            raise ValueError(RETIRED_SHARED_GROUP)
        return None

    @field_validator("postgres_dsn")
    @classmethod
    def _postgres_dsn(cls, dsn: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("store") == "postgresql" and not dsn:
            raise ValueError("required when XIAOAN_STORE=postgresql")
        return dsn or None

    @field_validator("influx_url")
    @classmethod
    def _influx_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
        return url

    @field_validator("influx_password")
    @classmethod
    def _influx_password(cls, password: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("influx_username") and not password:
            raise ValueError("required when XIAOAN_INFLUX_USERNAME is set")
        return password

    @field_validator("influx_token")
    @classmethod
    def _influx_token(cls, token: str | None, info: ValidationInfo) -> str | None:
        if token and info.data.get("influx_username"):
            raise ValueError("set either a token or XIAOAN_INFLUX_USERNAME/PASSWORD, not both")
        return token

    def admin_password(self) -> str | None:
        """The dynamic security administrator's password, or None when this hub has none (files only)."""
        if self.mqtt_admin_password is not None:
            return self.mqtt_admin_password
        path = self.mqtt_admin_password_file or self.home / "credentials" / "xiaoan-admin.password"
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def password(self) -> str:
        if self.mqtt_password is not None:
            return self.mqtt_password
        path = self.mqtt_password_file or self.home / "credentials" / "hub.password"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(path, [f"{path}: cannot read the hub's MQTT password: {error.strerror}"
                                     " (set XIAOAN_MQTT_PASSWORD or XIAOAN_MQTT_PASSWORD_FILE)"]) from None

    def mqtt_tls(self) -> TlsSettings | None:
        """TLS for the broker connection, when a CA file is set."""
        if self.mqtt_tls_ca_file is None:
            return None
        return TlsSettings(ca_file=self.mqtt_tls_ca_file, cert_file=self.mqtt_tls_cert_file,
                           key_file=self.mqtt_tls_key_file)

    @property
    def db_dir(self) -> Path:
        return self.home / "hub"


def load_settings(**overrides: object) -> HubSettings:
    """Read the environment and the YAML files it names; errors name the variable or file line."""
    try:
        settings = HubSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = [f"XIAOAN_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()]
        raise ConfigError(Path("<environment>"), problems) from None
    if settings.config_file is not None:
        settings = settings.model_copy(update={"rules": load_model(HubConfig, settings.config_file)})
    if settings.notify_config is not None:
        notify = load_notify_config(settings.notify_config)
        check_routes(settings.rules, notify, settings.notify_config)
        settings = settings.model_copy(update={"notify": notify})
    return settings


def check_routes(rules: HubConfig, notify: NotifyConfig, path: Path) -> None:
    """Every route an escalation policy names must exist: an alarm routed nowhere is a missed alarm."""
    missing = sorted({tier.route for policy in rules.alerts.policies.values() for tier in policy.tiers}
                     - set(notify.routes))
    if missing:
        raise ConfigError(path, [f"{path}: routes: no route for {name!r}, which an escalation policy uses"
                                 for name in missing])
