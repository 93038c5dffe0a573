"""The InfluxDB store's line protocol is what ``influxdb_client.Point`` writes, cached or not."""

from __future__ import annotations

from typing import Any

import pytest
from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from hub.store.influx_series import Fields, LineEncoder, Tags

ODD = ["plain", "with space", "a,b", "k=v", "冰箱 一号", 'quote"d', "back\\slash", "tab\there", ""]


def point_line(measurement: str, tags: Tags, fields: Fields, ts_ns: int) -> str:
    point: Any = Point(measurement)  # type: ignore[no-untyped-call]
    for key, tag in tags:
        if tag:
            point.tag(key, tag)
    for key, value in fields:
        if value is not None:
            point.field(key, value)
    text: str = point.time(ts_ns, WritePrecision.NS).to_line_protocol()
    return text


@pytest.mark.parametrize("value", ODD)
def test_odd_tags_and_fields_match_point(value: str) -> None:
    encoder = LineEncoder()
    tags: Tags = (("sensor", f"dev/{value}"), ("site", value or None), ("device", "dev"))
    fields: Fields = (("value", 4.0), ("fault", value or None), ("synced", True), ("seq", 7))
    expected = point_line("reading", tags, fields, 1_700_000_000_123_000_000)
    assert encoder.line("reading", tags, fields, 1_700_000_000_123_000_000) == expected
    assert encoder.line("reading", tags, fields, 1_700_000_000_123_000_000) == expected  # from the caches
    assert encoder.line("reading", tags, fields, 1, cache_fields=False) == point_line("reading", tags, fields, 1)


def test_equal_values_of_other_types_are_not_confused() -> None:
    """4.0, 4 and True are equal dict keys, but a float, an integer and a boolean field."""
    encoder = LineEncoder()
    tags: Tags = (("sensor", "d/t"),)
    lines = [encoder.line("m", tags, (("v", value),), 1) for value in (4.0, 4, True, 1, 1.0)]
    assert lines == ["m,sensor=d/t v=4 1", "m,sensor=d/t v=4i 1", "m,sensor=d/t v=true 1", "m,sensor=d/t v=1i 1",
                     "m,sensor=d/t v=1 1"]


def test_caches_start_over_when_full() -> None:
    encoder = LineEncoder(max_entries=3)
    lines = [encoder.line("m", (("sensor", f"d/t{i}"),), (("v", float(i)),), i) for i in range(10)]
    assert lines == [f"m,sensor=d/t{i} v={i} {i}" for i in range(10)]
    assert len(encoder._keys) <= 3 and len(encoder._fields) <= 3


def test_a_point_without_fields_is_empty() -> None:
    assert LineEncoder().line("m", (("sensor", "d/t"),), (("v", None),), 1) == ""
