"""A WAV file as the microphone (`reorder replay`): any PCM rate or channel count, converted."""

from __future__ import annotations

import logging
import wave
from math import gcd
from pathlib import Path

import numpy as np

from device.audio.source import FRAME_SAMPLES, SAMPLE_RATE
from device.errors import AudioError, RecordingError

log = logging.getLogger(__name__)


def load_wav(path: str | Path) -> np.ndarray:
    """The file as 16 kHz mono int16 samples; stereo is mixed down, other rates resampled."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise RecordingError(f"audio file {path} does not exist") from None
    except (wave.Error, EOFError) as exc:
        raise RecordingError(f"audio file {path} is not a PCM WAV file ({exc}); convert it with "
                         f"`sox {path.name} -r 16000 -c 1 -b 16 out.wav`") from None
    except OSError as exc:
        raise RecordingError(f"audio file {path} cannot be read ({exc.strerror})") from None
    if width == 2 and channels == 1 and rate == SAMPLE_RATE:
        return np.frombuffer(raw, "<i2").copy()  # already what the device hears: the samples as they are
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 8388608
    elif width == 4:
        samples = np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648
    else:  # pragma: no cover - wave rejects other widths
        raise RecordingError(f"audio file {path} has {width}-byte samples; use 16-bit PCM")
    samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        log.info("%s: resampling %d Hz to %d Hz", path, rate, SAMPLE_RATE)
        try:
            from scipy.signal import resample_poly  # only files at other rates pay for scipy (not on a device)
        except ImportError:
            raise RecordingError(f"audio file {path} is at {rate} Hz: resampling it needs scipy (pip install scipy, "
                             f"or the [bench] extra), or convert it first: sox {path} -r 16000 -c 1 -b 16 "
                             f"out.wav") from None

        g = gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // g, rate // g)
    if channels != 1:
        log.info("%s: mixed %d channels down to mono", path, channels)
    return np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2")


class WavSource:
    """Frames from a WAV file; read() returns None once the recording is over."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._samples = load_wav(path)
        self._pos = 0
        self._open = False
        self.frames_read = 0

    @property
    def duration(self) -> float:
        """Length of the recording (seconds)."""
        return len(self._samples) / SAMPLE_RATE

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        self._open = True

    def read(self) -> bytes | None:
        if not self._open:
            raise AudioError(f"{self.name} was read while closed (muted)")
        if self._pos >= len(self._samples):
            return None
        chunk = self._samples[self._pos:self._pos + FRAME_SAMPLES]
        self._pos += FRAME_SAMPLES
        self.frames_read += 1
        if len(chunk) < FRAME_SAMPLES:
            chunk = np.concatenate([chunk, np.zeros(FRAME_SAMPLES - len(chunk), "<i2")])
        return chunk.tobytes()

    def close(self) -> None:
        self._open = False
