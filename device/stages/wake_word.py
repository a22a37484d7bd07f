"""Wake word: an engine scores frames; this stage turns scores into one wake per utterance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..events import Wake


class WakeWordEngine(Protocol):
    """A wake-word model. Implementations: adapters.oww_lite (the default; adapters.openwakeword is the
    library-backed reference the benchmarks compare it with), adapters.porcupine."""

    name: str
    """Engine name for the `wake` event ("openwakeword", "porcupine")."""
    keyword: str
    """The keyword it listens for."""

    def score(self, frame: bytes) -> float:
        """Score (0-1) of the wake word ending in this 80 ms frame."""

    def reset(self) -> None:
        """Forget buffered audio (after listening, so old audio cannot trigger again)."""


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
