"""Edge fixtures: serial null modems over pseudo-terminals, 1-wire sysfs trees, gpiozero mock pins."""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory


class NullModem:
    """Two serial ports wired to each other, like two USB adapters with crossed TX/RX.

    Each end is the slave side of its own pty; a thread copies bytes between the two
    masters. ``corrupt`` may rewrite bytes travelling from ``a`` to ``b`` (noise on the bus).
    """

    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        self.paths: list[str] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing: a serial line, not a terminal
            self._masters.append(master)
            self._slaves.append(slave)
            self.paths.append(os.ttyname(slave))
        self.corrupt: Callable[[bytes], bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    @property
    def a(self) -> str:
        return self.paths[0]

    @property
    def b(self) -> str:
        return self.paths[1]

    def _relay(self) -> None:
        first, second = self._masters
        while not self._stop.is_set():
            ready, _, _ = select.select([first, second], [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if fd == first and self.corrupt is not None:
                    data = self.corrupt(data)
                os.write(second if fd == first else first, data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in self._masters + self._slaves:
            os.close(fd)


class PtyPort:
    """One pty: the code under test opens ``path``; the test writes what the device would send."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self._slave)


@pytest.fixture
def null_modem() -> Iterator[NullModem]:
    modem = NullModem()
    yield modem
    modem.close()


@pytest.fixture
def pty_port() -> Iterator[PtyPort]:
    port = PtyPort()
    yield port
    port.close()


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    """A gpiozero mock pin factory, passed explicitly (no global default is changed)."""
    factory = MockFactory()
    yield factory
    factory.close()
    Device.pin_factory = None


W1_OK = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t={milli}\n"


def write_probe(base: Path, probe_id: str, text: str) -> None:
    """Write a probe's ``w1_slave`` as the w1_therm driver would."""
    (base / probe_id).mkdir(parents=True, exist_ok=True)
    (base / probe_id / "w1_slave").write_text(text, encoding="ascii")
