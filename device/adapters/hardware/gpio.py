"""The confirm button, the mute switch and the status LED through gpiozero."""

from __future__ import annotations

import importlib.metadata
import logging
import warnings
from collections.abc import Callable
from typing import Any

from device.config import GpioSettings
from device.confirmation.led import OFF, Light
from device.contract.inputs import ButtonEdge, MuteChanged
from device.errors import ConfigError

log = logging.getLogger(__name__)


def make_pin_factory(name: str):
    """The gpiozero pin factory named in the config ("" = gpiozero's own choice on a Pi)."""
    if not name:
        return None
    if name == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        return MockFactory(pin_class=MockPWMPin)
    for entry in importlib.metadata.entry_points(group="gpiozero_pin_factories"):
        if entry.name == name:
            try:
                return entry.load()()
            except Exception as exc:  # each backend fails its own way (ImportError, OSError, PinFactoryFallback)
                raise ConfigError(f"[gpio] pin_factory {name!r} cannot start ({exc}); "
                                  f"on a laptop use \"mock\"") from None
    raise ConfigError(f"[gpio] pin_factory {name!r} is not installed; use lgpio on a Pi (apt install python3-lgpio) "
                      f"or \"mock\"")


class GpioPanel:
    """Buttons feed the loop's inbox; the LED shows patterns. Use as a context manager or close()."""

    def __init__(self, settings: GpioSettings, inbox: Callable[[object], None], pin_factory=None) -> None:
        from gpiozero import PWMLED, RGBLED, Button
        from gpiozero.exc import BadPinFactory, GPIOZeroError

        factory = pin_factory if pin_factory is not None else make_pin_factory(settings.pin_factory)
        self._inbox = inbox
        self._muted = False
        self.settings = settings
        try:
            self.confirm_button = Button(settings.confirm_button, pull_up=True, bounce_time=None,
                                         pin_factory=factory)
            self.confirm_button.when_pressed = lambda: inbox(ButtonEdge(True))
            self.confirm_button.when_released = lambda: inbox(ButtonEdge(False))
            self.mute_button = None
            if settings.mute_button:
                self.mute_button = Button(settings.mute_button, pull_up=True, bounce_time=0.05, pin_factory=factory)
                if settings.mute_is_switch:
                    self.mute_button.when_pressed = lambda: inbox(MuteChanged(True))
                    self.mute_button.when_released = lambda: inbox(MuteChanged(False))
                else:
                    self.mute_button.when_pressed = self._toggle_mute
            pins = (settings.red, settings.green, settings.blue)
            if settings.led == "rgb" and all(pins):
                self.led = RGBLED(*pins, active_high=settings.active_high, pin_factory=factory)
                self._separate = None
            else:
                self.led = None
                self._separate = tuple(PWMLED(p, active_high=settings.active_high, pin_factory=factory) if p else None
                                       for p in pins)
        except BadPinFactory as exc:
            self.close()
            raise ConfigError(f"[gpio] no GPIO here ({exc}); on a Pi install python3-lgpio, on a laptop set "
                              f"pin_factory = \"mock\"") from None
        except (GPIOZeroError, OSError, RuntimeError) as exc:  # lgpio raises its own error for busy pins
            self.close()
            raise ConfigError(f"[gpio] pins cannot be used ({type(exc).__name__}: {exc}); check the pin numbers "
                              f"and that nothing else holds them (stop reorder.service first)") from None

    def mute_level(self) -> bool | None:
        """A mute switch's level now (closed = True: muted); None without a switch (a toggle or nothing)."""
        if self.mute_button is None or not self.settings.mute_is_switch:
            return None
        return bool(self.mute_button.is_pressed)

    def _toggle_mute(self) -> None:
        self._muted = not self._muted
        self._inbox(MuteChanged(self._muted))

    def mute_state(self, muted: bool) -> None:
        """Keep the toggle in step when the loop changes mute by other means."""
        self._muted = muted

    def show(self, light: Light) -> None:
        """Switch the LED to a pattern."""
        if self.led is not None:
            if light.color == OFF:
                self.led.off()
            elif light.mode == "blink":
                self.led.blink(light.on_seconds, light.off_seconds, on_color=light.color, background=True)
            elif light.mode == "pulse":
                self.led.pulse(light.on_seconds, light.off_seconds, on_color=light.color, background=True)
            else:
                self.led.color = light.color
            return
        for led, level in zip(self._separate or (), light.color):
            if led is None:
                continue
            if level <= 0:
                led.off()
            elif light.mode == "blink":
                led.blink(light.on_seconds, light.off_seconds, background=True)
            elif light.mode == "pulse":
                led.pulse(light.on_seconds, light.off_seconds, background=True)
            else:
                led.on()

    def close(self) -> None:
        """LEDs off, pins released (idempotent)."""
        for device in (getattr(self, "led", None), *(getattr(self, "_separate", None) or ()),
                       getattr(self, "confirm_button", None), getattr(self, "mute_button", None)):
            if device is not None:
                device.close()

    def __enter__(self) -> "GpioPanel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def default_pin_factory() -> tuple[Any, str]:
    """gpiozero's own choice of pin factory (as on a Pi), or None and why none works."""
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            Device.ensure_pin_factory()
        except BadPinFactory:
            reasons = "; ".join(str(w.message).removeprefix("Falling back from ") for w in caught)
            return None, reasons or "gpiozero found no pin factory"
    return Device.pin_factory, ""
