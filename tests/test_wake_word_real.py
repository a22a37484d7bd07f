"""Real recordings (tests/data/wakeword, Apache-2.0): each default wake word and "alexa" wake the device, real
speech and other words ("computer", "smart mirror") do not.

Through `reorder replay` with the default engine, as a user would run it; and the voice-activity
gate on the same recordings, starting right after digital silence.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from device.__main__ import make_parser
from device.adapters.audio.vad import WebRtcVad
from device.adapters.speech.microwakeword import MicroWakeWordEngine
from device.adapters.speech.openwakeword import OpenWakeWordLite
from device.audio.source import FRAME_SAMPLES
from device.audio.wake_word import GatedEngine
from device.config import WakeSettings

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parent / "data" / "wakeword"
ALEXA = sorted(DATA.glob("alexa-*.flac"))
BARISTA = sorted(DATA.glob("barista-*.flac"))
OTHER_WORDS = sorted(DATA.glob("computer-*.flac")) + sorted(DATA.glob("smart_mirror-*.flac"))
GAP = 9.0
"""Seconds between two recordings: the loop listens for 5 s after a wake, then rests."""


def decode(path: Path) -> np.ndarray:
    """16 kHz mono int16 samples of a recording (sox decodes FLAC)."""
    out = subprocess.run(["sox", str(path), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2")


def write_wav(path: Path, samples: np.ndarray) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def joined(paths: list[Path], lead: float, gap: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The recordings one after another, `gap` s apart after `lead` s of silence; (samples, (start, end) of each)."""
    parts, spans, pos = [np.zeros(int(lead * 16000), np.int16)], [], int(lead * 16000)
    for path in paths:
        x = decode(path)
        spans.append((pos / 16000, (pos + len(x)) / 16000))
        parts += [x, np.zeros(int(gap * 16000), np.int16)]
        pos += len(x) + int(gap * 16000)
    return np.concatenate(parts), spans


def replay(wav: Path, broker_url: str, tmp_path: Path, *extra: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "device", "replay", str(wav), "--broker", broker_url,
                           "--catalog", "device/samples/catalog.json", "--outbox", str(tmp_path / "outbox.sqlite3"),
                           *extra], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def spoken(word: str) -> Path:
    """The committed real recording of a bundled wake word."""
    return DATA / f"{word}-pymicro-wakeword-1.flac"


def test_the_recordings_are_here_with_their_licence():
    assert len(ALEXA) == 4 and len(BARISTA) == 2 and len(OTHER_WORDS) == 2
    assert all(spoken(word).is_file() for word in WakeSettings().words())
    assert "Apache License" in (DATA / "LICENSE-small-real").read_text()
    assert "Apache License" in (DATA / "LICENSE").read_text() and "Picovoice" in (DATA / "LICENSE").read_text()
    assert "Apache License" in (DATA / "LICENSE-barista").read_text()


def test_real_alexa_recordings_wake_the_default_engine_through_replay(mosquitto, tmp_path):
    samples, spans = joined(ALEXA, lead=1.0, gap=GAP)
    events = replay(write_wav(tmp_path / "alexa.wav", samples), mosquitto.url, tmp_path, "--wake-word", "alexa")
    wakes = [e for e in events if e["event"] == "wake"]
    assert [w["engine"] for w in wakes] == [WakeSettings.engine] * len(ALEXA), wakes
    assert all(w["keyword"] == "alexa" for w in wakes)
    for wake, (start, end) in zip(wakes, spans):
        assert start <= wake["t"] <= end + 1.5, (wake, start, end)


