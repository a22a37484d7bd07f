"""`python -m bench wakeword`'s pieces: Picovoice's mixing rule, the threshold replay, its own BENCHMARKS.md section.

The full benchmark takes ~an hour on real recordings; its figures are in BENCHMARKS.md, not asserted here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench import bench_wakeword as wa
from bench import common, corpus
from bench.bench_wakeword import sweep


def test_noise_is_mixed_at_the_peak_frame_snr_and_the_peak_is_half_scale():
    rng = np.random.default_rng(0)
    speech = (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16)
    noise = (rng.standard_normal(16000) * 3000).astype(np.int16)
    mixed = wa.noisy(speech, noise, 10.0, seed=0).astype(np.float64)
    assert abs(np.abs(mixed).max() - 0.5 * 32767) < 2
    # undo the normalisation: what was added to the speech is the scaled noise
    gain = np.dot(mixed, speech) / np.dot(speech.astype(np.float64), speech)
    added = mixed / gain - speech
    snr = 10 * np.log10(corpus.max_frame_energy(speech) / corpus.max_frame_energy(added))
    assert abs(snr - 10.0) < 0.3


def test_noisy_positives_are_mixed_at_the_recordings_own_snr_not_the_padded_stretchs():
    loud = np.where(np.arange(16000) < 2048, 8000, 800)  # its peak frame is the first 2048 samples, not the stream's
    speech = (np.sin(np.arange(16000) / 5) * loud).astype(np.int16)
    noise = (np.random.default_rng(1).standard_normal(200000) * 3000).astype(np.int16)
    stream = wa.positive_stream([wa.Clip("a", speech, False)], "10 dB", noise, 10.0)
    padded = np.concatenate([wa.silence(wa.LEAD), speech, wa.silence(wa.TAIL)]).astype(np.float64)
    start = int(np.random.default_rng(10).integers(0, len(noise) - len(padded)))  # positive_stream's seed
    part = noise[start:start + len(padded)].astype(np.float64)
    mixed = padded + np.sqrt(corpus.max_frame_energy(speech) / (corpus.max_frame_energy(part) * 10)) * part
    assert np.abs(stream.samples[:len(padded)] - mixed * 0.5 * 32767 / np.abs(mixed).max()).max() <= 1


def test_positive_stream_windows_cover_each_recording():
    clips = [wa.Clip("a", np.ones(8000, np.int16), False), wa.Clip("b", np.ones(16000, np.int16), False)]
    stream = wa.positive_stream(clips, "clean")
    second = 1.0 + 0.5 + wa.TAIL + 1.0
    assert stream.windows == [(1.0, 1.0 + 0.5 + wa.AFTER), (second, second + 1.0 + wa.AFTER)]
    assert len(stream.samples) % wa.FRAME == 0 and stream.labels == ["a", "b"]


def test_threshold_replay_counts_detections_once_and_false_wakes_outside_windows():
    scores = np.zeros(200, np.float32)
    scores[[10, 11, 12]] = 0.95  # one word: three frames, one wake (refractory)
    scores[100] = 0.6  # outside any window
    windows = [(0.5, 1.5)]
    assert sweep(scores, windows, 0.9) == (1, 0)
    assert sweep(scores, windows, 0.5) == (1, 1)


def test_the_section_replaces_only_its_own_keyword(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n<!-- bench:loop:start -->\nloop\n<!-- bench:loop:end -->\n")
    common.write_section("wakeword-alexa", "first", out)
    common.write_section("wakeword-hey_jarvis", "jarvis", out)
    common.write_section("wakeword-alexa", "second", out)
    text = out.read_text()
    assert "loop\n" in text and "jarvis" in text and "second" in text and "first" not in text


def test_a_damaged_flac_is_decoded_to_its_end_and_reported(tmp_path):
    good = Path(__file__).resolve().parent / "data" / "wakeword" / "alexa-0.flac"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x10  # one flipped bit: that frame's checksum fails
    bad = tmp_path / "damaged.flac"
    bad.write_bytes(bytes(data))
    original, clip = wa.read_audio(good), wa.read_audio(bad)
    assert clip.damaged and not original.damaged
    assert len(clip.samples) == len(original.samples) == 52800  # to its end, nothing dropped
    changed = np.nonzero(clip.samples != original.samples)[0]
    # only samples of the damaged frame differ, and that frame is decoded rather than silenced (libFLAC's -F
    # writes its 2,304 samples as zeros, sox drops them)
    assert 0 < len(changed) < 1000 and np.count_nonzero(clip.samples[changed]) > 0.9 * len(changed)
    assert np.array_equal(clip.samples[changed[-1] + 1:], original.samples[changed[-1] + 1:])
