"""Acknowledge by SMS reply: the alarm SMS goes out through the simulated modem on a pty, the reply comes back in.

The hub's real SMS channel sends, its real modem code lists and deletes the inbox
(``AT+CMGL`` / ``AT+CMGD``), and the reply acts through the alert engine. Expiry uses
the codes' injected clock.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import wire
from hub.alerts.kinds import Severity
from hub.alerts.smsreplies import ReplyOutcome
from hub.auth.roles import Role
from hub.auth.store import AccountStore
from hub.cli import main
from hub.ingest import Inbound
from hub.notify.base import Notification
from hub.notify.pdu import decode_deliver
from hub.notify.sms import SerialModem, SmsChannel
from hub.runtime import Hub
from hub.settings import HubConfig, load_settings
from tests.hub.auth_helpers import make_user
from tests.hub.notify.modem_sim import SimulatedModem, encode_deliver

COOK = "+8613800138000"
MANAGER = "+8613800138001"
STRANGER = "+8613900000000"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def notify_yaml(tmp_path: Path, port: str) -> Path:
    path = tmp_path / "notify.yaml"
    others = "\n".join(f"  {name}:\n    always: [web]" for name in ("canteen_manager", "safety_officer",
                                                                    "gatekeeper", "admin"))
    path.write_text(f"""group_window_s: 0
channels:
  sms_kitchen: {{type: sms, port: "{port}", numbers: ["{COOK}", "{MANAGER}"], max_chars: 300}}
  web: {{type: web}}
routes:
  canteen:
    always: [web]
    fallback: [sms_kitchen]
{others}
""", encoding="utf-8")
    return path


def inbound(device: str, channel: wire.Channel, body: dict[str, object]) -> Inbound:
    return Inbound(wire.topic("s", device, channel), json.dumps(body).encode(), 1, 1, 0.0)


@pytest.fixture
def modem() -> Iterator[SimulatedModem]:
    with SimulatedModem() as running:
        yield running


@pytest.fixture
def hub(tmp_path: Path, modem: SimulatedModem) -> Iterator[Hub]:
    settings = load_settings(home=tmp_path / "home", notify_config=notify_yaml(tmp_path, modem.path))
    settings = settings.model_copy(update={"rules": HubConfig.model_validate({"alarm_delay_s": 0})})
    running = Hub(settings, connect_mqtt=False)
    cook = make_user(running, Role.CANTEEN_STAFF, "wang-cook", display_name="王师傅")
    manager = make_user(running, Role.CANTEEN_MANAGER, "li-manager", display_name="李经理")
    running.accounts.set_phone(cook.id, COOK)
    running.accounts.set_phone(manager.id, MANAGER)
    running.sms_codes.clock = Clock(10_000.0)
    yield running
    running.stop()


def alarm(hub: Hub, modem: SimulatedModem, device: str = "dev-a") -> tuple[int, dict[str, str]]:
    """A warm fridge; the reply code each number's SMS offered."""
    sent = len(modem.received)
    hub.pipeline.process([
        inbound(device, wire.Channel.STATUS, {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [
            {"sensor": "fridge-1", "kind": "temperature", "profile": "fridge", "name": "冷藏冰箱 1 号"}]}),
        inbound(device, wire.Channel.TELEMETRY, {"device": device, "boot_id": "b", "seq": 1, "readings": [
            {"sensor": "fridge-1", "kind": "temperature", "value": 9.5, "unit": "°C", "ts": 1000.0}]})])
    worker = hub.notifications.worker
    assert worker is not None
    worker.dispatcher.pump()
    texts: dict[str, str] = {}
    for part in modem.received[sent:]:
        texts[part.number] = texts.get(part.number, "") + part.text
    codes = {}
    for number, text in texts.items():
        found = re.search(r"回复 1（或“确认 (\d{4})”）即确认 #(\d+)$", text)
        assert found, text
        codes[number] = found.group(1)
    (alert,) = [a for a in hub.state.alerts() if a.subject == f"{device}/fridge-1"]
    assert alert.id is not None
    return alert.id, codes


def poll(hub: Hub) -> list[ReplyOutcome]:
    return [outcome for m in hub.notifications.modems() for outcome in hub.sms_replies.poll(m)]


def answers_to(modem: SimulatedModem, number: str) -> list[str]:
    """The hub's short answers to ``number`` (the alarm SMS themselves are several parts each)."""
    return [part.text for part in modem.received
            if part.number == number and part.concat is None and "回复 1" not in part.text]


def test_received_pdus_decode_in_ucs2_and_gsm_7_bit() -> None:
    assert decode_deliver(encode_deliver(COOK, "确认 4821")).text == "确认 4821"
    assert decode_deliver(encode_deliver(COOK, "1", ucs2=False)).text == "1"
    assert decode_deliver(encode_deliver(COOK, "ACK 4821", ucs2=False)).number == COOK


