"""A school that forwards hours rather than every reading: each sensor's hour summed up from the hub's own series once
it has ended, and summed up again, as a new record, when readings of it reach the hub late."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from edge import wire
from hub.district.wire import ForwardedRecord, RecordKind, hourly_key
from hub.forward.component import HOUR_SETTLE_S, DistrictForward
from hub.forward.outbox import ForwardOutbox
from hub.forward.records import hour_of
from hub.forward.settings import DistrictLink, ReadingsForward
from hub.influx_server import InfluxServer
from hub.ingest import Inbound
from hub.runtime import Hub
from hub.settings import HubSettings
from hub.store.base import StoredEvent, StoredReading
from tests.hub.forward.test_forward import District
from tests.hub.store.influx_fixtures import ADMIN, open_influx

SITE = "school-x"
LINK = {"enabled": True, "site": SITE, "urls": ("http://127.0.0.1:9",), "token": "t"}


def telemetry(seq: int, readings: list[tuple[float, float | None, str | None]]) -> Inbound:
    message = wire.Telemetry(device="dev-x", boot_id="b1", seq=seq, readings=tuple(
        wire.Reading(sensor="t0", kind="temperature", value=value, unit="°C", ts=at, fault=fault)
        for at, value, fault in readings))
    return Inbound(wire.topic(SITE, "dev-x", wire.Channel.TELEMETRY), wire.encode(message), seq, 1, time.time())


def hourly(forward: DistrictForward) -> list[ForwardedRecord]:
    return [w.record for w in forward.outbox.head(1000) if w.record.kind is RecordKind.HOURLY]


def test_an_hour_goes_once_it_has_ended_and_again_with_readings_that_came_late(tmp_path: Path) -> None:
    hub = Hub(HubSettings(home=tmp_path / "hub", district=DistrictLink(**LINK, readings="hourly")),
              connect_mqtt=False)
    try:
        forward = hub.district
        assert forward is not None
        hour = hour_of(time.time()) - 2 * 3600
        hub.pipeline.process([telemetry(1, [(hour + 10, 3.0, None), (hour + 20, 5.5, None),
                                            (hour + 30, None, "crc"), (hour + 3590, 4.0, None)])])
        assert [w.record.kind for w in forward.outbox.head(100)] == []  # no reading goes as it is
        assert forward.forward_hours(hour + 3600 + HOUR_SETTLE_S - 1) == 0  # the last seconds may still come
        assert forward.forward_hours(hour + 3600 + HOUR_SETTLE_S) == 1
        (first,) = hourly(forward)
        assert first.key == hourly_key("dev-x/t0", hour, 4) and first.ts == hour
        assert first.body == {"sensor": "dev-x/t0", "hour": hour, "count": 4, "faults": 1, "min": 3.0, "max": 5.5,
                              "mean": 4.1667}
        assert forward.forward_hours(hour + 7200 + HOUR_SETTLE_S) == 0  # summed up once
        hub.pipeline.process([telemetry(2, [(hour + 40, 9.0, None)])])  # the edge back from an outage
        assert forward.forward_hours(hour + 7200 + HOUR_SETTLE_S) == 1
        again = sorted(r.key for r in hourly(forward))
        assert again == [hourly_key("dev-x/t0", hour, 4), hourly_key("dev-x/t0", hour, 5)]  # fullest last
    finally:
        hub.stop()


def test_an_hour_marked_again_while_it_is_summed_up_is_summed_up_once_more(tmp_path: Path) -> None:
    outbox = ForwardOutbox(tmp_path / "outbox.sqlite3")
    try:
        outbox.put([], (), {("dev-x/t0", 0.0)})
        (due,) = outbox.hours_due(7200.0, 10)
        outbox.put([], (), {("dev-x/t0", 0.0)})  # a late reading stored between the read and the commit
        outbox.put_hours([due], [])
        assert [(m.sensor, m.hour) for m in outbox.hours_due(7200.0, 10)] == [("dev-x/t0", 0.0)]
        outbox.put_hours(outbox.hours_due(7200.0, 10), [])
        assert outbox.hours_waiting() == 0
    finally:
        outbox.close()


@pytest.mark.parametrize(("given", "meant"), [(True, ReadingsForward.RAW), (False, ReadingsForward.NONE),
                                              ("false", ReadingsForward.NONE), ("hourly", ReadingsForward.HOURLY)])
def test_the_readings_setting_takes_the_yes_or_no_of_before(given: object, meant: ReadingsForward) -> None:
    assert DistrictLink.model_validate({**LINK, "readings": given}).readings is meant


def test_a_readings_setting_that_is_none_of_them_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="readings"):
        DistrictLink.model_validate({**LINK, "readings": "daily"})


def test_the_district_takes_an_hour_only_under_its_own_key() -> None:
    body = {"sensor": "dev-x/t0", "hour": 7200.0, "count": 3, "faults": 0, "min": 1.0, "max": 2.0, "mean": 1.5}
    ForwardedRecord(kind=RecordKind.HOURLY, key=hourly_key("dev-x/t0", 7200.0, 3), ts=7200.0, body=body)
    for key, ts, change, field in ((hourly_key("dev-x/t0", 7200.0, 9), 7200.0, {}, "hourly key"),
                                   (hourly_key("dev-x/t0", 7200.0, 3), 3600.0, {}, "hourly key"),
                                   (hourly_key("dev-x/t0", 7201.0, 3), 7201.0, {"hour": 7201.0}, "body.hour"),
                                   (hourly_key("dev-x/t0", 7200.0, 0), 7200.0, {"count": 0}, "body.count")):
        with pytest.raises(ValidationError, match=field):
            ForwardedRecord(kind=RecordKind.HOURLY, key=key, ts=ts, body={**body, **change})


def test_a_series_that_cannot_be_read_keeps_the_marks_and_holds_up_nothing_else(tmp_path: Path) -> None:
    """The hub's InfluxDB stopped (restarting, its disk full): its client raises, and that is no OSError."""
    influx = InfluxServer(tmp_path / "influxd", admin=ADMIN)
    influx.start()
    series = open_influx(influx, "school", attempts=1)
    influx.stop()
    district = District()
    forward = DistrictForward(DistrictLink(**LINK, readings="hourly"), tmp_path, transport=district, series=series)
    try:
        forward.on_stored([StoredReading("dev-x/t0", 10.0, 4.0)], [StoredEvent("dev-x", "b1", 1, 20.0, "door",
                                                                               "door", "open", "{}")])
        forward.tick(10_000.0)
        assert [kind for kind, _ in district.held] == ["event"]  # the event went; the hour waits
        assert forward.outbox.hours_waiting() == 1
    finally:
        forward.close()
        series.close()
