"""The local alarm on a real Pi through gpiozero: a buzzer and an LED (implements agent.LocalAlarm), the
kitchen's button that silences it, and the lights the hub switches."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edge.config import OutputSettings

_LOGGER = logging.getLogger(__name__)


class GpioAlarm:
    """Beeps the buzzer and blinks the alarm LED in step until silenced.

    A continuous tone is easy to tune out in a noisy kitchen and an active buzzer on
    5 V draws enough to matter on a UPS; an interrupted tone is both louder to the
    ear and cheaper.
    """

    def __init__(self, settings: OutputSettings, *, pin_factory: Any = None) -> None:
        from gpiozero import LED, Buzzer  # noqa: PLC0415 - hardware libraries load only where used

        self._settings = settings
        self._lock = threading.Lock()
        self._active = False
        self._buzzer = (Buzzer(settings.buzzer_pin, active_high=settings.buzzer_active_high,
                               initial_value=False, pin_factory=pin_factory)
                        if settings.buzzer_pin is not None else None)
        self._led = (LED(settings.alarm_led_pin, initial_value=False, pin_factory=pin_factory)
                     if settings.alarm_led_pin is not None else None)
        self._status_led = (LED(settings.status_led_pin, initial_value=True, pin_factory=pin_factory)
                            if settings.status_led_pin is not None else None)

    def sound(self, reason: str) -> None:
        with self._lock:
            if self._active:
                return
            self._active = True
            on, off = self._settings.beep_on_s, self._settings.beep_off_s
            # On at once, in this thread; gpiozero's beeping thread takes over from there. Left to that
            # thread alone, the first beep came whenever it was scheduled (after a quick silence: never).
            if self._buzzer is not None:
                self._buzzer.on()
                self._buzzer.beep(on_time=on, off_time=off, background=True)
            if self._led is not None:
                self._led.on()
                self._led.blink(on_time=on, off_time=off, background=True)
        _LOGGER.warning("LOCAL ALARM (buzzer): %s", reason)

    def silence(self) -> None:
        with self._lock:
            self._active = False
            if self._buzzer is not None:
                self._buzzer.off()
            if self._led is not None:
                self._led.off()

    @property
    def active(self) -> bool:
        return self._active

    def close(self) -> None:
        for device in (self._buzzer, self._led, self._status_led):
            if device is not None:
                device.close()


class GpioIndicator:
    """A light the hub switches: the sample station's "samples held" LED.

    Steady while samples are held, blinking when some may be discarded, dark when
    the cabinet holds none — the cook sees it without opening the web page.
    """

    def __init__(self, pin: int | str, *, pin_factory: Any = None) -> None:
        from gpiozero import LED  # noqa: PLC0415 - hardware libraries load only where used

        self._led = LED(pin, initial_value=False, pin_factory=pin_factory)
        self.state = "off"

    def show(self, state: str) -> None:
        if state == "blink":
            self._led.blink(on_time=0.3, off_time=0.7, background=True)
        elif state == "on":
            self._led.on()
        else:
            self._led.off()
        self.state = state if state in ("on", "blink") else "off"

    @property
    def lit(self) -> bool:
        return bool(self._led.is_lit)

    def close(self) -> None:
        self._led.close()


class AlarmButton:
    """The kitchen's "silence" button next to the buzzer: calls ``on_press`` (on gpiozero's thread) per press.

    No debounce: what a press does is idempotent (it silences what sounds now), so a
    bouncing contact only finds nothing left to silence.
    """

    def __init__(self, pin: int | str, on_press: Callable[[], None], *, pull_up: bool = True,
                 pin_factory: Any = None) -> None:
        from gpiozero import Button  # noqa: PLC0415 - hardware libraries load only where used

        self._on_press = on_press
        self._button = Button(pin, pull_up=pull_up, pin_factory=pin_factory)
        self._button.when_pressed = self._pressed

    def _pressed(self) -> None:
        try:
            self._on_press()
        except Exception:  # a failure here must not kill gpiozero's event thread: the next press would be lost
            _LOGGER.exception("alarm button handler failed")

    def close(self) -> None:
        self._button.close()
