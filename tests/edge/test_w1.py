from __future__ import annotations

from pathlib import Path

import pytest

from edge.sources import SourceContext
from edge.sources.w1 import Ds18b20, Ds18b20Options, list_probes, parse_w1_slave
from tests.edge.conftest import W1_OK, write_probe

CRC_NO = "72 01 4b 46 7f ff 0e 10 57 : crc=ff NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"
POWER_ON = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"
UNPLUGGED = "ff ff ff ff ff ff ff ff ff : crc=c9 YES\nff ff ff ff ff ff ff ff ff t=-62\n"
MINUS_127 = "01 f8 4b 46 7f ff 0c 10 3e : crc=3e YES\n01 f8 4b 46 7f ff 0c 10 3e t=-127000\n"
ZEROS = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n"


@pytest.mark.parametrize(("text", "milli", "fault"), [
    (W1_OK.format(milli=23125), 23125, None),
    (W1_OK.format(milli=-18250), -18250, None),
    (W1_OK.format(milli=0), 0, None),
    (CRC_NO, None, "crc"),
    (POWER_ON, None, "power_on_value"),
    (UNPLUGGED, None, "disconnected"),
    (MINUS_127, None, "disconnected"),
    (ZEROS, None, "no_data"),
    (W1_OK.format(milli=150000), None, "out_of_range"),
    ("", None, "malformed"),
    ("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", None, "malformed"),
    (W1_OK.format(milli="abc"), None, "malformed"),
])
def test_parse_w1_slave(text: str, milli: int | None, fault: str | None) -> None:
    result = parse_w1_slave(text)
    assert (result.millidegrees, result.fault) == (milli, fault)


def source(base: Path, probes: list[dict[str, object]], **extra: object) -> Ds18b20:
    options = Ds18b20Options.model_validate({"probes": probes, **extra})
    return Ds18b20("", options, SourceContext(w1_base=str(base)))


def test_several_probes_by_id_with_calibration_and_faults(tmp_path: Path) -> None:
    write_probe(tmp_path, "28-0316a2792bff", W1_OK.format(milli=4125))
    write_probe(tmp_path, "28-0416a27a11ff", POWER_ON)
    write_probe(tmp_path, "28-0516a27a22ff", CRC_NO)
    probes = source(tmp_path, [
        {"id": "28-0316A2792BFF", "sensor": "fridge-1", "profile": "fridge", "offset": -0.25, "name": "冷藏一"},
        {"id": "28-0416a27a11ff", "sensor": "freezer-1", "profile": "freezer"},
        {"id": "28-0516a27a22ff", "sensor": "sample-fridge", "profile": "sample_fridge"},
        {"id": "28-0000deadbeef", "sensor": "cold-room"},
    ])
    readings = {m.sensor: (m.value, m.fault) for m in probes.read()}
    assert readings == {
        "fridge-1": (3.875, None),
        "freezer-1": (None, "power_on_value"),
        "sample-fridge": (None, "crc"),
        "cold-room": (None, "disconnected"),  # its directory is gone from sysfs
    }
    info = {i.sensor: i for i in probes.describe()}
    assert info["fridge-1"].profile == "fridge" and info["fridge-1"].name == "冷藏一"
    assert info["freezer-1"].unit == "°C"


def test_a_crc_failure_is_retried_before_it_is_a_fault(tmp_path: Path) -> None:
    write_probe(tmp_path, "28-0316a2792bff", CRC_NO)
    probe = source(tmp_path, [{"id": "28-0316a2792bff", "sensor": "f"}], crc_retries=0)
    assert probe.read()[0].fault == "crc"
    write_probe(tmp_path, "28-0316a2792bff", W1_OK.format(milli=5000))
    assert probe.read()[0].value == 5.0


def test_duplicate_probe_ids_or_sensors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate sensor"):
        Ds18b20Options.model_validate({"probes": [{"id": "28-0316a2792bff", "sensor": "a"},
                                                  {"id": "28-0416a27a11ff", "sensor": "a"}]})
    with pytest.raises(ValueError, match="String should match pattern"):
        Ds18b20Options.model_validate({"probes": [{"id": "28-xyz", "sensor": "a"}]})


def test_list_probes_keeps_thermometers_only(tmp_path: Path) -> None:
    write_probe(tmp_path, "28-0316a2792bff", W1_OK.format(milli=1))
    write_probe(tmp_path, "10-000802b4c1d2", W1_OK.format(milli=1))
    (tmp_path / "w1_bus_master1").mkdir()
    (tmp_path / "29-000000000001").mkdir()  # a DS2408 switch, not a thermometer
    assert list_probes(tmp_path) == ["10-000802b4c1d2", "28-0316a2792bff"]
    assert list_probes(tmp_path / "missing") == []
