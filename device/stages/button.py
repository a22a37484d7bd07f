"""The button language in audio time: a short press, a long press (acting while still held), or
a press another state already used (push-to-talk). gpiozero's own hold timing runs on wall-clock
threads, which a fast replay outruns; this counts the loop's frames instead."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Press:
    """A completed gesture: `long` or short, and when the finger went down."""

    long: bool
    down: float


class PressTimer:
    """Turns button edges and the passing of audio time into Press gestures."""

    def __init__(self, long_seconds: float) -> None:
        self.long_seconds = long_seconds
        self._down: float | None = None
        self._used = False

    def pressed(self, t: float) -> None:
        """The button went down at `t`."""
        self._down, self._used = t, False

    def use(self) -> None:
        """The current press already did something (push-to-talk): its release means nothing."""
        self._used = True

    def released(self, t: float) -> Press | None:
        """The button came up: a short press unless the press was long or used."""
        down, used = self._down, self._used
        self._down = None
        return Press(False, down) if down is not None and not used else None

    def tick(self, t: float) -> Press | None:
        """A long press as soon as it has been held long enough, while still held."""
        if self._down is None or self._used or t - self._down < self.long_seconds:
            return None
        self._used = True
        return Press(True, self._down)
