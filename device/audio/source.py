"""Audio source: 16 kHz mono signed 16-bit frames of a fixed length, from a microphone or a file."""

from __future__ import annotations

from typing import Protocol

SAMPLE_RATE = 16000
"""Every stage works at this rate (hertz); sources convert."""
SAMPLE_WIDTH = 2
"""Bytes per sample (int16)."""
FRAME_SAMPLES = 1280
"""Samples per frame: 80 ms, what openWakeWord expects."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
SILENT_FRAME = bytes(FRAME_SAMPLES * SAMPLE_WIDTH)


class AudioSource(Protocol):
    """Where frames come from. Implementations: adapters.microphone (sounddevice), adapters.wav_source."""

    name: str
    """What the source is, for logs and errors ("microphone 'USB PnP'", "speech.wav")."""

    def open(self) -> None:
        """Start capturing (opens the device or file). Raises AudioError with one clear line."""

    def read(self) -> bytes | None:
        """The next frame (FRAME_SAMPLES int16 samples), blocking; None when the source has ended."""

    def close(self) -> None:
        """Stop capturing and release the device. Idempotent; a closed source is not read."""

    @property
    def is_open(self) -> bool:
        """Whether the source is capturing now."""
