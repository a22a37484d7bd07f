"""Endpointing: after the wake word, collect the request from speech start to trailing silence.

Counted in audio time, so a replayed recording always cuts at the same place. The request ends
after `end_silence_seconds` of silence (`brief_end_silence_seconds` after a word alone: a clatter
just before the person speaks is not the whole request); its audio may stop earlier, `tail_seconds` after the last
speech: then the request's audio is known (`early()`) before listening ends, and a recogniser may
start on it while the endpointer still waits to be sure nobody goes on speaking (recognition.early).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from device.audio.source import FRAME_SECONDS


class VoiceActivity(Protocol):
    """Says whether a frame holds speech. Implementations: adapters.audio.vad (Silero, WebRTC)."""

    def is_speech(self, frame: bytes) -> bool:
        """True when this 80 ms frame is mostly speech."""

    def reset(self) -> None:
        """Forget what was heard (a new request starts)."""


class Ending(Enum):
    """How listening ended."""

    UTTERANCE = "utterance"
    NO_SPEECH = "no-speech"


@dataclass(frozen=True)
class Endpoint:
    """The end of listening: the request audio (lead-in, speech, `tail_seconds` after it) or nothing heard."""

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
    tail_seconds: float = math.inf
    """Audio kept after the last speech frame (rounded up to whole frames; at most, and by default, the whole
    end silence). app.build gives the neural recognisers recognition.early.TAIL_SECONDS."""
    brief_end_silence_seconds: float = 0.0
    """Trailing silence that ends a request of less than `brief_speech_seconds` of speech (a word), when longer than
    `end_silence_seconds`: a clatter or a voice across the kitchen just before the person speaks is then not taken
    for the whole request (the person's speech that follows joins it), and a one-word answer still ends, that much
    later. At most end_silence_seconds (0, the default here): the same end silence for every request; the device
    uses `[recognizer] brief_end_silence_seconds` (1.2 s)."""
    brief_speech_seconds: float = 1.0
    """Less speech than this is a word alone ("yes", "annule"): Silero VAD hears a median 0.88 s of speech in people's
    "jarvis", "computer", "snowboy"... (1,013 clips of the development data; 77% under 1 s) and 1.04 s in the
    shortest of 305 barista orders."""
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
        self.vad.reset()

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
        if self._silence >= self.end_silence_seconds and self._speech < self.min_speech_seconds:
            self._utterance, self._lead_in = [], deque(self._utterance[-4:])  # a click, a cough, the wake word's tail
            return None
        if self._silence >= self._end_silence():
            return self._finish(cut=False)
        if length >= self.max_utterance_seconds:
            return self._finish(cut=True)
        return None

    def early(self) -> bytes | None:
        """The audio this request ends with if nobody speaks again, once `tail_seconds` of silence followed
        enough speech; None before. The same bytes as the Endpoint that feed() returns later, if it does."""
        if not self._utterance or self._speech < self.min_speech_seconds or self._silent() < self._tail():
            return None
        return self._request()

    def _end_silence(self) -> float:
        """The silence that ends this request: longer after a word alone (brief_end_silence_seconds)."""
        if self._speech < self.brief_speech_seconds:
            return max(self.end_silence_seconds, self.brief_end_silence_seconds)
        return self.end_silence_seconds

    def _silent(self) -> int:
        """Frames of silence since the last speech."""
        return round(self._silence / FRAME_SECONDS)

    def _tail(self) -> int:
        """tail_seconds in whole frames, never more than the end silence."""
        return math.ceil(min(self.tail_seconds, self.end_silence_seconds) / FRAME_SECONDS - 1e-9)

    def _request(self) -> bytes:
        return b"".join(self._utterance[:len(self._utterance) - self._silent() + self._tail()])

    def _finish(self, cut: bool) -> Endpoint:
        audio = b"".join(self._utterance) if cut else self._request()
        result = Endpoint(Ending.UTTERANCE, audio, round(self._speech, 3), cut)
        self.reset()
        return result
