"""The greedy-first shortcut (recognition.shortcut) and the calibrated rejection rule (recognition.rejection)."""

from __future__ import annotations

import numpy as np
import pytest

from device.contract.catalogue import Catalogue
from device.language import grammar as grammars
from device.language import sentences
from device.recognition.constrained import Resume, search
from device.recognition.neural import ConstrainedRecognizer, SearchSettings
from device.recognition.rejection import FEATURES, Calibration, features, words_of
from device.recognition.shortcut import greedy_sentence
from device.recognition.spelling import Speller, digit_aliases
from tests.fake_decoder import FakeDecoder

AUDIO = np.zeros(16000, dtype=np.float32)
DIGITS = digit_aliases("en")


def speller(decoder: FakeDecoder) -> Speller:
    grammar = grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US")
    return Speller(sentences.build(grammar), decoder.vocabulary, DIGITS)


def test_a_free_transcript_in_the_grammar_is_the_answer_without_the_beam():
    dec = FakeDecoder(" order 2 milk.")
    sp = speller(dec)
    found, _ = greedy_sentence(dec, sp, AUDIO, max_tokens=40)
    assert found is not None and found.best.words == ("order", "two", "milk") and found.gap() == 0.0
    quick_calls = dec.calls
    full = search(FakeDecoder(" order 2 milk."), sp, AUDIO)
    assert full.best.words == found.best.words and full.best.logprob == pytest.approx(found.best.logprob)
    assert quick_calls <= len(found.free_tokens)  # one single-hypothesis call per token, no beam


def test_a_free_transcript_off_the_grammar_falls_back_to_the_beam_on_the_same_encoding():
    dec = FakeDecoder(" what's the weather")
    found, started = greedy_sentence(dec, speller(dec), AUDIO, max_tokens=40)
    assert found is None
    logp, state = started.start(AUDIO)  # the encoded request again, not a second encoder run
    assert state == b"" and logp.shape == (len(dec.vocabulary),)


def test_a_greedy_pass_that_leaves_the_grammar_late_resumes_the_beam_two_words_back():
    heard = " order 2 milk and the coffee and the weather"  # a sentence of the grammar until "weather"
    dec = FakeDecoder(heard)
    sp = speller(dec)
    found, resume = greedy_sentence(dec, sp, AUDIO, max_tokens=40, resume=True)
    assert found is None and isinstance(resume, Resume)
    # the hypothesis before the second-last word begun (" and", then " the", then " weather" left the grammar)
    assert resume.words == ("order", "two", "milk", "and", "the") and resume.tokens == 6
    full_dec = FakeDecoder(heard)
    full = search(full_dec, sp, AUDIO, max_tokens=40)
    assert (resume.free_tokens, resume.free_logprob) == (full.free_tokens, pytest.approx(full.free_logprob))
    resumed_dec = FakeDecoder(heard)
    resumed = search(resumed_dec, sp, AUDIO, max_tokens=40, resume=resume)
    # From the start, the beam's best ends early ("order two milk": fewer tokens to pay for); resumed, it keeps
    # the words the model heard inside the grammar, and it is one of the sentences the full beam found.
    assert full.best.words == ("order", "two", "milk")
    assert resumed.best.words == ("order", "two", "milk", "and", "the", "coffee")
    assert resumed.best.words in [h.words for h in full.nbest]
    assert resumed_dec.calls < full_dec.calls  # the words before the resume point are not decoded again


def test_a_greedy_pass_that_leaves_the_grammar_at_once_starts_the_beam_from_the_beginning():
    dec = FakeDecoder(" what's the weather")
    found, then = greedy_sentence(dec, speller(dec), AUDIO, max_tokens=40, resume=True)
    assert found is None and not isinstance(then, Resume)


def test_greedy_first_gives_the_beam_answer_through_the_recognizer():
    grammar = grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US")
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    for heard in (" order 2 milk.", " what's the weather"):
        plain = ConstrainedRecognizer(FakeDecoder(heard), "en-US")
        quick = ConstrainedRecognizer(FakeDecoder(heard), "en-US", SearchSettings(greedy_first=True))
        resumed = ConstrainedRecognizer(FakeDecoder(heard), "en-US", SearchSettings(greedy_first=True,
                                                                                     greedy_resume=True))
        for rec in (plain, quick, resumed):
            rec.set_grammar(grammar)
        a, b, c = plain.recognize(loud), quick.recognize(loud), resumed.recognize(loud)
        assert (a.text, a.confidence) == (b.text, b.confidence) == (c.text, c.confidence)


def test_features_read_digits_as_words_and_see_a_sentence_ended_early():
    assert words_of("Twelve-ounce, 12 oz!", DIGITS) == ["twelve", "ounce", "twelve", "oz"]
    whole = features(0.0, -0.2, -1.0, None, ("a", "twelve", "ounce", "coffee"), 8, "A 12-ounce coffee", 7, DIGITS)
    cut = features(-0.3, -0.5, -2.0, 1.5, ("a", "coffee"), 4, "A coffee with soy milk", 9, DIGITS)
    assert len(whole) == len(FEATURES)
    assert whole[4] == 1.0 and whole[3] == 8.0  # every word heard freely; no rival sentence
    assert cut[5] < whole[5] and cut[3] == 1.5  # shorter than what the model heard


def test_the_calibration_maps_its_operating_point_to_085_and_rises_with_each_feature():
    cal = Calibration(weights=(1.0, 1.0, 1.0, 1.0, 1.0, -1.0), centre=(0.0,) * 6, scale=(1.0,) * 6,
                      bias=float(np.log(0.85 / 0.15)))
    assert cal.confidence((0.0,) * 6) == 0.85
    assert cal.confidence((-1.0, 0, 0, 0, 0, 0)) < 0.85 < cal.confidence((0, 0, 0, 1.0, 0, 0))
    assert 0.0 <= cal.confidence((-1e9,) * 6) <= cal.confidence((1e9,) * 5 + (-1e9,)) <= 1.0


def test_a_sentence_that_ended_before_the_speech_did_is_refused_with_the_reason():
    grammar = grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US")
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    guarded = ConstrainedRecognizer(FakeDecoder(" order two milk and the weather"), "en-US",
                                    SearchSettings(ended_early_words=3))
    guarded.set_grammar(grammar)
    result = guarded.search(loud)
    assert result.best.words[-1] == "milk" and guarded.judge.ended_early(result) == 3
    assert guarded.verdict(result) == (0.0, "the free transcript went on 3 words past the sentence")
    whole = ConstrainedRecognizer(FakeDecoder(" order two milk"), "en-US", SearchSettings(ended_early_words=3))
    whole.set_grammar(grammar)
    assert whole.recognize(loud).confidence >= 0.85
