"""Endpointing: after the wake word, collect the request from speech start to trailing silence.

Counted in audio time, so a replayed recording always cuts at the same place.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from device.audio.source import FRAME_SECONDS


class VoiceActivity(Protocol):
    """Says whether a frame holds speech. Implementation: adapters.vad (WebRTC VAD from pocketsphinx)."""

    def is_speech(self, frame: bytes) -> bool:
        """True when this 80 ms frame is mostly speech."""


class Ending(Enum):
    """How listening ended."""

    UTTERANCE = "utterance"
    NO_SPEECH = "no-speech"


@dataclass(frozen=True)
class Endpoint:
    """The end of listening: the request audio (with lead-in and trailing silence) or nothing heard."""

    outcome: Ending
    audio: bytes = b""
    speech_seconds: float = 0.0
    cut: bool = False
    """True when the request hit the maximum length."""


@dataclass
class Endpointer:
    """Finds one request in a stream of frames; feed() returns an Endpoint when listening is over."""

    vad: VoiceActivity
    end_silence_seconds: float = 0.6
    max_utterance_seconds: float = 8.0
    no_speech_seconds: float = 5.0
    min_speech_seconds: float = 0.25
    lead_in_seconds: float = 0.3
    """Audio kept from before speech started: recognisers need a little silence on both sides."""
    _waited: float = 0.0
    _lead_in: deque = field(default_factory=deque)
    _utterance: list[bytes] = field(default_factory=list)
    _speech: float = 0.0
    _silence: float = 0.0

    def reset(self) -> None:
        """Start listening afresh."""
        self._waited = self._speech = self._silence = 0.0
        self._lead_in.clear()
        self._utterance = []

    def feed(self, frame: bytes) -> Endpoint | None:
        """Take one frame; an Endpoint when the request is complete or nobody spoke."""
        speech = self.vad.is_speech(frame)
        if not self._utterance:
            self._waited += FRAME_SECONDS
            if speech:
                self._utterance = [*self._lead_in, frame]
                self._speech, self._silence = FRAME_SECONDS, 0.0
                return None
            self._lead_in.append(frame)
            while len(self._lead_in) * FRAME_SECONDS > self.lead_in_seconds:
                self._lead_in.popleft()
            if self._waited >= self.no_speech_seconds:
                self.reset()
                return Endpoint(Ending.NO_SPEECH)
            return None
        self._utterance.append(frame)
        if speech:
            self._speech += FRAME_SECONDS + self._silence  # short pauses inside a request count as speech
            self._silence = 0.0
        else:
            self._silence += FRAME_SECONDS
        length = len(self._utterance) * FRAME_SECONDS
        if self._silence >= self.end_silence_seconds:
            if self._speech < self.min_speech_seconds:  # a click, a cough, the tail of the wake word
                self._utterance, self._lead_in = [], deque(self._utterance[-4:])
                return None
            return self._finish(cut=False)
        if length >= self.max_utterance_seconds:
            return self._finish(cut=True)
        return None

    def _finish(self, cut: bool) -> Endpoint:
        result = Endpoint(Ending.UTTERANCE, b"".join(self._utterance), round(self._speech, 3), cut)
        self.reset()
        return result
