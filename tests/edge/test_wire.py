from __future__ import annotations

import json

import pytest

from edge import wire


def telemetry(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"device": "dev-a", "boot_id": "b1", "seq": 1,
                               "readings": [{"sensor": "fridge-1", "kind": "temperature", "value": 4.2,
                                             "unit": "°C", "ts": 1_700_000_000.0}]}
    base.update(overrides)
    return base


def test_topic_round_trip() -> None:
    raw = wire.topic("school-1", "canteen-1", wire.Channel.TELEMETRY)
    assert raw == "xiaoan/v1/school-1/canteen-1/telemetry"
    assert wire.parse_topic(raw) == wire.TopicParts("school-1", "canteen-1", wire.Channel.TELEMETRY)


@pytest.mark.parametrize(("raw", "reason"), [
    ("xiaoan/v1/s/d", "unknown topic"),
    ("other/v1/s/d/telemetry", "unknown topic"),
    ("xiaoan/v2/s/d/telemetry", "unsupported wire version"),
    ("xiaoan/v1/s/d/bogus", "unknown channel"),
    ("xiaoan/v1/s/d$x/telemetry", "invalid device"),
])
def test_bad_topics_name_the_problem(raw: str, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason):
        wire.parse_topic(raw)


def test_valid_telemetry_decodes_and_carries_identity() -> None:
    message = wire.decode(wire.Channel.TELEMETRY, json.dumps(telemetry()).encode(), device="dev-a")
    assert message.message_id == wire.MessageId("dev-a", "b1", 1)
    assert message.readings[0].value == 4.2


def test_unknown_fields_are_ignored() -> None:
    payload = telemetry(firmware="2.1", extra={"a": 1})
    assert wire.decode(wire.Channel.TELEMETRY, json.dumps(payload).encode()).seq == 1


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "malformed JSON"),
    (json.dumps(telemetry(seq="1")).encode(), "seq"),
    (json.dumps({"device": "dev-a", "seq": 1}).encode(), "boot_id"),
    (json.dumps(telemetry(readings=[])).encode(), "readings"),
    (b'{"device":"dev-a","boot_id":"b","seq":1,"readings":[{"sensor":"s","kind":"t","value":NaN,"ts":1}]}',
     "finite"),
    (json.dumps(telemetry(readings=[{"sensor": "s", "kind": "t", "value": "4.2", "ts": 1}])).encode(), "value"),
    (b"x" * (wire.MAX_PAYLOAD_BYTES + 1), "exceeds"),
])
def test_invalid_payloads_raise_wire_error_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason):
        wire.decode(wire.Channel.TELEMETRY, payload)


def test_a_device_cannot_speak_for_another() -> None:
    with pytest.raises(wire.WireError, match="does not match"):
        wire.decode(wire.Channel.TELEMETRY, json.dumps(telemetry()).encode(), device="dev-b")


def test_encode_is_decodable() -> None:
    status = wire.Status(state="online", boot_id="b", version="1", ts=1.0,
                         sensors=(wire.SensorInfo(sensor="f", kind="temperature", profile="fridge"),))
    assert wire.decode(wire.Channel.STATUS, wire.encode(status)) == status


def test_stored_seqs_travel_as_sorted_ranges() -> None:
    assert wire.seq_ranges([7, 3, 1, 2, 8, 3, 5]) == ((1, 3), (5, 5), (7, 8))
    assert wire.seq_ranges([]) == ()
    command = wire.stored_command({"boot-a": range(1, 501), "boot-b": [9]}, ts=5.0)
    decoded = wire.decode(wire.Channel.CMD, wire.encode(command))
    assert decoded.action == "stored"
    assert [(g.boot_id, g.seqs) for g in decoded.stored] == [("boot-a", ((1, 500),)), ("boot-b", ((9, 9),))]


@pytest.mark.parametrize("seqs", [[[3, 1]], [[-1, 2]], [[1, wire.MAX_SEQ + 1]], [], [[1, 2, 3]]])
def test_a_stored_range_must_be_ordered_and_in_bounds(seqs: list[list[int]]) -> None:
    payload = json.dumps({"action": "stored", "ts": 1.0, "stored": [{"boot_id": "b", "seqs": seqs}]})
    with pytest.raises(wire.WireError, match="seqs"):
        wire.decode(wire.Channel.CMD, payload.encode())


def test_a_status_says_which_offset_each_sensor_applies_and_where_it_comes_from() -> None:
    payload = {"state": "online", "boot_id": "b", "ts": 1.0, "sensors": [
        {"sensor": "fridge-1", "kind": "temperature", "offset": -0.325, "offset_source": "hub", "calibration": 12,
         "hardware_id": "28-0316a2791dff"},
        {"sensor": "door-1", "kind": "door"}]}  # an older node, or a sensor without an offset: none of the fields
    status = wire.decode(wire.Channel.STATUS, json.dumps(payload).encode())
    fridge, door = status.sensors
    assert (fridge.offset, fridge.offset_source, fridge.calibration, fridge.hardware_id) == (
        -0.325, "hub", 12, "28-0316a2791dff")
    assert (door.offset, door.offset_source, door.calibration, door.hardware_id) == (None, "", None, "")
    with pytest.raises(wire.WireError, match="offset_source"):
        wire.decode(wire.Channel.STATUS, json.dumps(
            {**payload, "sensors": [{"sensor": "f", "kind": "temperature", "offset_source": "hub\nfake"}]}).encode())


def test_set_offset_carries_a_bounded_offset_for_one_sensor() -> None:
    command = wire.Command(action="set_offset", ts=1.0, sensor="fridge-1", offset=-0.325, calibration=12)
    decoded = wire.decode(wire.Channel.CMD, wire.encode(command))
    assert (decoded.action, decoded.sensor, decoded.offset, decoded.calibration) == ("set_offset", "fridge-1",
                                                                                     -0.325, 12)
    for bad in ({"offset": wire.MAX_OFFSET + 0.01}, {"offset": "0.3"}, {"sensor": "a/b", "offset": 0.1}):
        payload = {"action": "set_offset", "ts": 1.0, "sensor": "fridge-1", **bad}
        with pytest.raises(wire.WireError):
            wire.decode(wire.Channel.CMD, json.dumps(payload).encode())
    with pytest.raises(wire.WireError, match="action"):  # the old, never implemented action is no longer valid
        wire.decode(wire.Channel.CMD, b'{"action": "reload_config", "ts": 1.0}')
