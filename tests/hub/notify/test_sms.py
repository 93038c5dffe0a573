from __future__ import annotations

import dataclasses
import time

import pytest

from hub.alerts.kinds import Severity
from hub.notify.base import Notification
from hub.notify.pdu import PduError, encode_address, encode_submit
from hub.notify.sms import ModemError, ModemTimeout, SerialModem, SmsChannel
from tests.hub.notify.modem_sim import SimulatedModem, decode_submit

NUMBER = "+8613800138000"
LONG_TEXT = ("【紧急】一号食堂 冷藏冰箱1 温度异常\n位置：一号食堂 冷藏冰箱1（kitchen-pi-1/fridge1）\n"
             "当前 11.3 °C，上限 8 °C，超出 3.3 °C（峰值 12 °C）\n开始：03-05 14:20（已持续 25 分钟）\n"
             "请确认 #42：http://hub.local:8000/alerts/42 😀")


def _notification(title: str = "【紧急】冷藏冰箱1 温度异常", body: str = "当前 11.3 °C，上限 8 °C") -> Notification:
    return Notification(alert_id=42, incident_key="kitchen-pi-1/fridge1", severity=Severity.CRITICAL, title=title,
                        body=body, tier="staff", created_at=0.0, subject="kitchen-pi-1/fridge1")


def test_address_is_swapped_semi_octets() -> None:
    assert encode_address("+8613800138000").hex().upper() == "0D91683108108300F0"
    with pytest.raises(PduError):
        encode_address("13800138000")


def test_short_message_is_one_pdu_with_declared_length() -> None:
    [part] = encode_submit(NUMBER, "冷藏冰箱温度异常")
    decoded = decode_submit(part.hex)
    assert decoded.number == NUMBER
    assert decoded.dcs == 0x08
    assert decoded.text == "冷藏冰箱温度异常"
    assert decoded.concat is None
    assert decoded.actual_length == part.tpdu_length


def test_seventy_characters_fit_one_part_seventy_one_do_not() -> None:
    assert len(encode_submit(NUMBER, "冷" * 70)) == 1
    parts = encode_submit(NUMBER, "冷" * 71, reference=9)
    assert [decode_submit(p.hex).concat for p in parts] == [(9, 2, 1), (9, 2, 2)]
    assert "".join(decode_submit(p.hex).text for p in parts) == "冷" * 71


def test_long_message_splits_without_breaking_surrogate_pairs() -> None:
    text = "冷" * 66 + "😀" + "藏" * 10  # the emoji straddles the 67-unit boundary
    parts = encode_submit(NUMBER, text)
    decoded = [decode_submit(p.hex) for p in parts]
    assert "".join(d.text for d in decoded) == text
    assert all(len(d.text.encode("utf-16-be")) <= 134 for d in decoded)


def test_chinese_text_arrives_intact_through_the_pty_modem() -> None:
    with SimulatedModem() as modem:
        refs = SerialModem(modem.path, command_timeout_s=5).send_sms(NUMBER, LONG_TEXT)
        assert len(refs) == len(modem.received) > 1
    assert "AT+CMGF=0" in modem.commands
    assert all(sms.number == NUMBER and sms.dcs == 0x08 for sms in modem.received)
    assert all(sms.declared_length == sms.actual_length for sms in modem.received)
    totals = {sms.concat[1] for sms in modem.received if sms.concat}
    assert totals == {len(modem.received)}
    ordered = sorted(modem.received, key=lambda s: s.concat[2] if s.concat else 0)
    assert "".join(s.text for s in ordered) == LONG_TEXT


def test_channel_texts_every_number_and_international_recipients() -> None:
    with SimulatedModem() as modem:
        channel = SmsChannel("sms", SerialModem(modem.path), [NUMBER], max_chars=200)
        note = dataclasses.replace(_notification(), recipients=("+8613900139000", "王师傅"))
        result = channel.send(note)
    assert result.ok, result.error
    assert sorted({s.number for s in modem.received}) == [NUMBER, "+8613900139000"]
    assert all("冷藏冰箱1" in s.text for s in modem.received if s.concat is None or s.concat[2] == 1)


def test_modem_error_fails_the_delivery() -> None:
    with SimulatedModem(behaviour="error") as modem:
        result = SmsChannel("sms", SerialModem(modem.path), [NUMBER]).send(_notification())
    assert not result.ok
    assert "ERROR" in result.error


def test_cms_error_after_the_pdu_fails_the_delivery() -> None:
    with SimulatedModem(behaviour="cms_error") as modem, pytest.raises(ModemError, match="CMS ERROR: 500"):
        SerialModem(modem.path).send_sms(NUMBER, "测试")


def test_silent_modem_times_out() -> None:
    with SimulatedModem(behaviour="silent") as modem:
        started = time.monotonic()
        with pytest.raises(ModemTimeout):
            SerialModem(modem.path, command_timeout_s=0.5).send_sms(NUMBER, "测试")
        assert time.monotonic() - started < 30  # bounded by the deadline, not hung
        result = SmsChannel("sms", SerialModem(modem.path, command_timeout_s=0.3), [NUMBER]).send(_notification())
    assert not result.ok and "no answer" in result.error


def test_missing_port_fails_without_raising() -> None:
    result = SmsChannel("sms", SerialModem("/dev/does-not-exist-xiaoan"), [NUMBER]).send(_notification())
    assert not result.ok and "cannot open" in result.error
