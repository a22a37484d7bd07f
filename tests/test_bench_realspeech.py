"""bench_realspeech's command line: an engine that cannot run gets a row saying why; bad data, one line."""

from __future__ import annotations

import sys

from bench import bench_realspeech


def test_an_engine_that_cannot_run_gets_a_row_saying_why():
    ran = {"engine": "moonshine", "conditions": [{"snr": "clean", "n": 2, "right": 2, "wrong": 0, "refused": 0,
                                                  "p50_ms": 1.0, "p95_ms": 2.0}],
           "ood": {"n": 1, "accepted": 0, "parts": {"alexa": {"n": 1, "accepted": 0}}}, "peak_rss_mb": 1.0}
    text = bench_realspeech.section([ran, {"engine": "other", "skipped": "failed: exit code 1"}], "cmd")
    assert "| other | – | – | failed: exit code 1 |" in text and "| moonshine | clean | 2 |" in text
    only = bench_realspeech.section([{"engine": "moonshine", "skipped": "not run: no model"}], "cmd")
    assert "not run: no model" in only and "Out-of-grammar" not in only


def test_an_unknown_engine_is_one_line(tmp_path, monkeypatch, capsys):
    for name in ("labels.json", "kitchen_noise.flac", "context.yaml"):
        (tmp_path / name).write_text("")
    (tmp_path / "audio").mkdir()
    monkeypatch.setattr(sys, "argv", ["bench_realspeech", "--data", str(tmp_path), "--engines", "pocketsphinx"])
    assert bench_realspeech.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown engine 'pocketsphinx'" in err and "moonshine" in err


def test_a_data_folder_without_the_benchmark_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench_realspeech", "--data", str(tmp_path), "--no-write"])
    assert bench_realspeech.main() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path) in err and "labels.json" in err


def test_the_endpointer_hands_the_recogniser_the_request_as_the_device_would(tmp_path):
    from pathlib import Path

    import numpy as np

    from bench import corpus

    data = Path(__file__).parent / "data" / "realspeech"
    clean = corpus.sox_read(data / "barista_house_coffee.wav").astype(np.float32) / 32768
    padded = np.concatenate([np.zeros(8000, np.float32), clean, np.zeros(32000, np.float32)])
    noise = corpus.sox_read(data / "kitchen_noise_12s.flac").astype(np.float32) / 32768
    noisy = corpus.peak_mix(padded, noise, 6.0, 0, 0.99).astype(np.float32)
    quiet, at = bench_realspeech.endpointed(padded, bench_realspeech.endpoint_vad("silero"))
    loud, loud_at = bench_realspeech.endpointed(noisy, bench_realspeech.endpoint_vad("silero"))
    assert not at["cut"] and not loud_at["cut"] and abs(loud_at["end_s"] - at["end_s"]) <= 0.4
    assert len(quiet) < len(padded) and at["kept_s"] == round(len(quiet) / 16000, 2)
    _, webrtc = bench_realspeech.endpointed(noisy, bench_realspeech.endpoint_vad("webrtc"))
    assert webrtc["cut"] and webrtc["end_s"] == 8.0  # kitchen noise is speech to the WebRTC VAD


def test_the_paced_section_shows_both_waits_and_the_second_opinions_own_row():
    text = bench_realspeech.paced_section({"files": 2, "engine": "moonshine+whisper", "rows": [
        {"snr": "6", "requests": "all", "n": 2, "early": 2, "wait_p50": 10.0, "wait_p95": 20.0, "alone_p50": 300.0,
         "alone_p95": 400.0},
        {"snr": "6", "requests": "second opinion asked", "n": 1, "early": "", "wait_p50": 900.0, "wait_p95": 900.0,
         "alone_p50": 1300.0, "alone_p95": 1300.0}]}, "cmd")
    assert "| 6 | all | 2 | 2 | 10.0 / 20.0 | 300.0 / 400.0 |" in text
    assert "| 6 | second opinion asked | 1 |  | 900.0 / 900.0 | 1300.0 / 1300.0 |" in text
    assert "moonshine+whisper is given it" in text
