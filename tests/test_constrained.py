"""The grammar automaton, its spelling for a vocabulary, and the constrained search (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from device.contract.catalogue import Catalogue
from device.errors import ConfigError
from device.language import grammar as grammars
from device.language import sentences
from device.language.automaton import Builder
from device.language.parser import IntentParser
from device.language.rhino import compile_context
from device.recognition.constrained import search
from device.recognition.neural import ConstrainedRecognizer, confidence, trim
from device.recognition.spelling import Speller, digit_aliases
from tests.fake_decoder import FakeDecoder

AUDIO = np.zeros(16000, dtype=np.float32)


def small_grammar():
    b = Builder()
    s = b.choice(b.start, [["order"]], optional=True)
    s = b.choice(s, [["two"], ["a"]], optional=True)
    s = b.choice(s, [["milk"], ["milks"], ["coffee"]])
    b.finals.add(s)
    return b.compile()


def test_automaton_is_minimal_and_accepts_exactly_its_sentences():
    a = small_grammar()
    assert a.accepts("order two milk".split()) and a.accepts(["coffee"])
    assert not a.accepts("order order milk".split()) and not a.accepts(["order"])
    assert a.count() == 2 * 3 * 3
    assert len(a.arcs) == 4  # start, after order, after quantity, end


def test_speller_walks_bytes_across_token_boundaries_and_reads_digits_as_words():
    sp = Speller(small_grammar(), FakeDecoder("").vocabulary, digit_aliases("en"))
    pos, words = sp.start, []
    for byte in b" order 2 mil":
        pos, word = sp.step(pos, byte)
        words += [word] if word else []
    assert words == ["order", "two"] and not sp.can_end(pos)
    pos, _ = sp.step(pos, ord("k"))
    assert sp.can_end(pos) and sp.last_word(pos) == "milk"
    assert sp.step(pos, ord("x")) is None


def test_search_returns_the_heard_sentence_in_grammar_words():
    dec = FakeDecoder(" Order 2 milk.")
    result = search(dec, Speller(small_grammar(), dec.vocabulary, digit_aliases("en")), AUDIO)
    assert result.best.words == ("order", "two", "milk")
    assert result.gap() > -0.5
    assert dec.calls < 20  # batched: one model call per token step


def test_search_outside_the_grammar_costs_a_large_gap():
    dec = FakeDecoder(" what's the weather")
    result = search(dec, Speller(small_grammar(), dec.vocabulary), AUDIO)
    inside = search(FakeDecoder(" order milk"), Speller(small_grammar(), dec.vocabulary), AUDIO)
    assert result.gap() < -2.0 < inside.gap()
    assert confidence(result.gap(), -0.75) < 0.85 <= confidence(inside.gap(), -0.75)


def test_elided_words_need_no_separator():
    b = Builder()
    b.finals.add(b.phrase(b.start, ["une", "bouteille", "d'", "eau"]))
    sp = Speller(b.compile(), FakeDecoder("").vocabulary)
    pos = sp.start
    for byte in "une bouteille d'eau".encode():
        pos = sp.step(pos, byte)[0]
    assert sp.can_end(pos)


def test_catalogue_sentences_cover_what_the_parser_accepts():
    cat = Catalogue.load("device/samples/catalog.json")
    cases = {
        "en-US": ["reorder two bottles of milk", "could you order a coffee and two bottles of milk please",
                  "we're out of orange juice", "we're out of orange juice order four orange juices",
                  "add three bags of ground coffee to the order", "cancel", "never mind", "yes", "no",
                  "i need eggs and milk and bread and coffee", "get me the milk please"],
        "fr-FR": ["commande deux bouteilles de lait", "on n'a plus de lait", "il me faut du café s'il te plaît",
                  "ajoute trois baguettes à la commande", "annule", "oui", "je voudrais une bouteille d' eau"],
    }
    for locale, texts in cases.items():
        automaton = sentences.build(grammars.build(cat, locale))
        parser = IntentParser(cat, locale)
        for text in texts:
            assert automaton.accepts(text.split()), (locale, text)
            assert parser.parse(text).action in ("reorder", "cancel", "none"), text
        assert not automaton.accepts("what is the weather".split())


def test_rhino_context_reads_slots_back():
    ctx = compile_context({"context": {
        "expressions": {"orderDrink": ["[can I get, I want] [a, an] (large, small) $drink:coffeeDrink (please)"]},
        "slots": {"drink": ["latte", "iced coffee"]}}})
    words = "can i get a large iced coffee".split()
    assert ctx.automaton.accepts(words)
    assert ctx.understand(words) == ("orderDrink", {"coffeeDrink": "iced coffee"})
    assert ctx.understand("i want an latte please".split()) == ("orderDrink", {"coffeeDrink": "latte"})
    assert ctx.understand("i want latte".split()) is None
    with pytest.raises(ConfigError, match=r"\$nope"):
        compile_context({"context": {"expressions": {"x": ["$nope:n"]}, "slots": {}}})


def test_recognizer_builds_catalogue_grammar_and_refuses_out_of_grammar():
    cat = Catalogue.load("device/samples/catalog.json")
    grammar = grammars.build(cat, "en-US")
    heard = ConstrainedRecognizer(FakeDecoder(" order two milk"), "en-US")
    heard.set_grammar(grammar)
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    r = heard.recognize(loud)
    assert r.text == "order two milk" and r.confidence >= 0.85
    other = ConstrainedRecognizer(FakeDecoder(" what's the weather"), "en-US")
    other.set_grammar(grammar)
    assert other.recognize(loud).confidence < 0.85


def test_trim_keeps_the_speech_and_a_margin():
    audio = np.zeros(48000, dtype=np.float32)
    audio[20000:28000] = np.sin(np.arange(8000) / 3) * 0.5
    audio += np.random.default_rng(0).normal(0, 1e-4, 48000).astype(np.float32)
    cut = trim(audio, 0.3)
    assert 8000 + 9000 <= len(cut) <= 8000 + 9800


def test_hyphenated_and_decomposed_words_are_spelled_as_models_write_them():
    import unicodedata

    b = Builder()
    b.finals.add(b.phrase(b.start, ["allume", unicodedata.normalize("NFD", "rez-de-chaussée")]))
    sp = Speller(b.compile(), FakeDecoder("").vocabulary)
    for text in ("allume rez-de-chaussée", "Allume rez de chaussée."):
        pos = sp.start
        for byte in text.lower().replace(".", " ").encode():
            moved = sp.step(pos, byte)
            assert moved is not None, text
            pos = moved[0]
        assert sp.can_end(pos) or sp.positions[pos].root, text


def test_a_sentence_cut_short_is_not_more_likely_than_the_whole_free_transcript():
    from device.recognition.constrained import Hypothesis, SearchResult

    # 3 confident tokens and an end of text the model did not expect (-4), against a 12-token
    # free transcript at -0.1 each: the totals favour the cut sentence, the means do not.
    cut = SearchResult((Hypothesis(("je", "voudrais", "beurre"), -0.3 - 4.0, 4, -4.0),), tuple(range(11)), -1.2)
    assert (cut.nbest[0].logprob - cut.free_logprob) / 4 > -0.8
    assert cut.gap() < -0.9
    whole = SearchResult((Hypothesis(("a",) * 11, -1.2, 12, -0.2),), tuple(range(11)), -1.2)
    assert whole.gap() == 0.0


def test_a_model_that_prefers_endless_punctuation_still_finishes_a_sentence():
    # After "order" the model wants "." forever; "order" alone is no sentence. Spinning on separators
    # used to run the beam out of tokens with nothing finished (an empty answer).
    dec = FakeDecoder(" order" + "." * 80)
    result = search(dec, Speller(small_grammar(), dec.vocabulary), AUDIO)
    assert result.best is not None and result.best.words[0] == "order"
    assert result.partial is None and result.reason == ""


def test_never_two_tokens_of_separators_alone_in_a_row():
    vocabulary = FakeDecoder("").vocabulary
    sp = Speller(small_grammar(), vocabulary)
    dot, order = vocabulary.index(b"."), vocabulary.index(b" order")

    def after(pos: int, token: int) -> int:
        allowed = sp.allowed(pos)
        assert token in allowed.ids.tolist()
        return int(allowed.nexts[allowed.ids.tolist().index(token)])

    for pos in (sp.start, after(sp.start, order)):  # at the start, and after a word
        spun = after(pos, dot)
        assert dot not in sp.allowed(spun).ids.tolist()
        assert len(sp.allowed(spun)) > 0  # words may still come


def test_a_search_that_cannot_finish_returns_its_partial_words_and_why():
    b = Builder()
    b.finals.add(b.phrase(b.start, ["order", "two", "milk", "and", "the", "coffee"]))
    dec = FakeDecoder(" order two milk and the coffee")
    result = search(dec, Speller(b.compile(), dec.vocabulary), AUDIO, max_tokens=3)
    assert result.best is None and result.nbest == ()
    assert result.partial is not None and result.partial.words == ("order", "two", "milk")
    assert "3 tokens" in result.reason
    rec = ConstrainedRecognizer(dec, "en-US")
    assert rec.verdict(result) == (0.0, result.reason)


def test_short_sentence_allowance_only_for_short_sentences():
    from device.recognition.neural import short_sentence_allowance

    assert short_sentence_allowance(3, 2.0, 8) == pytest.approx(2.0 * (1 / 3 - 1 / 8))
    assert short_sentence_allowance(8, 2.0, 8) == 0.0 and short_sentence_allowance(20, 2.0, 8) == 0.0
    assert short_sentence_allowance(2, 0.0, 8) == 0.0
    assert short_sentence_allowance(2, 2.0, 8) > short_sentence_allowance(4, 2.0, 8) > 0


def test_a_short_answer_heard_as_clearly_as_a_long_request_is_judged_alike():
    from device.recognition.constrained import Hypothesis, SearchResult
    from device.recognition.neural import SearchSettings

    # Same cost per token in the words, plus the same 1.5 nats for where the sentence starts and ends.
    long = SearchResult((Hypothesis(("x",) * 9, -0.9 * 9 - 1.5, 10),), tuple(range(9)), -0.9 * 9)
    short = SearchResult((Hypothesis(("oui",), -0.9 * 2 - 1.5, 3),), (5, 6), -0.9 * 2)
    plain = ConstrainedRecognizer(FakeDecoder(""), "fr-FR", SearchSettings(reject_gap=-1.5, reject_mean=-1.0))
    fair = ConstrainedRecognizer(FakeDecoder(""), "fr-FR",
                                 SearchSettings(reject_gap=-1.5, reject_mean=-1.0, short_allowance=1.5))
    assert plain.confidence(long) >= 0.85 > plain.confidence(short)
    assert fair.confidence(short) >= 0.85 and fair.confidence(long) == plain.confidence(long)
