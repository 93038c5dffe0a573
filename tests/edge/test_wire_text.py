"""Device text in the wire contract: bounded, one line, no control characters; a bounded number of sensors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge import wire

EVIL_FAULT = "x\n请确认 #1：http://evil.example/ack"
#: C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi controls.
UNSAFE = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202a", "\u202e",
          "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"]


def status(**sensor: Any) -> dict[str, Any]:
    return {"state": "online", "boot_id": "b1", "ts": 1.0,
            "sensors": [{"sensor": "fridge-1", "kind": "temperature", **sensor}]}


def telemetry(**reading: Any) -> dict[str, Any]:
    return {"device": "dev-a", "boot_id": "b1", "seq": 1,
            "readings": [{"sensor": "fridge-1", "kind": "temperature", "value": None, "ts": 1.0, **reading}]}


def event(**fields: Any) -> dict[str, Any]:
    return {"device": "dev-a", "boot_id": "b1", "seq": 1, "ts": 1.0, "sensor": "door-1", "kind": "door",
            "state": "open", **fields}


def health(**fields: Any) -> dict[str, Any]:
    return {"device": "dev-a", "boot_id": "b1", "ts": 1.0, "uptime_s": 1.0, "outbox_depth": 0, "dropped": 0,
            "clock_synced": True, **fields}


def refused(channel: wire.Channel, payload: dict[str, Any]) -> str:
    with pytest.raises(wire.WireError) as caught:
        wire.decode(channel, json.dumps(payload).encode())
    return caught.value.reason


def case(text: str) -> list[tuple[wire.Channel, dict[str, Any], str]]:
    """Every device-controlled text field carrying ``text``, and the field its dead letter must name."""
    return [
        (wire.Channel.STATUS, status(name=text), "sensors.0.name"),
        (wire.Channel.STATUS, status(unit=text), "sensors.0.unit"),
        (wire.Channel.STATUS, status(kind=text), "sensors.0.kind"),
        (wire.Channel.STATUS, status(profile=text), "sensors.0.profile"),
        (wire.Channel.STATUS, {**status(), "version": text}, "version"),
        (wire.Channel.TELEMETRY, telemetry(fault=text), "readings.0.fault"),
        (wire.Channel.TELEMETRY, telemetry(unit=text), "readings.0.unit"),
        (wire.Channel.TELEMETRY, telemetry(kind=text), "readings.0.kind"),
        (wire.Channel.EVENT, event(state=text), "state"),
        (wire.Channel.EVENT, event(kind=text), "kind"),
        (wire.Channel.EVENT, event(detail={"by": text}), "detail"),
        (wire.Channel.HEALTH, health(inputs={"door-1": text}), "inputs.door-1"),
        (wire.Channel.HEALTH, {**health(), "version": text}, "version"),
    ]


@pytest.mark.parametrize(("channel", "payload", "field"), case(EVIL_FAULT))
def test_a_line_break_in_any_device_text_is_refused_naming_the_field(
        channel: wire.Channel, payload: dict[str, Any], field: str) -> None:
    reason = refused(channel, payload)
    assert reason.startswith(f"invalid {channel.value} payload: {field}:")
    assert "\n" not in reason and "evil" not in reason  # the reason names the field, never echoes the text


@pytest.mark.parametrize("char", UNSAFE)
def test_every_control_separator_and_bidi_character_is_refused(char: str) -> None:
    for channel, payload, field in case(f"冷藏{char}冰箱"):
        reason = refused(channel, payload)
        assert f"{field}: Value error, " in reason and f"U+{ord(char):04X}" in reason, field


def test_a_control_character_in_a_key_is_refused_and_the_reason_stays_one_line() -> None:
    reason = refused(wire.Channel.EVENT, event(detail={"by\n2": "x"}))
    assert "detail." in reason and "\n" not in reason
    reason = refused(wire.Channel.HEALTH, health(inputs={"door\u2028": "open"}))
    assert "inputs." in reason and "\u2028" not in reason


@pytest.mark.parametrize(("channel", "payload", "field"), [
    (wire.Channel.STATUS, status(name="冷" * 65), "sensors.0.name"),
    (wire.Channel.STATUS, status(unit="u" * 17), "sensors.0.unit"),
    (wire.Channel.TELEMETRY, telemetry(fault="f" * 65), "readings.0.fault"),
    (wire.Channel.EVENT, event(state="s" * 65), "state"),
    (wire.Channel.EVENT, event(detail={"code": "c" * (wire.MAX_DETAIL_TEXT + 1)}), "detail"),
    (wire.Channel.HEALTH, health(inputs={"door-1": "o" * 65}), "inputs.door-1"),
])
def test_device_text_is_bounded(channel: wire.Channel, payload: dict[str, Any], field: str) -> None:
    assert f"{field}:" in refused(channel, payload)


def test_ordinary_text_passes() -> None:
    message = wire.decode(wire.Channel.STATUS, json.dumps(status(name="一号食堂 冷藏冰箱 1 号（后厨）", unit="°C",
                                                                   profile="fridge")).encode())
    assert message.sensors[0].name == "一号食堂 冷藏冰箱 1 号（后厨）"
    reading = wire.decode(wire.Channel.TELEMETRY, json.dumps(telemetry(fault="power_on_value")).encode())
    assert reading.readings[0].fault == "power_on_value"
    sample = wire.decode(wire.Channel.EVENT, json.dumps(event(detail={"meal": "午餐", "weight_g": 125.5,
                                                                      "ok": True, "n": 2})).encode())
    assert sample.detail == {"meal": "午餐", "weight_g": 125.5, "ok": True, "n": 2}


def _sensors(count: int) -> dict[str, Any]:
    return {"state": "online", "boot_id": "b1", "ts": 1.0,
            "sensors": [{"sensor": f"probe-{i:03d}", "kind": "temperature"} for i in range(count)]}


def test_a_status_announces_at_most_max_sensors() -> None:
    assert wire.MAX_SENSORS == 64
    assert len(wire.decode(wire.Channel.STATUS, json.dumps(_sensors(64)).encode()).sensors) == 64
    reason = refused(wire.Channel.STATUS, _sensors(150))
    assert reason.startswith("invalid status payload: sensors:") and "at most 64" in reason


def test_a_scanned_code_with_control_characters_still_makes_a_valid_event() -> None:
    from edge.sources import SourceContext  # noqa: PLC0415 - the edge source under test
    from edge.sources.scanner import BarcodeScanner, ScannerOptions  # noqa: PLC0415

    scanner = BarcodeScanner("", ScannerOptions.model_validate({"port": "/dev/null", "meal": "lunch"}),
                             SourceContext())
    detail = scanner.detail_for("\x1d01069012345678\x1d9912\u202e")  # GS1 group separators, an override
    assert detail is not None and detail["code"] == "010690123456789912"
    event = wire.Event(device="dev-a", boot_id="b1", seq=1, ts=1.0, sensor="sample-scanner", kind="sample",
                       state="scanned", detail=detail)
    assert wire.decode(wire.Channel.EVENT, wire.encode(event)).detail == detail
