"""Wake word: an engine scores frames; this stage turns scores into one wake per utterance.

GatedEngine puts a voice-activity detector in front of the engine, so that a quiet house costs
almost nothing: the model is scored only while the VAD hears speech, with pre-roll so that the
start of the wake word the VAD missed still reaches it (bench/bench_gate.py measured it first;
scripts/bench_wakeword.py measures it on real recordings).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from device.audio.endpointer import VoiceActivity
from device.events import Wake

PREROLL_FRAMES = 12
"""Frames (0.96 s) before the first speech frame fed to the engine when the gate opens. 12 lost no
detection in any condition of scripts/bench; 5 (0.4 s) lost one clean phrase in 300."""
HANGOVER_FRAMES = 12
"""Frames (0.96 s) the gate stays open after the last speech frame: scores peak just after the word."""


class WakeWordEngine(Protocol):
    """A wake-word model. Implementations: adapters.microwakeword (the default), adapters.speech.openwakeword
    (openWakeWord's models; adapters.openwakeword is the library-backed reference the benchmarks
    compare it with), adapters.porcupine; GatedEngine wraps any of them."""

    name: str
    """Engine name for the `wake` event ("microwakeword", "openwakeword", "porcupine")."""
    keyword: str
    """The keyword it listens for."""
    default_threshold: float
    """The score threshold used when [wake] threshold is 0 (the engine's or model's own)."""

    def score(self, frame: bytes) -> float:
        """Score (0-1) of the wake word ending in this 80 ms frame."""

    def reset(self) -> None:
        """Forget buffered audio (after listening, so old audio cannot trigger again)."""


class GatedEngine:
    """A wake-word engine scored only around speech; in silence and quiet room noise only the VAD runs.

    When the VAD first hears speech after a pause, the engine is reset (what came before the pause
    is dropped, as if the pause had been silence) and fed the last `preroll_frames` frames, then
    the current one; the highest of those scores is returned. The gate stays open
    `hangover_frames` after the last speech frame."""

    def __init__(self, engine: WakeWordEngine, vad: VoiceActivity, preroll_frames: int = PREROLL_FRAMES,
                 hangover_frames: int = HANGOVER_FRAMES) -> None:
        self.engine, self.vad = engine, vad
        self.name, self.keyword = engine.name, engine.keyword
        self.default_threshold = engine.default_threshold
        self.hangover_frames = hangover_frames
        self._preroll: deque[bytes] = deque(maxlen=preroll_frames)
        self._left = 0
        self._open = False
        self.frames = 0
        """Frames seen (for measurements)."""
        self.scored = 0
        """Frames the engine scored, pre-roll included (for measurements)."""

    def score(self, frame: bytes) -> float:
        """The engine's score while the gate is open, else 0.0."""
        self.frames += 1
        if self.vad.is_speech(frame):
            self._left = self.hangover_frames
        elif self._left > 0:
            self._left -= 1
        else:
            self._open = False
            self._preroll.append(frame)
            return 0.0
        best = 0.0
        if not self._open:
            self._open = True
            self.engine.reset()
            for earlier in self._preroll:
                best = max(best, self.engine.score(earlier))
            self.scored += len(self._preroll)
            self._preroll.clear()
        self.scored += 1
        return max(best, self.engine.score(frame))

    def reset(self) -> None:
        """Forget buffered audio; the gate closes."""
        self.engine.reset()
        self._preroll.clear()
        self._left = 0
        self._open = False


@dataclass
class WakeWordDetector:
    """Threshold plus a refractory period in audio time, so one "hey jarvis" wakes once."""

    engine: WakeWordEngine
    threshold: float
    refractory_seconds: float
    _last_wake: float = float("-inf")

    def process(self, frame: bytes, t: float) -> Wake | None:
        """A Wake event when this frame completes the wake word, else None."""
        score = self.engine.score(frame)
        if score < self.threshold or t - self._last_wake < self.refractory_seconds:
            return None
        self._last_wake = t
        return Wake(t=t, engine=self.engine.name, keyword=self.engine.keyword, score=round(float(score), 3))

    def hold_off(self, t: float) -> None:
        """Start a refractory period now (e.g. after the device spoke or a flow ended)."""
        self._last_wake = t
        self.engine.reset()
