"""The alert engine's part of the hub config: rule defaults, units, escalation, maintenance windows."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.alerts.kinds import AlertKind, RuleKind
from hub.alerts.playbooks import PlaybooksConfig
from hub.rules.escalation import Policy, Tier
from hub.rules.silence import DailyWindow, Silence


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleDefaults(_Strict):
    #: A door of this event kind open longer than this alarms (fridge, cold room, storeroom doors).
    door_open_max_s: dict[str, float] = Field(default_factory=lambda: {"door": 300.0})
    #: No reading from a sensor for this long (hub receive time) is a stale sensor.
    stale_after_s: float = Field(default=300.0, gt=0)
    #: A device silent (no message, or its Last Will said offline) for this long is offline.
    offline_after_s: float = Field(default=120.0, gt=0)
    #: A sensor reporting faults (CRC, 85 °C power-on value, disconnected) for this long alarms.
    fault_delay_s: float = Field(default=60.0, ge=0)
    #: A device whose clock is still not synchronised after this long alarms.
    clock_unsynced_after_s: float = Field(default=600.0, ge=0)
    #: Readings dropped by an outbox keep the alarm up until none were dropped for this long.
    dropped_quiet_s: float = Field(default=3600.0, gt=0)


class UnitConfig(_Strict):
    """A cold unit: its temperature probe and its door, so a rise while the door is open is one incident."""

    temperature: str = Field(pattern=r"^[^/]+/[^/]+$")
    door: str = Field(pattern=r"^[^/]+/[^/]+$")


class TierConfig(_Strict):
    after_s: float = Field(ge=0)
    route: str = Field(min_length=1)


class UnhandledConfig(_Strict):
    """An acknowledged alarm nobody closes: remind the acknowledger, then page the next tier (from the ack)."""

    remind_after_s: float = Field(gt=0)
    escalate_after_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> UnhandledConfig:
        if self.escalate_after_s is not None and self.escalate_after_s <= self.remind_after_s:
            raise ValueError("escalate_after_s comes after remind_after_s: first the reminder, then the next tier")
        return self


class PolicyConfig(_Strict):
    tiers: list[TierConfig] = Field(min_length=1)
    repeat_every_s: float | None = Field(default=300.0, gt=0)
    #: Acknowledged but not handled (closed) in time; None: an acknowledgement ends the paging.
    unhandled: UnhandledConfig | None = None

    def policy(self) -> Policy:
        unhandled = self.unhandled
        return Policy(tuple(Tier(t.after_s, t.route) for t in sorted(self.tiers, key=lambda t: t.after_s)),
                      self.repeat_every_s,
                      remind_after_s=unhandled.remind_after_s if unhandled is not None else None,
                      unhandled_escalate_s=unhandled.escalate_after_s if unhandled is not None else None)


def _default_policies() -> dict[str, PolicyConfig]:
    return {
        # canteen staff at once, the canteen manager after 10 min unacknowledged, the safety officer after 30
        "cold_chain": PolicyConfig(tiers=[TierConfig(after_s=0, route="canteen"),
                                          TierConfig(after_s=600, route="canteen_manager"),
                                          TierConfig(after_s=1800, route="safety_officer")]),
        "gate": PolicyConfig(tiers=[TierConfig(after_s=0, route="gatekeeper"),
                                    TierConfig(after_s=900, route="safety_officer")]),
        "device": PolicyConfig(tiers=[TierConfig(after_s=0, route="admin"),
                                      TierConfig(after_s=3600, route="safety_officer")], repeat_every_s=3600),
    }


class MaintenanceWindow(_Strict):
    """A recurring silence from the config file, e.g. a freezer's nightly defrost."""

    subject: str
    #: Rule keys; a misspelt one is refused at start rather than silencing nothing.
    rules: list[RuleKind] = Field(default_factory=list)
    start: time
    end: time
    weekdays: list[int] | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _days(self) -> MaintenanceWindow:
        if self.weekdays is not None and any(d < 0 or d > 6 for d in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return self

    def silence(self) -> Silence:
        days = frozenset(self.weekdays) if self.weekdays is not None else None
        return Silence(subject=self.subject, rules=frozenset(self.rules),
                       window=DailyWindow(self.start, self.end, days), reason=self.reason)


class AlertsConfig(_Strict):
    defaults: RuleDefaults = RuleDefaults()
    units: list[UnitConfig] = Field(default_factory=list)
    policies: dict[str, PolicyConfig] = Field(default_factory=_default_policies)
    #: Alert kind → policy name; kinds not listed use ``default_policy`` (a misspelt kind is refused).
    policy_for_kind: dict[AlertKind, str] = Field(default_factory=lambda: {
        AlertKind.TEMPERATURE: "cold_chain", AlertKind.DOOR: "cold_chain", AlertKind.SENSOR: "cold_chain",
        AlertKind.GATE: "gate", AlertKind.VISITOR: "gate", AlertKind.DEVICE: "device"})
    default_policy: str = "cold_chain"
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    #: The longest a silence set through the web app may last (the safety officer's decision; 7 days).
    #: Every such silence ends; a daily window too needs an end date within this.
    silence_max_s: float = Field(default=7 * 86400.0, gt=0, le=90 * 86400.0)
    #: Language of alarm messages: Simplified Chinese by default.
    locale: str = Field(default="zh", pattern="^(zh|en)$")
    #: Base URL staff follow to acknowledge (shown in messages).
    public_url: str = "http://127.0.0.1:8000"
    #: What to do now, per kind of alarm (hub.alerts.playbooks): shown on the card and in the message.
    playbooks: PlaybooksConfig = PlaybooksConfig()

    @model_validator(mode="after")
    def _policies_exist(self) -> AlertsConfig:
        named = [(str(kind), name) for kind, name in self.policy_for_kind.items()]
        for kind, name in [*named, ("(default)", self.default_policy)]:
            if name not in self.policies:
                raise ValueError(f"policy_for_kind {kind!r} names unknown policy {name!r}")
        return self

    def policy_for(self, kind: AlertKind) -> Policy:
        return self.policies[self.policy_for_kind.get(kind, self.default_policy)].policy()