def test_a_reply_1_from_a_known_number_acknowledges_as_that_person(hub: Hub, modem: SimulatedModem) -> None:
    alert_id, codes = alarm(hub, modem)
    assert set(codes) == {COOK, MANAGER} and codes[COOK] != "" and len(codes[COOK]) == 4
    modem.deliver(COOK, "1", ucs2=False)
    assert [o.acknowledged for o in poll(hub)] == [alert_id]
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_by == "wang-cook" and alert.data.get("via") == "sms"
    (entry,) = [e for e in hub.state.audit_entries() if e.action == "acknowledge"]
    assert entry.actor == "wang-cook" and json.loads(entry.detail)["via"] == "sms"
    assert answers_to(modem, COOK) == [f"已确认报警 #{alert_id}（王师傅）。"]
    assert modem.inbox == {}  # read once, deleted from the SIM
    # The manager's code for the same alarm now finds it acknowledged.
    modem.deliver(MANAGER, f"确认 {codes[MANAGER]}")
    assert [o.acknowledged for o in poll(hub)] == [None]
    assert "已由 wang-cook 确认" in answers_to(modem, MANAGER)[-1]


def test_a_code_names_its_own_alarm(hub: Hub, modem: SimulatedModem) -> None:
    first, first_codes = alarm(hub, modem, "dev-a")
    second, _ = alarm(hub, modem, "dev-b")
    modem.deliver(COOK, f"确认 {first_codes[COOK]}")
    assert [o.acknowledged for o in poll(hub)] == [first]
    other = hub.state.alert(second)
    assert other is not None and other.acked_at is None


def test_an_unknown_number_acts_on_nothing_and_its_text_is_not_logged(
        hub: Hub, modem: SimulatedModem, caplog: pytest.LogCaptureFixture) -> None:
    alert_id, codes = alarm(hub, modem)
    caplog.set_level(logging.INFO)
    modem.deliver(STRANGER, f"确认 {codes[COOK]} 密码123456")
    assert [o.acknowledged for o in poll(hub)] == [None]
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_at is None
    assert "未在校安登记" in answers_to(modem, STRANGER)[0]
    assert "123456" not in caplog.text and codes[COOK] not in caplog.text and "…0000" in caplog.text


def test_a_stale_or_someone_elses_code_acts_on_nothing(hub: Hub, modem: SimulatedModem) -> None:
    alert_id, codes = alarm(hub, modem)
    modem.deliver(MANAGER, f"确认 {codes[COOK]}" if codes[COOK] != codes[MANAGER] else "确认 0000")
    assert [o.acknowledged for o in poll(hub)] == [None]
    clock = hub.sms_codes.clock
    assert isinstance(clock, Clock)
    clock.now += hub.sms_codes.ttl_s
    modem.deliver(COOK, "1", ucs2=False)
    assert [o.acknowledged for o in poll(hub)] == [None]
    assert "无效或已过期" in answers_to(modem, COOK)[-1]
    alert = hub.state.alert(alert_id)
    assert alert is not None and alert.acked_at is None


def test_a_phone_number_belongs_to_one_account(hub: Hub) -> None:
    other = make_user(hub, Role.GATEKEEPER, "zhao-gate")
    with pytest.raises(ValueError, match="another account"):
        hub.accounts.set_phone(other.id, COOK)
    with pytest.raises(ValueError, match="\\+86"):
        hub.accounts.set_phone(other.id, "13800138000")
    found = hub.accounts.user_by_phone(COOK)
    assert found is not None and found.username == "wang-cook"


def test_the_cli_sets_and_removes_a_mobile_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOAN_HOME", str(tmp_path))
    assert main(["user", "add", "wang-cook", "--role", "canteen_staff", "--random"]) == 0
    assert main(["user", "phone", "wang-cook", "13800138000"]) == 2  # not international
    assert main(["user", "phone", "wang-cook", COOK]) == 0
    accounts = AccountStore(tmp_path / "hub" / "hub.sqlite3")
    try:
        found = accounts.user_by_phone(COOK)
        assert found is not None and found.username == "wang-cook"
        assert main(["user", "phone", "wang-cook"]) == 0
        assert accounts.user_by_phone(COOK) is None
    finally:
        accounts.close()


def test_an_alarm_sms_carries_its_reply_code_instead_of_the_one_tap_links(modem: SimulatedModem) -> None:
    """Links for several people would fill an SMS; the code does the same in a few characters."""
    body = ("位置：冷藏冰箱 1 号\n当前 9.5 °C，上限 8 °C\n"
            "请确认 #42（本人一键链接，限用一次）：王师傅 https://x.cn/link/42/abcdefghijklmnopqrstuvwxyz012345"
            " · 李经理 https://x.cn/link/42/ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")
    notification = Notification(alert_id=42, incident_key="dev-a/fridge-1", severity=Severity.CRITICAL,
                                title="【紧急】冷藏冰箱 1 号 温度异常", body=body, tier="canteen", created_at=0.0,
                                wants_ack=True)
    channel = SmsChannel("sms", SerialModem(modem.path), [COOK], max_chars=120,
                         mint_code=lambda number, alert_id: "4821")
    assert channel.send(notification).ok
    text = "".join(part.text for part in modem.received)
    assert "/link/" not in text and "当前 9.5 °C" in text
    assert text.endswith("回复 1（或“确认 4821”）即确认 #42") and len(text) <= 120
