"""The button language in audio time: debounced edges, a short press, a long press (acting while
still held), or a press another state already used (push-to-talk).

A mechanical switch chatters: several down/up edges within a few milliseconds for one press.
gpiozero's own bounce and hold timing run on wall-clock threads, which a fast replay outruns, so
this counts the loop's audio time instead: the button's level changes only once the raw level has
stayed put for DEBOUNCE_SECONDS, and a press held less than MIN_PRESS_SECONDS is no press. Edges
arrive stamped with the audio time of the frame they were seen in, so chatter within one frame
(80 ms) is one level, and chatter across a frame boundary settles one frame later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.03
"""A raw level held less than this (audio time) is chatter, not a change of the button."""
MIN_PRESS_SECONDS = 0.06
"""A press held less than this between its settled down and up is not a press."""


@dataclass(frozen=True)
class Down:
    """The button settled down at `at` (push-to-talk acts on this)."""

    at: float


@dataclass(frozen=True)
class Push:
    """A completed gesture: `long` or short, and when the finger went down."""

    long: bool
    down: float


Gesture = Down | Push


class PressTimer:
    """Turns raw button edges and the passing of audio time into debounced gestures."""

    def __init__(self, long_seconds: float, debounce_seconds: float = DEBOUNCE_SECONDS,
                 min_press_seconds: float = MIN_PRESS_SECONDS) -> None:
        self.long_seconds = long_seconds
        self.debounce_seconds = debounce_seconds
        self.min_press_seconds = min_press_seconds
        self._raw = False
        self._raw_at = 0.0
        self._level = False
        self._down: float | None = None
        self._used = False
        self._done: list[Gesture] = []

    def edge(self, pressed: bool, t: float) -> None:
        """A raw edge from the pin, seen at audio time `t` (chatter included)."""
        self._settle(t)  # a level held long enough before this edge was a real change
        if pressed != self._raw:
            self._raw, self._raw_at = pressed, t

    def use(self) -> None:
        """The current press already did something (push-to-talk): its release means nothing."""
        self._used = True

    def reset(self) -> None:
        """Forget the press in progress (muted): the next gesture starts from the level as it is."""
        self._down, self._used, self._level, self._done = None, False, self._raw, []

    def _settle(self, t: float) -> None:
        """The raw level has held since `_raw_at`: by `t` it is the button's level."""
        if self._raw == self._level or t - self._raw_at < self.debounce_seconds - 1e-9:
            return
        self._level = self._raw
        if self._level:
            self._down, self._used = self._raw_at, False
            self._done.append(Down(self._raw_at))
        elif self._down is not None:
            held = self._raw_at - self._down
            if not self._used and held >= self.min_press_seconds - 1e-9:
                self._done.append(Push(False, self._down))
            elif not self._used:
                log.debug("a press of %.3f s is shorter than %.2f s: not a press", held, self.min_press_seconds)
            self._down = None

    def tick(self, t: float) -> list[Gesture]:
        """The gestures completed by audio time `t`: a settled Down, a short Push on a settled
        release, a long Push as soon as it has been held long enough (while still held)."""
        self._settle(t)
        if self._level and self._down is not None and not self._used and t - self._down >= self.long_seconds:
            self._used = True
            self._done.append(Push(True, self._down))
        out, self._done = self._done, []
        return out
