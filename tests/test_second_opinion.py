"""A second opinion (recognition.second_opinion, `[recognizer] second_opinion`): the second recogniser is asked only
when the first refuses, and its answer stands only when it clears the same rule."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from device import config, engines
from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir
from device.contract.catalogue import Catalogue
from device.errors import ConfigError, ModelError
from device.language import grammar as grammars
from device.prepare import whisper as whisper_prepare
from device.recognition.decoding import Superseded
from device.recognition.early import EarlyStart
from device.recognition.neural import ConstrainedRecognizer, SearchSettings
from device.recognition.second_opinion import SecondOpinion
from tests.fake_decoder import FakeDecoder

AUDIO = bytes(32000)
GRAMMAR = grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US")


def pair(first_heard: str, second_heard: str, parallel: bool = False, second: FakeDecoder | None = None,
         greedy_first: bool = False) -> tuple[SecondOpinion, FakeDecoder, FakeDecoder]:
    first, second = FakeDecoder(first_heard), second or FakeDecoder(second_heard)
    cascade = SecondOpinion(ConstrainedRecognizer(first, "en-US", SearchSettings(greedy_first=greedy_first)),
                            ConstrainedRecognizer(second, "en-US"), 0.85, parallel=parallel)
    cascade.set_grammar(GRAMMAR)
    return cascade, first, second


class HeldDecoder(FakeDecoder):
    """A second model whose encoder waits for `release` (a slow Whisper), counting the searches that gave up."""

    def __init__(self, heard: str) -> None:
        super().__init__(heard)
        self.release = threading.Event()

    def start(self, audio):
        assert self.release.wait(10), "never released"
        return super().start(audio)


def test_a_confident_first_answer_stands_and_the_second_model_is_never_run():
    cascade, _, second = pair(" order two milk", " what's the weather")
    heard = cascade.recognize(AUDIO)
    assert heard.text == "order two milk" and heard.confidence >= 0.85
    assert second.calls == 0 and cascade.asked == 0


def test_a_refusal_is_heard_again_and_the_second_answer_stands_when_it_clears_the_rule():
    cascade, _, _ = pair(" what's the weather", " order two milk")
    alone = cascade.first.recognize(AUDIO)
    assert alone.confidence < 0.85  # the first model alone refuses
    heard = cascade.recognize(AUDIO)
    assert heard.text == "order two milk" and heard.confidence >= 0.85
    assert (cascade.asked, cascade.taken) == (1, 1)
    assert cascade.answer(AUDIO)[0] is cascade.second


def test_the_second_answer_must_clear_the_bar_by_the_margin():
    cascade, _, _ = pair(" what's the weather", " order two milk")
    assert cascade.second_confidence == pytest.approx(0.90)
    verdict = cascade.second.verdict
    cascade.second.verdict = lambda result: (0.87, "")  # clears min_confidence, not the margin above it
    assert cascade.answer(AUDIO)[0] is cascade.first and cascade.recognize(AUDIO).confidence < 0.85
    cascade.second.verdict = lambda result: (0.91, "") if result.best else verdict(result)
    assert cascade.answer(AUDIO)[0] is cascade.second and cascade.taken == 1


def test_when_both_refuse_the_first_refusal_stands():
    cascade, _, second = pair(" what's the weather", " the weather")
    first_alone = cascade.first.recognize(AUDIO)
    heard = cascade.recognize(AUDIO)
    assert heard == first_alone and heard.confidence < 0.85
    assert (cascade.asked, cascade.taken) == (1, 0) and second.calls > 0


def test_started_early_it_gives_the_same_decision_from_the_early_job():
    plain, _, _ = pair(" what's the weather", " order two milk")
    expected = plain.recognize(AUDIO)
    cascade, _, _ = pair(" what's the weather", " order two milk")
    early = EarlyStart(cascade)
    early.prefetch(AUDIO)
    assert early.recognize(AUDIO) == expected and early.used == 1


@pytest.mark.parametrize("first_heard, second_heard", [(" order two milk", " what's the weather"),
                                                     (" what's the weather", " order two milk"),
                                                     (" what's the weather", " the weather")])
def test_in_parallel_the_decision_is_the_same_as_one_after_the_other(first_heard, second_heard):
    one_after, _, _ = pair(first_heard, second_heard)
    at_once, _, _ = pair(first_heard, second_heard, parallel=True)
    assert at_once.recognize(AUDIO) == one_after.recognize(AUDIO)
    assert (at_once.asked, at_once.taken) == (one_after.asked, one_after.taken)


def test_in_parallel_a_confident_first_answer_does_not_wait_for_the_second_which_stops():
    held = HeldDecoder(" order two milk")
    cascade, _, _ = pair(" order two milk", "", parallel=True, second=held)
    heard = cascade.recognize(AUDIO)  # had it waited for the second model, that would still be held
    assert heard.text == "order two milk" and heard.confidence >= 0.85 and cascade.asked == 0
    held.release.set()
    for worker in [t for t in threading.enumerate() if t.name == "second-opinion"]:
        worker.join(5)
        assert not worker.is_alive()
    assert held.calls == 0  # it gave up before its first step (or before it started at all)


def test_in_parallel_an_easy_request_never_starts_the_second_model():
    held = HeldDecoder(" order two milk")  # would block the test for 10 s if it were ever started
    cascade, _, _ = pair(" order two milk", "", parallel=True, second=held, greedy_first=True)
    heard = cascade.recognize(AUDIO)  # the greedy pass is a sentence of the grammar: no beam, no second model
    assert heard.text == "order two milk" and heard.confidence >= 0.85
    assert not [t for t in threading.enumerate() if t.name == "second-opinion"] and held.calls == 0
    hard, _, _ = pair(" what's the weather", " order two milk", parallel=True, greedy_first=True)
    assert hard.recognize(AUDIO).text == "order two milk" and hard.taken == 1  # a hard one does


def test_in_parallel_a_request_superseded_while_the_second_decodes_gives_up():
    held = HeldDecoder(" order two milk")
    cascade, _, _ = pair(" what's the weather", "", parallel=True, second=held)
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    with pytest.raises(Superseded):
        cascade.answer(AUDIO, stop)
    held.release.set()
    assert held.calls == 0


def test_the_second_runs_in_parallel_where_the_cores_hold_both_models_threads():
    assert engines.second_in_parallel(1, cores=2) and engines.second_in_parallel(2, cores=4)
    assert not engines.second_in_parallel(2, cores=2) and not engines.second_in_parallel(1, cores=1)


def test_the_grammar_in_use_is_one_object_until_either_recogniser_switches():
    cascade, _, _ = pair(" order two milk", " order two milk")
    before = cascade.grammar_in_use
    assert cascade.grammar_in_use is before
    cascade.set_grammar(GRAMMAR)
    assert cascade.wait_for_grammar(10) and not cascade.grammar_pending
    assert cascade.grammar_in_use is not before and cascade.grammar_in_use is cascade.grammar_in_use


def settings(**recognizer) -> config.Settings:
    locale = recognizer.pop("locale", "en-US")
    return config.from_mapping({"device": {"locale": locale}, "recognizer": {"engine": "moonshine", **recognizer}},
                               "test")


def test_off_by_default_and_a_bad_value_is_one_line_naming_the_key():
    assert config.RecognizerSettings().second_opinion == "off"
    assert engines.choose(settings()).second == ""
    with pytest.raises(ConfigError, match="second_opinion"):
        settings(second_opinion="sometimes")


def test_auto_asks_whisper_only_where_the_memory_for_both_models_is(monkeypatch):
    monkeypatch.setattr(engines, "_neural_model", lambda locale: ("whisper", engines.Path("/models/whisper-base")))
    monkeypatch.setattr(engines.importlib.util, "find_spec", lambda name: object())
    need = engines.SECOND_OPINION_AUTO_MB
    assert need > engines.LOOP_PEAK_MB["moonshine+whisper"] + engines.SYSTEM_MB
    assert engines.choose(settings(second_opinion="auto"), memory=need - 1).second == ""
    chosen = engines.choose(settings(second_opinion="auto"), memory=need)
    assert chosen.engine == "moonshine" and chosen.second == "whisper" and f"auto needs {need}" in chosen.second_why
    assert engines.choose(settings(second_opinion="whisper"), memory=need - 1).second == "whisper"


def test_whisper_asked_for_without_its_model_or_library_or_for_french_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(engines, "_neural_model", lambda locale: ("", engines.Path("/nowhere/whisper-base")))
    with pytest.raises(ModelError, match=r"second_opinion = \"whisper\": no Whisper model in /nowhere/whisper-base"):
        engines.choose(settings(second_opinion="whisper"), memory=4000)
    assert engines.choose(settings(second_opinion="auto"), memory=4000).second == ""
    monkeypatch.setattr(engines, "_neural_model", lambda locale: ("whisper", engines.Path("/models/whisper-base")))
    monkeypatch.setattr(engines.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="ctranslate2 is not installed"):
        engines.choose(settings(second_opinion="whisper"), memory=4000)
    with pytest.raises(ModelError, match="backs up Moonshine"):
        engines.choose(settings(second_opinion="whisper", locale="fr-FR", engine="whisper"), memory=4000)
    assert engines.choose(settings(second_opinion="auto", locale="fr-FR", engine="whisper"), memory=4000).second == ""


DATA = Path(__file__).parent / "data" / "realspeech"
needs_moonshine = pytest.mark.skipif(not all((default_model_dir() / f).exists() for f in MODEL_FILES),
                                     reason="the Moonshine model is not prepared (scripts/dev setup prepares it)")


@needs_moonshine
def test_a_real_command_in_6_db_kitchen_noise_refused_by_moonshine_is_rescued_by_whisper(tmp_path):
    """"get me a light roast iced coffee with sweetener" (barista benchmark) mixed with its kitchen noise at 6 dB as
    `python -m bench realspeech` mixes it: Moonshine alone hears "... light rose-sized coffee with sweet enough", its
    best sentence drops "iced" and is refused; Moonshine + Whisper reads back the right drink."""
    whisper_prepare.prepare(whisper_prepare.default_model_dir())
    heard = {}
    for opinion in ("off", "whisper"):
        cfg = tmp_path / f"{opinion}.toml"
        cfg.write_text(f'[recognizer]\nsecond_opinion = "{opinion}"\n')
        wav = DATA / "barista_light_roast_iced_coffee_6db.wav"
        done = subprocess.run([sys.executable, "-m", "device", "transcribe", str(wav), "--grammar",
                               str(DATA / "coffee_maker.yaml"), "--engine", "moonshine", "--config", str(cfg)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        heard[opinion] = json.loads(done.stdout)
    assert heard["off"]["accepted"] is False and "by" not in heard["off"]
    rescued = heard["whisper"]
    assert rescued["by"] == "whisper" and rescued["accepted"] is True and rescued["confidence"] >= 0.90
    assert rescued["intent"] == "orderDrink" and rescued["slots"] == {
        "coffeeDrink": "iced coffee", "roast": "light roast", "sugarAmount": "sweetener"}
