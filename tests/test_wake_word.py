"""Wake word: openWakeWord on espeak-ng speech, the refractory period, the voice-activity gate, Porcupine's keys."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from device.adapters.audio.wav_source import WavSource
from device.adapters.speech.openwakeword import OpenWakeWordLite as OpenWakeWord
from device.adapters.speech.porcupine import Porcupine, read_access_key
from device.audio.source import FRAME_SECONDS
from device.audio.wake_word import GatedEngine, WakeWordDetector
from device.errors import ModelError


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


class ScriptedVad:
    """Speech exactly in the frames whose index is listed."""

    def __init__(self, speech: set[int]) -> None:
        self.speech, self.i = speech, -1

    def is_speech(self, frame: bytes) -> bool:
        self.i += 1
        return self.i in self.speech


class Log:
    """An engine that records which frames it scored (frame i carries i in its first sample) and its resets."""

    name, keyword, default_threshold = "log", "test", 0.5

    def __init__(self) -> None:
        self.seen: list[int | str] = []

    def score(self, frame: bytes) -> float:
        self.seen.append(int.from_bytes(frame[:2], "little"))
        return 0.9 if self.seen[-1] == 30 else 0.0

    def reset(self) -> None:
        self.seen.append("reset")


def numbered(n: int) -> list[bytes]:
    return [i.to_bytes(2, "little") * 1280 for i in range(n)]


def test_the_gate_scores_nothing_in_silence_then_the_pre_roll_and_the_speech():
    engine = Log()
    gate = GatedEngine(engine, ScriptedVad(set(range(20, 26))), preroll_frames=12, hangover_frames=3)
    scores = [gate.score(f) for f in numbered(40)]
    # frames 0-19: silence, not scored; at 20 a reset, the 12 frames before it, then 20-25 and 3 of hangover
    assert engine.seen == ["reset", *range(8, 20), *range(20, 29)]
    assert scores[:20] == [0.0] * 20 and max(scores) == 0.0  # frame 30 (the 0.9) came after the gate closed
    assert gate.scored == 12 + 9 and gate.frames == 40


def test_a_score_in_the_pre_roll_counts_when_the_gate_opens():
    engine = Log()
    gate = GatedEngine(engine, ScriptedVad({35}), preroll_frames=12, hangover_frames=0)
    scores = [gate.score(f) for f in numbered(36)]
    assert scores[35] == 0.9  # frame 30 scored 0.9 while fed as pre-roll of frame 35
    detector = WakeWordDetector(GatedEngine(Log(), ScriptedVad({35}), 12, 0), 0.5, 2.0)
    wakes = [w for i, f in enumerate(numbered(36)) if (w := detector.process(f, i * 0.08))]
    assert len(wakes) == 1 and wakes[0].engine == "log" and wakes[0].score == 0.9


def test_hold_off_closes_the_gate_and_forgets_the_pre_roll():
    engine = Log()
    gate = GatedEngine(engine, ScriptedVad({5, 6, 30}), preroll_frames=4, hangover_frames=0)
    frames = numbered(31)
    for f in frames[:10]:
        gate.score(f)
    WakeWordDetector(gate, 0.5, 2.0).hold_off(1.0)
    engine.seen.clear()
    for f in frames[10:]:
        gate.score(f)
    assert engine.seen == ["reset", 26, 27, 28, 29, 30]


class Fixed:
    """An engine that scores `value` on the listed frame indexes, 0 elsewhere."""

    name = "fixed"
    default_threshold = 0.5

    def __init__(self, keyword: str, hits: dict[int, float]) -> None:
        self.keyword, self.hits, self.i, self.resets = keyword, hits, -1, 0

    def score(self, frame: bytes) -> float:
        self.i += 1
        return self.hits.get(self.i, 0.0)

    def reset(self) -> None:
        self.resets += 1


def test_two_words_either_wakes_and_the_event_names_it():
    nabu, jarvis = Fixed("okay_nabu", {10: 0.9, 100: 0.95}), Fixed("hey_jarvis", {50: 0.99, 101: 0.6})
    detector = WakeWordDetector(nabu, 0.85, 2.0, [(jarvis, 0.97)])
    wakes = [w for i in range(150) if (w := detector.process(bytes(2560), i * 0.08))]
    assert [(w.keyword, w.score) for w in wakes] == [("okay_nabu", 0.9), ("hey_jarvis", 0.99), ("okay_nabu", 0.95)]
    assert detector.keywords == ["okay_nabu", "hey_jarvis"]
    detector.hold_off(20.0)
    assert nabu.resets == jarvis.resets == 1  # every word's engine forgets its audio


def test_each_word_has_its_own_threshold_and_the_refractory_period_is_shared():
    # frame 10: okay_nabu 0.9 is under its 0.95; hey_jarvis 0.6 passes its 0.5. Frame 12: both pass, but within 2 s.
    nabu, jarvis = Fixed("okay_nabu", {10: 0.9, 12: 0.99}), Fixed("hey_jarvis", {10: 0.6, 12: 0.99})
    detector = WakeWordDetector(nabu, 0.95, 2.0, [(jarvis, 0.5)])
    wakes = [w for i in range(20) if (w := detector.process(bytes(2560), i * 0.08))]
    assert [w.keyword for w in wakes] == ["hey_jarvis"]


def test_both_past_their_threshold_in_one_frame_the_clearer_names_the_wake():
    nabu, jarvis = Fixed("okay_nabu", {3: 0.9}), Fixed("hey_jarvis", {3: 0.98})
    wake = [w for i in range(5) if (w := WakeWordDetector(nabu, 0.5, 2.0, [(jarvis, 0.97)]).process(b"", i))]
    # a fresh detector per frame: only frame 3 scores; 0.9 is 0.4 over okay_nabu's 0.5, 0.98 only 0.01 over 0.97
    assert len(wake) == 1 and wake[0].keyword == "okay_nabu"


def test_the_configured_words_are_built_each_with_the_threshold_of_its_sensitivity():
    from device import config
    from device.adapters.speech.microwakeword import THRESHOLDS
    from device.app import make_wake_detector

    s = config.from_mapping({"wake": {"keywords": ["okay_nabu", "hey_jarvis"],
                                      "sensitivity": {"okay_nabu": "high"}, "threshold": {"hey_jarvis": 0.9}}}, "t")
    detector = make_wake_detector(s)
    assert detector.keywords == ["okay_nabu", "hey_jarvis"]
    assert [t for _, t in detector.words] == [THRESHOLDS["okay_nabu"]["high"], 0.9]
    assert all(isinstance(e, GatedEngine) for e, _ in detector.words)
    one = make_wake_detector(config.from_mapping({"wake": {"keyword": "alexa", "vad_gate": False}}, "t"))
    assert one.keywords == ["alexa"] and one.threshold == THRESHOLDS["alexa"]["normal"]


@pytest.mark.parametrize("wake,message", [
    ({"keywords": []}, "[wake] keywords in t must name at least one wake word"),
    ({"keywords": ["alexa", "alexa"]}, "names a word twice"),
    ({"keywords": "alexa"}, "[wake] keywords in t must be a list of strings"),
    ({"sensitivity": "medium"}, "[wake] sensitivity in t must be low, normal, high or a number"),
    ({"sensitivity": {"alexa": "high"}}, "[wake] sensitivity in t names alexa, which is not among the wake words"),
    ({"threshold": {"hey_jarvis": 1.5}}, "[wake] threshold in t must be between 0 and 1"),
    ({"sensitivity": 0}, "[wake] sensitivity in t must be low, normal, high or a number 0-1"),
])
def test_bad_wake_settings_are_one_line_naming_the_key(wake, message):
    from device import config
    from device.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        config.from_mapping({"wake": {"keywords": ["hey_jarvis"], **wake}}, "t")
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_single_keyword_replaces_the_list_and_porcupines_number_still_works():
    from device import config
    from device.app import sensitivity_level

    s = config.from_mapping({"wake": {"keyword": "alexa", "sensitivity": 0.7}}, "t")
    assert s.wake.words() == ("alexa",) and s.wake.sensitivity_of("alexa") == 0.7
    assert [sensitivity_level(v) for v in (0.3, 0.5, 0.7, "low")] == ["low", "normal", "high", "low"]
    override = config.override(config.from_mapping({"wake": {"keywords": ["okay_nabu", "hey_jarvis"]}}, "t"),
                               {("wake", "keyword"): "hey_mycroft"})
    assert override.wake.words() == ("hey_mycroft",)


def test_engines_without_okay_nabu_take_hey_jarvis_for_the_default_only():
    from device import config
    from device.app import wake_words

    default = config.from_mapping({"wake": {"engine": "openwakeword"}}, "t")
    assert config.DEFAULT_KEYWORDS == ("okay_nabu",) and wake_words(default) == ("hey_jarvis",)
    chosen = config.from_mapping({"wake": {"engine": "openwakeword", "keywords": ["alexa"]}}, "t")
    assert wake_words(chosen) == ("alexa",)
    assert wake_words(config.from_mapping({}, "t")) == ("okay_nabu",)
