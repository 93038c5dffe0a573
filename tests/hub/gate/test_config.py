"""The example gate config loads into HubConfig; a bad one names file, line and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from edge.yamlconfig import ConfigError, load_model
from hub.calendar import SchoolCalendar
from hub.settings import HubConfig

EXAMPLE = Path(__file__).resolve().parents[3] / "firmware-config" / "hub" / "gate.example.yaml"


def test_the_example_loads() -> None:
    config = load_model(HubConfig, EXAMPLE)
    calendar = SchoolCalendar(config.calendar)
    assert calendar.day_type(dt.date(2027, 1, 1)) == "holiday"
    assert calendar.day_type(dt.date(2027, 2, 7)) == "vacation"  # a swapped working Sunday, before term
    assert calendar.day_type(dt.date(2026, 7, 20)) == "vacation"
    assert calendar.openings("main", dt.date(2026, 12, 24)) == []
    assert len(config.gate.routes["campus"].rounds) >= 5
    assert config.alerts.defaults.door_open_max_s["gate"] == 900


@pytest.mark.parametrize(("old", "new", "key"), [
    ("checkpoints: [gatehouse, playground, canteen, dorm]", "checkpoints: [gatehouse, nowhere]", "gate"),
    ('{start: "07:00", end: "09:00"}', '{start: "07:00", end: "9 o\'clock"}', "gate.routes.campus.day_rounds.0.end"),
    ("close_grace_s: 600", "close_grace_s: -1", "calendar.groups.main.close_grace_s"),
])
def test_a_bad_key_names_file_line_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "hub.yaml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_model(HubConfig, bad)
    assert f"{bad}:" in str(caught.value) and f": {key}:" in str(caught.value)
