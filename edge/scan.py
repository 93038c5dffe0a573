"""``xiaoan edge scan``: what hardware an installer's Pi can see, to copy into a device config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.sources.w1 import THERMOMETER_FAMILIES, list_probes, read_probe


@dataclass(frozen=True)
class FoundProbe:
    id: str
    family: str
    #: The temperature now, or the fault that replaced it.
    reading: str


@dataclass(frozen=True)
class FoundPort:
    device: str
    description: str
    hwid: str


def scan_w1(base: Path) -> list[FoundProbe]:
    """Every temperature probe under the 1-wire sysfs directory, with one reading each."""
    found = []
    for probe_id in list_probes(base):
        result = read_probe(base, probe_id)
        milli = result.millidegrees
        reading = f"fault: {result.fault}" if milli is None else f"{milli / 1000:.3f} °C"
        found.append(FoundProbe(probe_id, THERMOMETER_FAMILIES[probe_id[:2].lower()], reading))
    return found


def scan_serial() -> list[FoundPort]:
    """Serial ports (USB adapters, the Pi's UART), as pyserial lists them."""
    from serial.tools import list_ports  # noqa: PLC0415 - pyserial is an edge extra

    return [FoundPort(p.device, p.description or "", p.hwid or "") for p in sorted(list_ports.comports())]


def format_scan(base: Path, probes: list[FoundProbe], ports: list[FoundPort]) -> str:
    lines = [f"1-wire probes under {base}:"]
    if not base.is_dir():
        lines.append("  (no such directory: add dtoverlay=w1-gpio to /boot/firmware/config.txt and reboot)")
    lines += [f"  {p.id}  {p.family:<16} {p.reading}" for p in probes] or (["  (none found)"] if base.is_dir() else [])
    lines.append("serial ports:")
    lines += [f"  {p.device}  {p.description}  [{p.hwid}]" for p in ports] or ["  (none found)"]
    return "\n".join(lines)
