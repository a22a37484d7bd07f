"""WAV files as the microphone: every PCM shape converted to 16 kHz mono frames; junk is a clear error."""

from __future__ import annotations

import subprocess
import sys
import wave

import numpy as np
import pytest

from device.adapters.audio.wav_source import WavSource, load_wav
from device.audio.source import FRAME_SAMPLES
from device.errors import AudioError


def write(path, samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def tone(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.sin(2 * np.pi * freq * t)


def test_44k_stereo_is_resampled_and_mixed_down_keeping_length_and_pitch(tmp_path):
    left = (tone(44100, 2.0) * 16000).astype("<i2")
    stereo = np.stack([left, left], axis=1)
    write(tmp_path / "s.wav", stereo, 44100, channels=2)
    out = load_wav(tmp_path / "s.wav")
    assert abs(len(out) - 32000) <= 2
    spectrum = np.abs(np.fft.rfft(out.astype(float)))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 440) < 2
    assert 0.4 < np.abs(out).max() / 32767 < 0.55


@pytest.mark.parametrize("width, dtype, scale, offset", [(1, np.uint8, 100, 128), (4, "<i4", 2**30, 0)])
def test_8_and_32_bit_pcm_are_converted(tmp_path, width, dtype, scale, offset):
    write(tmp_path / "w.wav", (tone(8000, 1.0) * scale + offset).astype(dtype), 8000, width=width)
    out = load_wav(tmp_path / "w.wav")
    assert abs(len(out) - 16000) <= 2 and np.abs(out).max() > 10000


def test_frames_are_80_ms_and_the_end_is_none(tmp_path):
    write(tmp_path / "a.wav", np.zeros(FRAME_SAMPLES * 2 + 10, "<i2"), 16000)
    source = WavSource(tmp_path / "a.wav")
    source.open()
    frames = [source.read() for _ in range(4)]
    assert [len(f) if f else None for f in frames] == [FRAME_SAMPLES * 2] * 3 + [None]


def test_a_closed_source_is_never_read(tmp_path):
    write(tmp_path / "a.wav", np.zeros(16000, "<i2"), 16000)
    source = WavSource(tmp_path / "a.wav")
    with pytest.raises(AudioError, match="closed"):
        source.read()
    assert source.frames_read == 0


@pytest.mark.parametrize("content", [b"", b"RIFF....WAVEjunk", b"not audio at all" * 10])
def test_junk_is_one_clear_error(tmp_path, content):
    path = tmp_path / "junk.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match="not a PCM WAV file"):
        load_wav(path)


def test_replay_of_junk_or_missing_audio_is_one_line_on_stderr(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"junk")
    for name in ("junk.wav", "missing.wav"):
        done = subprocess.run([sys.executable, "-m", "device", "replay", str(tmp_path / name), "--catalog",
                               "device/samples/catalog.json", "--outbox", str(tmp_path / "o.db")],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2  # bad input (a recording that is not one)
        assert "Traceback" not in done.stderr and name in done.stderr.splitlines()[-1]


def test_a_16_khz_16_bit_recording_is_heard_sample_for_sample(tmp_path):
    """What `reorder replay` and `transcribe` feed the recogniser is the file's own samples: one LSB changed the
    sentence Moonshine reads in 12 dB noise (tests/data/realspeech/barista_light_roast_iced_mocha_12db.wav)."""
    samples = np.array([-32768, -32767, -3, -1, 0, 1, 3, 32766, 32767] * 200, dtype="<i2")
    write(tmp_path / "a.wav", samples, 16000)
    assert np.array_equal(load_wav(tmp_path / "a.wav"), samples)
    write(tmp_path / "b.wav", np.repeat(samples, 2), 16000, channels=2)  # mixed down: the same samples, rounded
    assert np.array_equal(load_wav(tmp_path / "b.wav"), samples)
