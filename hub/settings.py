"""The hub's settings: one typed object, from ``XIAOAN_*`` environment variables and an optional YAML file.

Environment variables carry where things are (ports, state directory, broker
credentials); the YAML file (``XIAOAN_CONFIG``) carries what the safety officer
decides (limits per cold unit, alarm delays). Both are validated at start and a
bad value refuses to start with the key (and the file line) at fault.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.yamlconfig import ConfigError, load_model

#: Domain presets from Chinese school-canteen practice (GB 31654-2021): refrigeration
#: 0–8 °C, freezing at or below -12 °C (many kitchens run -18 °C), and a dedicated
#: food-sample fridge at 0–8 °C.
DEFAULT_PROFILES: dict[str, dict[str, float | None]] = {
    "fridge": {"low": 0.0, "high": 8.0, "hard_high": 15.0},
    "freezer": {"low": None, "high": -12.0, "hard_high": -5.0},
    "sample_fridge": {"low": 0.0, "high": 8.0, "hard_high": 12.0},
}


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
    severity: str | None = None


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

    @model_validator(mode="after")
    def _keys(self) -> HubConfig:
        for key in self.sensors:
            if key.count("/") != 1:
                raise ValueError(f"sensors key {key!r} must be 'device/sensor'")
        return self


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XIAOAN_", extra="ignore")

    #: State directory: databases, broker data, generated credentials.
    home: Path = Path("var")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str = "hub"
    mqtt_password: str | None = None
    #: Defaults to ``{home}/credentials/hub.password`` (written by ``xiaoan demo`` / provisioning).
    mqtt_password_file: Path | None = None
    mqtt_client_id: str = "xiaoan-hub"
    #: Sites this hub serves (``+``: all).
    site: str = "+"
    #: The school's time zone: messages, pages and reports speak local time.
    timezone: str = "Asia/Shanghai"
    #: Join an MQTT shared subscription group (several hub workers splitting the load).
    shared_group: str | None = None
    #: A line shown on the status page (the demo says that it shortened the alarm delay).
    banner: str = ""
    config_file: Path | None = Field(default=None, validation_alias="XIAOAN_CONFIG")
    #: How often pending delays are checked without new readings.
    tick_s: float = Field(default=1.0, gt=0)
    hub_heartbeat_s: float = Field(default=10.0, gt=0)
    #: Largest batch of MQTT messages committed in one transaction.
    ingest_batch: int = Field(default=500, ge=1)
    #: Filled from ``config_file`` by ``load_settings``.
    rules: HubConfig = HubConfig()

    def password(self) -> str:
        if self.mqtt_password is not None:
            return self.mqtt_password
        path = self.mqtt_password_file or self.home / "credentials" / "hub.password"
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(path, [f"{path}: cannot read the hub's MQTT password: {error.strerror}"
                                     " (set XIAOAN_MQTT_PASSWORD or XIAOAN_MQTT_PASSWORD_FILE)"]) from None

    @property
    def db_dir(self) -> Path:
        return self.home / "hub"


def load_settings(**overrides: object) -> HubSettings:
    """Read the environment (and the YAML config it names); errors name the variable or line."""
    try:
        settings = HubSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = [f"XIAOAN_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()]
        raise ConfigError(Path("<environment>"), problems) from None
    if settings.config_file is not None:
        settings = settings.model_copy(update={"rules": load_model(HubConfig, settings.config_file)})
    return settings
