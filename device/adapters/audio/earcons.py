"""Earcons: short tones made in code (no sound files); adapters.tts plays them."""

from __future__ import annotations

import numpy as np

RATE = 16000
# (frequency hertz, seconds) notes per cue: rising = listening, falling = cancelled/refused.
CUES: dict[str, tuple[tuple[float, float], ...]] = {
    "listen": ((880, 0.07), (1320, 0.07)),
    "done": ((660, 0.08),),
    "confirmed": ((660, 0.07), (880, 0.07), (1320, 0.1)),
    "cancelled": ((880, 0.08), (587, 0.12)),
    "refused": ((330, 0.12), (262, 0.16)),
}


def tone(cue: str) -> np.ndarray:
    """The cue's samples: sine notes with 5 ms fades so they do not click."""
    parts = []
    for freq, seconds in CUES[cue]:
        t = np.arange(int(RATE * seconds)) / RATE
        note = 0.25 * np.sin(2 * np.pi * freq * t)
        fade = min(len(note) // 2, int(0.005 * RATE))
        ramp = np.linspace(0, 1, fade)
        note[:fade] *= ramp
        note[-fade:] *= ramp[::-1]
        parts.append(note)
    return (np.concatenate(parts) * 32767).astype("<i2")
