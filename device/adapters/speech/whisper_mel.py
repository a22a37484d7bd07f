"""Whisper's log-mel input features in numpy (80 mel bins, 25 ms window, 10 ms hop, 16 kHz).

The same computation as openai/whisper `log_mel_spectrogram`: a centred STFT with a periodic Hann
window (reflect padding), power spectrum without the last frame, Slaney mel filters (as librosa
builds them), log10 floored at 1e-10 and at 8 below the maximum, then (x + 4) / 4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    """Inverse of `_hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """The [80, 201] Slaney-normalised triangular filters (librosa.filters.mel(sr=16000, n_fft=400, n_mels=80))."""
    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:N_MELS + 2] - mel_points[:N_MELS]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def log_mel(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Log-mel features [80, n_samples // 160] of `audio` zero-padded (or cut) to `n_samples` samples."""
    x = np.zeros(n_samples, dtype=np.float32)
    audio = np.asarray(audio, dtype=np.float32)[:n_samples]
    x[:len(audio)] = audio
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, shape=(n_frames, N_FFT),
                                             strides=(padded.strides[0] * HOP, padded.strides[0]))
    spectrum = np.fft.rfft(frames * _window(), axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)[:-1]
    mel = mel_filters() @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
