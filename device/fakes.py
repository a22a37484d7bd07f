"""Fakes of the device's edges, shipped in the package as gpiozero ships MockFactory: a scripted wake
word and voice-activity detector, a scripted recogniser, a recording publisher, a timed speaker and a
silent light. With them the whole loop runs frame by frame in audio time without a model, a broker or a
sound card (tests/test_loop.py). Chosen by the caller, never loaded implicitly.

Frames speak a tiny language of their own: SILENCE, SPEECH (what the VAD hears as speech) and WAKE (what
the scripted wake word hears as its word). Everything here is deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from device.audio.source import FRAME_SAMPLES, SILENT_FRAME
from device.confirmation.led import Light
from device.language.grammar import Grammar
from device.recognition.protocol import Recognition

SILENCE = SILENT_FRAME
SPEECH = b"\x10\x00" * FRAME_SAMPLES
WAKE = b"\x20\x00" * FRAME_SAMPLES


class FrameVad:
    """A voice-activity detector (audio.endpointer.VoiceActivity): any frame that is not SILENCE is speech."""

    def is_speech(self, frame: bytes) -> bool:
        return frame != SILENCE

    def reset(self) -> None:
        """Nothing to forget."""


class ScriptedWakeWord:
    """A wake-word engine (audio.wake_word.WakeWordEngine) that scores 1.0 on a WAKE frame, else 0.0."""

    name = "scripted"
    default_threshold = 0.5

    def __init__(self, keyword: str = "hey_test", frame: bytes = WAKE) -> None:
        self.keyword, self.frame = keyword, frame
        self.fail: Exception | None = None
        """Raised by the next score() (once): a model that breaks while the device runs."""

    def score(self, frame: bytes) -> float:
        if self.fail is not None:
            fail, self.fail = self.fail, None
            raise fail
        return 1.0 if frame == self.frame else 0.0

    def reset(self) -> None:
        """Nothing is buffered."""


class ScriptedRecognizer:
    """A recogniser (recognition.protocol.Recognizer) that hears, request after request, the next of
    `heard`: a transcript (at confidence 0.99), a Recognition, or an exception to raise; when the script is
    over it hears nothing."""

    name = "scripted"

    def __init__(self, heard: Iterable[str | Recognition | Exception] = ()) -> None:
        self.script: deque[str | Recognition | Exception] = deque(heard)
        self.grammars: list[Grammar] = []
        self.grammar_error: Exception | None = None
        """Raised by set_grammar while set: a grammar that cannot be built."""

    def set_grammar(self, grammar: Grammar) -> list[str]:
        if self.grammar_error is not None:
            raise self.grammar_error
        self.grammars.append(grammar)
        return []

    def recognize(self, audio: bytes) -> Recognition:
        if not self.grammars:  # as the real recognisers: nothing to hear against
            raise RuntimeError("set_grammar() was never called")
        if not self.script:
            return Recognition("", 0.0)
        heard = self.script.popleft()
        if isinstance(heard, Exception):
            raise heard
        return heard if isinstance(heard, Recognition) else Recognition(heard, 0.99)


class RecordingPublisher:
    """An MQTT connection (orders.delivery.Publisher) that takes every message and keeps (topic, payload,
    retain); ids count from 1. `refuse` makes it hand nothing over, as a client that cannot queue."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], bool]] = []
        self.refuse = False

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> int | None:
        if self.refuse:
            return None
        self.sent.append((topic, payload, retain))
        return len(self.sent)


class TimedSpeaker:
    """A speaker (audio.voice.Speaker): words take `say_seconds`, earcons `cue_seconds`; keeps what it played
    as "locale:text" and "cue:name"."""

    def __init__(self, say_seconds: float = 2.0, cue_seconds: float = 0.5) -> None:
        self.say_seconds, self.cue_seconds = say_seconds, cue_seconds
        self.said: list[str] = []

    def say(self, text: str, locale: str) -> float:
        self.said.append(f"{locale}:{text}")
        return self.say_seconds

    def cue(self, name: str) -> float:
        self.said.append(f"cue:{name}")
        return self.cue_seconds


class SilentLight:
    """A status light (confirmation.led.StatusLight) that keeps the patterns it was asked to show."""

    def __init__(self) -> None:
        self.shown: list[Light] = []

    def show(self, light: Light) -> None:
        self.shown.append(light)
