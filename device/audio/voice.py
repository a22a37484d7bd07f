"""Sound out, one sound at a time, half duplex: until the device has finished speaking, what the
microphone hears is the device itself and is not used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from device.events import Event, Said


class Speaker(Protocol):
    """Sound out, played in turn. Implementation: adapters.tts (espeak-ng, earcons made in code)."""

    def say(self, text: str, locale: str) -> float:
        """Say `text`; how many seconds it takes (the microphone is ignored meanwhile)."""

    def cue(self, name: str) -> float:
        """Play an earcon ("listen", "confirmed", "cancelled", "refused", "done"); its length."""


class Voice:
    """The device's voice in audio time: each sound starts when the one before ends."""

    def __init__(self, speaker: Speaker, locale: str, speak: bool, emit: Callable[[Event], None]) -> None:
        self.speaker, self.locale, self.speak, self.emit = speaker, locale, speak, emit
        self.deaf_until = 0.0
        """Audio time at which the last sound queued ends."""

    def deaf(self, t: float) -> bool:
        """Whether the device is still sounding at `t` (the microphone must not be used)."""
        return t < self.deaf_until

    def _sounding(self, seconds: float, t: float) -> float:
        self.deaf_until = max(self.deaf_until, t) + seconds
        return self.deaf_until

    def say(self, text: str, t: float, locale: str | None = None) -> float:
        """Speak (a `said` event; silent when `speak` is off), in `locale`'s voice (default: the device's);
        the audio time at which the words have been said."""
        seconds = self.speaker.say(text, locale or self.locale) if self.speak else 0.0
        self.emit(Said(t, text, round(seconds, 3)))
        return self._sounding(seconds, t)

    def cue(self, name: str, t: float) -> float:
        """Play an earcon; the audio time at which it ends."""
        return self._sounding(self.speaker.cue(name), t)
