"""Voice activity: the WebRTC VAD that pocketsphinx 5 ships, voting over an 80 ms frame."""

from __future__ import annotations

from pocketsphinx import Vad

from device.audio.source import SAMPLE_RATE


class WebRtcVad:
    """A frame is speech when at least half of its 20 ms pieces are."""

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = Vad(aggressiveness, SAMPLE_RATE, 0.02)
        self._piece = self._vad.frame_bytes

    def is_speech(self, frame: bytes) -> bool:
        pieces = [frame[i:i + self._piece] for i in range(0, len(frame) - self._piece + 1, self._piece)]
        votes = sum(self._vad.is_speech(p) for p in pieces)
        return votes * 2 >= len(pieces)
