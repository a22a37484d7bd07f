"""The lean openWakeWord scorer gives the library's scores, without the library's imports."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from device.adapters.speech.openwakeword import FRAME_SAMPLES, OpenWakeWordLite, model_path
from device.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]


def frames(path: Path) -> list[bytes]:
    with wave.open(str(path)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    x = np.concatenate([x, np.zeros((-len(x)) % FRAME_SAMPLES, dtype="<i2")])
    return [x[i:i + FRAME_SAMPLES].tobytes() for i in range(0, len(x), FRAME_SAMPLES)]


def library():
    from openwakeword.model import Model

    model = Model(wakeword_model_paths=[str(model_path("hey_jarvis"))])
    key = next(iter(model.models))
    return lambda frame: float(model.predict(np.frombuffer(frame, dtype="<i2"))[key])


@pytest.fixture(scope="module")
def lite() -> OpenWakeWordLite:
    return OpenWakeWordLite()


@pytest.fixture
def wake_and_talk(say) -> Path:
    return say([("silence", 1.0), ("speech", "hey jarvis"), ("silence", 1.2),
                ("speech", "reorder two bottles of milk"), ("silence", 0.8), ("speech", "hey jarvis"),
                ("silence", 1.0)])


def test_scores_match_the_library_frame_by_frame(lite, wake_and_talk, say):
    noisy = say([("silence", 0.5), ("speech", "hey jarvis"), ("silence", 1.0)], voice="en-gb", noise_db=-30)
    lite.reset()
    ours, theirs = [], []
    score = library()
    for frame in frames(wake_and_talk) + frames(noisy):
        ours.append(lite.score(frame))
        theirs.append(score(frame))
    assert max(theirs) > 0.5, "the audio should contain a detectable wake word"
    assert np.max(np.abs(np.array(ours) - np.array(theirs))) < 1e-3
    assert ours[:5] == [0.0] * 5  # openwakeword's warm-up frames


def test_reset_is_a_freshly_loaded_model(lite, wake_and_talk, say):
    for frame in frames(wake_and_talk):  # fill every buffer with "hey jarvis"
        lite.score(frame)
    lite.reset()
    later = say([("silence", 0.3), ("speech", "hey jarvis"), ("silence", 0.8)], voice="en-gb")
    fresh = library()
    ours = [lite.score(f) for f in frames(later)]
    theirs = [fresh(f) for f in frames(later)]
    assert np.max(np.abs(np.array(ours) - np.array(theirs))) < 1e-3


def test_old_audio_cannot_wake_it_after_a_reset(lite, say):
    """The loop stops feeding the wake word while it listens, then resets it: silence must not fire."""
    wake = say([("silence", 1.0), ("speech", "hey jarvis"), ("silence", 0.3)], voice="en-gb")
    lite.reset()
    assert max(lite.score(f) for f in frames(wake)) > 0.5
    lite.reset()
    assert max(lite.score(bytes(2 * FRAME_SAMPLES)) for _ in range(30)) < 0.1


def test_it_imports_neither_openwakeword_nor_scipy():
    code = ("import sys\nfrom device.adapters.speech.openwakeword import OpenWakeWordLite\n"
            "OpenWakeWordLite().score(bytes(2560))\n"
            "print(sorted(m for m in ('openwakeword', 'scipy', 'sklearn') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_engine_interface(lite):
    assert (lite.name, lite.keyword) == ("openwakeword", "hey_jarvis")
    with pytest.raises(ValueError, match="1280"):
        lite.score(bytes(100))


def test_bad_models_are_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not an openWakeWord model"):
        model_path("ok_google")
    with pytest.raises(ModelError, match="missing"):
        model_path(str(tmp_path / "nothing.onnx"))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot be loaded"):
        OpenWakeWordLite(str(broken))
