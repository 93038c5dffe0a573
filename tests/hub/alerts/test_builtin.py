"""The rule table and the alert vocabulary: every rule described once, every value named everywhere it shows."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from hub.alerts.builtin import BY_KEY, RULES, MessageContext, describe
from hub.alerts.config import AlertsConfig
from hub.alerts.engine import _Record
from hub.alerts.kinds import ACTIVE_STATES, OPEN_STATES, AlertKind, AlertState, RuleKind, Severity, worst
from hub.api.alerts import StateFilter
from hub.notify.messages import compose, facts_from_alert
from hub.rules.condition import ConditionState
from hub.rules.threshold import ThresholdState
from hub.store.state import Alert, StateStore
from hub.web import i18n
from hub.web.render import ALERT_STATE_ICONS, HISTORY_STATES, LISTED_STATES

TZ = ZoneInfo("Asia/Shanghai")
SINCE = 1_790_000_000.0
NOW = SINCE + 600


def test_every_rule_has_exactly_one_description() -> None:
    assert [rule.key for rule in RULES] == list(dict.fromkeys(rule.key for rule in RULES))  # no key twice
    assert set(BY_KEY) == set(RuleKind)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: str(r.key))
def test_every_rule_names_its_alarm_in_both_languages(rule: typing.Any) -> None:
    alert = Alert(rule=rule.key, subject="dev-a/fridge-1", kind=rule.kind, severity=rule.severity,
                  state=AlertState.FIRING, message="m", started_at=SINCE, updated_at=NOW, id=1)
    titles = {}
    for locale in ("zh", "en"):
        title, _ = compose(facts_from_alert(alert, where="冷藏冰箱1"), now=NOW, hub_url="http://hub", locale=locale)
        assert rule.title.get(locale) in title
        assert rule.key not in title  # the alarm's words, never its key
        titles[locale] = title
    assert rule.title.zh != rule.title.en
    assert titles["zh"] != titles["en"]


@pytest.mark.parametrize("rule", [r for r in RULES if r.message is not None], ids=lambda r: str(r.key))
def test_every_engine_rule_writes_its_message_in_both_languages(rule: typing.Any) -> None:
    extra = {"fault": "crc", "last": SINCE - 300, "since": SINCE, "increase": 12, "error": "HTTP 500"}
    texts = {}
    for locale in ("zh", "en"):
        context = MessageContext("冷藏冰箱1", "dev-a/fridge-1", SINCE, TZ, locale, extra,
                                 value=9.4 if rule.threshold else None, limit=8.0 if rule.threshold else None)
        texts[locale] = rule.message(context)
        assert texts[locale].strip()
        assert "{" not in texts[locale]  # no template field left unfilled
    assert texts["zh"] != texts["en"]


def test_rules_the_observing_module_describes_have_no_message_of_their_own() -> None:
    observed = {r.key for r in RULES if r.message is None}
    assert observed == {RuleKind.DEAD_LETTERS, RuleKind.BROKER_DROPPING, RuleKind.STORE_CANNOT_WRITE,
                        RuleKind.BACKUP_FAILED, RuleKind.DISTRICT_LINK,
                        RuleKind.GATE_AFTER_HOURS,
                        RuleKind.GATE_NOT_CLOSED, RuleKind.GATE_TAMPER, RuleKind.GATE_SENSOR_OFFLINE,
                        RuleKind.PATROL_ROUND_MISSED,
                        RuleKind.SAMPLE_MISSING, RuleKind.SAMPLE_UNDERWEIGHT, RuleKind.SAMPLE_DISCARDED_EARLY,
                        RuleKind.SAMPLE_DISCARDABLE, RuleKind.CHECK_OVERDUE, RuleKind.WORK_ORDER_OVERDUE,
                        RuleKind.CALIBRATION_FAILED, RuleKind.CALIBRATION_OVERDUE,
                        RuleKind.VISITOR_INSIDE_AT_CLOSING, RuleKind.VISITOR_AFTER_HOURS,
                        RuleKind.GATE_OPENING_UNREGISTERED, RuleKind.PUPIL_NOT_RETURNED}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: str(r.key))
def test_every_rule_round_trips_through_the_store_and_the_alert_json(tmp_path: Path, rule: typing.Any) -> None:
    store = StateStore(tmp_path / "hub.sqlite3")
    try:
        alert = Alert(rule=rule.key, subject="dev-a/fridge-1", kind=rule.kind, severity=rule.severity,
                      state=AlertState.PENDING, message="m", started_at=SINCE, updated_at=SINCE)
        store.save_alert(alert, action="alert.pending")
        for state in (AlertState.FIRING, AlertState.RESOLVED):
            alert.state = state
            store.save_alert(alert, action=f"alert.{state}")
        stored = store.alert(alert.id or 0)
        assert stored == alert
        assert stored is not None
        assert type(stored.rule) is RuleKind and type(stored.kind) is AlertKind
        assert type(stored.severity) is Severity and type(stored.state) is AlertState
        # What the API answers: the plain strings, and back to the same alert.
        body = json.loads(json.dumps(dataclasses.asdict(stored)))
        assert (body["rule"], body["kind"], body["severity"], body["state"]) == (
            rule.key.value, rule.kind.value, rule.severity.value, "resolved")
        assert Alert(**body) == stored
        # The audit log holds the state as text, as it always did.
        assert [json.loads(e.detail)["state"] for e in store.audit_entries()] == ["pending", "firing", "resolved"]
        # The rule's timer state, as the engine keeps it across a restart.
        record = _Record(ThresholdState(ConditionState(since=SINCE, firing=True), 9.4, 9.0) if rule.threshold
                         else ConditionState(since=SINCE, firing=True), alert.id, {"note": "x"})
        store.save_rule_state(rule.key, "dev-a/fridge-1", record.durable())
        ((key, saved),) = store.rule_states().items()
        assert key == (rule.key, "dev-a/fridge-1") and type(key[0]) is RuleKind
        reloaded = _Record.from_json(key[0], saved)
        assert type(reloaded.state) is type(record.state)
        assert reloaded.condition == dataclasses.replace(record.condition, last_ts=None)
        assert (reloaded.alert_id, reloaded.extra) == (alert.id, {"note": "x"})
    finally:
        store.close()


def test_an_unknown_stored_value_fails_at_the_boundary(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "hub.sqlite3")
    try:
        alert = store.save_alert(Alert(rule=RuleKind.DOOR_OPEN_TOO_LONG, subject="d/s", kind=AlertKind.DOOR,
                                       severity=Severity.WARNING, state=AlertState.FIRING, message="m",
                                       started_at=SINCE, updated_at=SINCE))
        store._db.execute("UPDATE alerts SET state = 'fiering' WHERE id = ?", (alert.id,))
        with pytest.raises(ValueError, match="fiering"):
            store.alert(alert.id or 0)
    finally:
        store.close()


def test_members_equal_the_strings_stored_before_them() -> None:
    assert [str(s) for s in AlertState] == ["pending", "firing", "acknowledged", "resolved", "closed", "verified",
                                            "cancelled"]
    firing: str = AlertState.FIRING
    assert firing == "firing" and f"{AlertState.FIRING}" == "firing" and json.dumps(firing) == '"firing"'
    assert [str(s) for s in Severity] == ["critical", "warning", "info"]
    assert RuleKind("temperature_limits") is RuleKind.TEMPERATURE_LIMITS


def test_one_severity_rank() -> None:
    assert Severity.CRITICAL.rank > Severity.WARNING.rank > Severity.INFO.rank
    assert worst([Severity.INFO, Severity.CRITICAL, Severity.WARNING]) is Severity.CRITICAL
    assert worst([Severity.INFO]) is Severity.INFO


def test_state_groups_are_states() -> None:
    assert ACTIVE_STATES == (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
    assert set(OPEN_STATES) - set(ACTIVE_STATES) == {AlertState.RESOLVED, AlertState.CLOSED}
    assert set(LISTED_STATES) <= set(AlertState) and set(HISTORY_STATES) <= set(AlertState)


def test_the_api_state_filter_is_every_state_and_the_groups() -> None:
    assert set(typing.get_args(StateFilter)) == {s.value for s in AlertState} | {"active", "open"}


@pytest.mark.parametrize("catalog", ["zh-CN", "en"])
def test_the_pages_have_a_word_for_every_state_kind_and_severity(catalog: str) -> None:
    words = i18n.CATALOGS[catalog]
    for prefix, members in (("alert.state.", list(AlertState)), ("alert.kind.", list(AlertKind)),
                            ("alert.severity.", list(Severity))):
        missing = [m.value for m in members if f"{prefix}{m}" not in words]
        assert missing == [], (catalog, prefix)
    assert set(ALERT_STATE_ICONS) == set(AlertState)


def test_a_description_is_looked_up_by_the_stored_string() -> None:
    assert describe(RuleKind("door_open_too_long")).kind is AlertKind.DOOR
    assert describe(RuleKind.TEMPERATURE_LIMITS).threshold
    assert not any(r.threshold for r in RULES if r.key is not RuleKind.TEMPERATURE_LIMITS)


@pytest.mark.parametrize("body", [
    {"maintenance": [{"subject": "dev-a/*", "rules": ["temperature"], "start": "02:00", "end": "03:00"}]},
    {"policy_for_kind": {"temprature": "cold_chain"}},
], ids=["maintenance-rule", "policy-kind"])
def test_a_misspelt_rule_or_kind_in_the_config_is_refused(body: dict[str, typing.Any]) -> None:
    """Either was accepted and matched nothing: a defrost window that silenced nothing, a kind on the default policy."""
    with pytest.raises(ValidationError):
        AlertsConfig.model_validate(body)
