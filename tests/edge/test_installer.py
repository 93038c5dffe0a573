"""The installer's tools: the example device configs, check-config and scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.configfile import load_edge_settings
from edge.sources import SOURCES
from edge.yamlconfig import ConfigError
from hub.cli import main
from tests.edge.conftest import W1_OK, write_probe

DEVICES = Path(__file__).resolve().parents[2] / "firmware-config" / "devices"
EXAMPLES = sorted(DEVICES.glob("*.yaml"))


def test_there_are_the_three_example_nodes() -> None:
    assert {p.stem for p in EXAMPLES} >= {"canteen-cold-chain", "gate-node", "sample-station"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_passes_check_config(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Syntax only: the files they name (/etc/xiaoan/mqtt-password) are the Pi's, not this machine's.
    assert main(["edge", "check-config", "--syntax-only", str(path)]) == 0
    assert "OK" in capsys.readouterr().out
    settings = load_edge_settings(path)
    for source in settings.sources:
        assert source.kind in SOURCES


def test_examples_cover_every_hardware_kind() -> None:
    kinds = {s.kind for path in EXAMPLES for s in load_edge_settings(path).sources}
    assert kinds == {k for k in SOURCES if not k.startswith("simulated")}


def test_a_nested_source_key_error_names_file_line_and_key(tmp_path: Path) -> None:
    text = (DEVICES / "canteen-cold-chain.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "edge.yaml"
    bad.write_text(text.replace("data_type: uint16", "data_type: uint12"), encoding="utf-8")
    line = next(n for n, row in enumerate(bad.read_text().splitlines(), 1) if "uint12" in row)
    with pytest.raises(ConfigError) as caught:
        load_edge_settings(bad)
    assert f"{bad}:{line}: sources.1.registers.1.data_type: Input should be" in str(caught.value)
    assert main(["edge", "check-config", str(bad)]) == 2


def test_a_bad_probe_id_and_an_unknown_profile_are_both_reported(tmp_path: Path) -> None:
    text = (DEVICES / "canteen-cold-chain.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "edge.yaml"
    bad.write_text(text.replace("28-0316a2792bff", "28-nothex").replace("profile: sample_fridge", "profile: fridgee"),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_edge_settings(bad)
    message = str(caught.value)
    assert "sources.0.probes.0.id: String should match pattern" in message
    assert "sources.0.probes.2: Value error, unknown profile 'fridgee'" in message


def test_scan_lists_probes_with_a_reading(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_probe(tmp_path, "28-0316a2792bff", W1_OK.format(milli=3875))
    write_probe(tmp_path, "28-0416a27a11ff", W1_OK.format(milli=85000))
    assert main(["edge", "scan", "--w1-base", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "28-0316a2792bff  DS18B20" in out and "3.875 °C" in out
    assert "fault: power_on_value" in out
    assert "serial ports:" in out


def test_scan_explains_a_missing_1wire_bus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "scan", "--w1-base", str(tmp_path / "nope")]) == 0
    assert "dtoverlay=w1-gpio" in capsys.readouterr().out


def test_a_door_without_a_sensor_id_is_refused(tmp_path: Path) -> None:
    text = (DEVICES / "gate-node.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "edge.yaml"
    bad.write_text(text.replace("    sensor: main-gate\n", ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"edge.yaml:\d+: sources.0.kind: a door source needs a sensor id"):
        load_edge_settings(bad)
