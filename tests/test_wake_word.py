"""Wake word: openWakeWord on espeak-ng speech, the refractory period, and Porcupine's key handling."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from device.adapters.oww_lite import OpenWakeWordLite as OpenWakeWord
from device.adapters.porcupine import Porcupine, read_access_key
from device.adapters.wav_source import WavSource
from device.errors import ModelError
from device.stages.audio_source import FRAME_SECONDS
from device.stages.wake_word import WakeWordDetector


def wakes(wav, detector: WakeWordDetector) -> list[float]:
    source = WavSource(wav)
    source.open()
    t, found = 0.0, []
    while (frame := source.read()) is not None:
        t += FRAME_SECONDS
        if detector.process(frame, t):
            found.append(round(t, 2))
    return found


@pytest.fixture(scope="module")
def jarvis() -> OpenWakeWord:
    return OpenWakeWord("hey_jarvis")


def test_hey_jarvis_wakes_once_per_utterance(jarvis, say):
    wav = say([("silence", 0.5), ("speech", "hey jarvis"), ("silence", 3.0), ("speech", "hey jarvis"),
               ("silence", 1.0)])
    found = wakes(wav, WakeWordDetector(jarvis, 0.5, 2.0))
    assert len(found) == 2 and found[1] - found[0] > 2.5


def test_without_the_refractory_period_one_utterance_scores_several_frames(jarvis, say):
    wav = say([("silence", 0.5), ("speech", "hey jarvis"), ("silence", 1.0)])
    jarvis.reset()
    assert len(wakes(wav, WakeWordDetector(jarvis, 0.5, 0.0))) > 1


def test_other_speech_does_not_wake(jarvis, say):
    wav = say([("speech", "could you reorder three bottles of orange juice for me"), ("silence", 0.5),
               ("speech", "commande deux bouteilles de lait")])
    jarvis.reset()
    assert wakes(wav, WakeWordDetector(jarvis, 0.5, 2.0)) == []


def test_unknown_openwakeword_model_is_a_clear_error():
    with pytest.raises(ModelError, match="hey_jarvis, alexa, hey_mycroft"):
        OpenWakeWord("ok_google")


def test_porcupine_without_a_key_says_what_to_do(monkeypatch):
    monkeypatch.delenv("PICOVOICE_ACCESS_KEY", raising=False)
    with pytest.raises(ModelError, match="PICOVOICE_ACCESS_KEY"):
        read_access_key("")


def test_porcupine_with_an_invalid_key_is_one_clear_line():
    with pytest.raises(ModelError) as err:
        Porcupine("jarvis", "not-a-real-key")
    assert "AccessKey" in str(err.value) and "\n" not in str(err.value)


def test_porcupine_bad_key_through_the_command_line_has_no_traceback(tmp_path, say):
    wav = say([("silence", 0.3)])
    env = {**os.environ, "PICOVOICE_ACCESS_KEY": "invalid-key"}
    done = subprocess.run([sys.executable, "-m", "device", "replay", str(wav), "--wake-engine", "porcupine",
                           "--catalog", "device/samples/catalog.json", "--outbox", str(tmp_path / "o.db")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "AccessKey" in done.stderr.strip().splitlines()[-1]


@pytest.mark.skipif(not os.environ.get("PICOVOICE_ACCESS_KEY"),
                    reason="real Porcupine detection needs a valid Picovoice AccessKey (PICOVOICE_ACCESS_KEY), "
                           "validated online; none is available here")
def test_porcupine_detects_jarvis(say):
    engine = Porcupine("jarvis", os.environ["PICOVOICE_ACCESS_KEY"])
    wav = say([("silence", 0.5), ("speech", "jarvis"), ("silence", 1.0)])
    assert len(wakes(wav, WakeWordDetector(engine, 0.5, 2.0))) == 1
