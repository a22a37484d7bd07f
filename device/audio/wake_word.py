"""Wake words: one engine per word scores frames; this stage turns scores into one wake per utterance,
naming the word (each word with its own threshold; [wake] keywords).

GatedEngine puts a voice-activity detector in front of the engine, so that a quiet house costs
almost nothing: the model is scored only while the VAD hears speech, with pre-roll so that the
start of the wake word the VAD missed still reaches it (bench/bench_gate.py measured it first;
scripts/bench_wakeword.py measures it on real recordings).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
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
        self.thresholds: dict[str, float] = getattr(engine, "thresholds", {})
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


class WakeWordDetector:
    """One or more wake words, each with its own threshold, plus a refractory period in audio time,
    so one "okay nabu" wakes once. Every engine scores every frame (each keeps its own stream state);
    when several pass their threshold in the same frame, the one furthest above it names the wake."""

    def __init__(self, engine: WakeWordEngine, threshold: float, refractory_seconds: float,
                 more: Sequence[tuple[WakeWordEngine, float]] = ()) -> None:
        self.words: list[tuple[WakeWordEngine, float]] = [(engine, threshold), *more]
        self.refractory_seconds = refractory_seconds
        self._last_wake = float("-inf")

    @property
    def engine(self) -> WakeWordEngine:
        """The first word's engine (the only one with a single wake word)."""
        return self.words[0][0]

    @engine.setter
    def engine(self, engine: WakeWordEngine) -> None:
        self.words[0] = (engine, self.words[0][1])

    @property
    def threshold(self) -> float:
        """The first word's threshold."""
        return self.words[0][1]

    @property
    def keywords(self) -> list[str]:
        """The words it listens for, in the configured order."""
        return [engine.keyword for engine, _ in self.words]

    def process(self, frame: bytes, t: float) -> Wake | None:
        """A Wake event when this frame completes one of the wake words, else None."""
        best: tuple[float, WakeWordEngine, float] | None = None
        for engine, threshold in self.words:
            score = float(engine.score(frame))
            if score >= threshold and (best is None or score - threshold > best[0]):
                best = (score - threshold, engine, score)
        if best is None or t - self._last_wake < self.refractory_seconds:
            return None
        self._last_wake = t
        _, engine, score = best
        return Wake(t=t, engine=engine.name, keyword=engine.keyword, score=round(score, 3))

    def hold_off(self, t: float) -> None:
        """Start a refractory period now (e.g. after the device spoke or a flow ended)."""
        self._last_wake = t
        for engine, _ in self.words:
            engine.reset()