def test_each_default_wake_word_said_by_a_person_wakes_the_default_config_and_is_named(mosquitto, tmp_path):
    words = list(WakeSettings().words())
    samples, spans = joined([spoken(word) for word in words], lead=1.0, gap=GAP)
    events = replay(write_wav(tmp_path / "words.wav", samples), mosquitto.url, tmp_path)
    wakes = [e for e in events if e["event"] == "wake"]
    assert [w["keyword"] for w in wakes] == words, wakes  # every word wakes, and the event names it
    for wake, (start, end) in zip(wakes, spans, strict=True):
        assert start <= wake["t"] <= end + 1.5, (wake, start, end)


def test_two_words_configured_either_wakes_and_the_event_names_it(mosquitto, tmp_path):
    config = tmp_path / "device.toml"
    config.write_text('[wake]\nkeywords = ["okay_nabu", "hey_jarvis"]\n')
    words = ["hey_jarvis", "okay_nabu", "hey_jarvis"]  # either order, each named
    samples, spans = joined([spoken(word) for word in words], lead=1.0, gap=GAP)
    events = replay(write_wav(tmp_path / "two.wav", samples), mosquitto.url, tmp_path, "--config", str(config))
    wakes = [e for e in events if e["event"] == "wake"]
    assert [w["keyword"] for w in wakes] == words, wakes
    for wake, (start, end) in zip(wakes, spans, strict=True):
        assert start <= wake["t"] <= end + 1.5, (wake, start, end)


@pytest.mark.parametrize("extra", [(), ("--wake-word", "alexa")], ids=["default words", "alexa"])
def test_real_speech_and_other_words_do_not_wake(mosquitto, tmp_path, extra):
    samples, _ = joined(BARISTA + OTHER_WORDS, lead=0.5, gap=1.0)
    events = replay(write_wav(tmp_path / "talk.wav", samples), mosquitto.url, tmp_path, *extra)
    assert [e for e in events if e["event"] == "wake"] == []
    assert events, "replay printed no event at all"


def test_wake_word_flag_takes_spoken_names_and_keeps_paths():
    parse = make_parser().parse_args
    assert parse(["replay", "a.wav", "--wake-word", "Hey Jarvis"]).wake_word == "hey_jarvis"
    assert parse(["run", "--wake-word", "alexa"]).wake_word == "alexa"
    assert parse(["run", "--wake-word", "/models/My_Word.json"]).wake_word == "/models/My_Word.json"


def onset(x: np.ndarray) -> int:
    """Index of the first 10 ms piece within 30 dB of the loudest: where the word starts."""
    n = len(x) // 160 * 160
    level = np.sqrt((x[:n].astype(np.float64).reshape(-1, 160) ** 2).mean(axis=1))
    return int(np.nonzero(level >= level.max() * 10 ** (-30 / 20))[0][0]) * 160


def peak(engine, samples: np.ndarray) -> float:
    x = np.concatenate([samples, np.zeros((-len(samples)) % FRAME_SAMPLES, np.int16)])
    return max(engine.score(x[i:i + FRAME_SAMPLES].tobytes()) for i in range(0, len(x), FRAME_SAMPLES))


@pytest.mark.parametrize("make", [MicroWakeWordEngine, OpenWakeWordLite], ids=["microwakeword", "openwakeword"])
def test_gating_never_loses_a_wake_word_that_starts_right_after_silence(make):
    """The word cut to its first loud 10 ms, right after 3 s of digital silence, on a frame boundary or not."""
    bare, gated = make("alexa"), GatedEngine(make("alexa"), WebRtcVad())
    threshold = bare.default_threshold
    for path in ALEXA:
        x = decode(path)
        for shift in (0, 480):  # the word starting at a frame boundary, and 30 ms into a frame
            clip = np.concatenate([np.zeros(3 * 16000 + shift, np.int16), x[onset(x):], np.zeros(16000, np.int16)])
            bare.reset()
            gated.reset()
            ungated_peak, gated_peak = peak(bare, clip), peak(gated, clip)
            assert ungated_peak >= threshold, (path.name, shift, ungated_peak)
            assert gated_peak >= threshold, (path.name, shift, gated_peak, ungated_peak)
