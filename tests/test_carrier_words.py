"""Carrier words: a sentence whose free transcript differs from it only in the words around what is asked for
("brew a" heard as "Pro") is not refused for them; anything asked for that the sentence lacks still is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from device.contract.catalogue import Catalogue
from device.language import grammar as grammars
from device.language import sentences
from device.language.automaton import WordRoles
from device.language.rhino import compile_context
from device.recognition.constrained import Hypothesis, SearchResult
from device.recognition.neural import ConstrainedRecognizer, SearchSettings
from device.recognition.rejection import carrier_only, heard_as, words_of
from device.recognition.spelling import digit_aliases
from tests import barista
from tests.fake_decoder import FakeDecoder

CAFE = {"context": {"expressions": {"orderDrink": ["[brew, can I get, give me] [a, an] $size:size $drink:coffeeDrink",
                                                   "[brew, can I get, give me] [a, an] $drink:coffeeDrink"]},
                    "slots": {"size": ["small", "twenty ounce"], "drink": ["house coffee", "latte", "iced mocha"]}}}
ROLES = compile_context(CAFE).roles()
KNOWN = ROLES.meaning | ROLES.carrier
EN = digit_aliases("en")


@pytest.mark.parametrize(("sentence", "free", "forgiven"), [
    ("brew a twenty ounce house coffee", "Pro 20 ounce house coffee", True),  # "pro" where "brew a" was not heard
    ("give me a small latte", "Rue our small latte", True),
    ("can i get a latte", "Latte.", True),  # a carrier not heard at all
    ("brew a small latte", "Brew a small latte", True),
    ("brew a latte", "Brew a small latte", False),  # "small" asked for, not in the sentence
    ("brew a small latte", "Brew a latte", False),  # "small" in the sentence, not heard
    ("brew a small latte", "Brew a latte small", False),  # the same meaning words, in another order
    ("brew a latte", "Brew a soy latte", False),  # "soy" is unknown, and every carrier word was heard
    ("brew a latte", "", False),  # nothing heard freely
    ("brew a", "Pro", False),  # no meaning word at all
])
def test_only_carrier_words_may_differ(sentence, free, forgiven):
    said = words_of(sentence, EN)
    assert carrier_only(said, words_of(free, EN), ROLES.meaning, KNOWN) is forgiven


@pytest.mark.parametrize(("free", "sentence", "heard"), [
    ("small ice moka", "small iced mocha", "small iced mocha"),
    ("twenty ounce hose coffee", "twenty ounce house coffee", "twenty ounce house coffee"),
    ("who was small latte", "can i get a small latte", "who was small latte"),  # no meaning word of the sentence
    ("brew a soy latte", "brew a latte", "brew a soy latte"),  # like no meaning word: something else asked for
    ("pro 20 ounce house coffee", "brew a twenty ounce house coffee", "pro twenty ounce house coffee"),
])
def test_a_word_the_grammar_does_not_know_is_read_as_the_sentences_meaning_word_it_is_spelled_like(free, sentence,
                                                                                                  heard):
    said = [w for w in words_of(sentence, EN) if w in ROLES.meaning]
    assert heard_as(words_of(free, EN), said, KNOWN) == heard.split()
    assert heard_as(words_of(free, EN), said, KNOWN, cutoff=0) == words_of(free, EN)


def test_a_meaning_word_misheard_as_its_near_spelling_is_forgiven_and_another_word_is_not():
    meaning = frozenset({"dark", "roast", "single", "shot", "iced", "mocha", "coffee", "whole", "milk"})
    known = meaning | {"can", "i", "get", "a", "i'd", "like"}
    said = words_of("can i get a dark roast single shot iced mocha", EN)
    ours = [w for w in said if w in meaning]
    near = words_of("Can I get a dark rose single shot ice mocha?", EN)
    assert not carrier_only(said, near, meaning, known)
    assert carrier_only(said, heard_as(near, ours, known), meaning, known)
    other = words_of("Can I get a dark roast single shot americano?", EN)  # a drink the grammar lacks
    assert not carrier_only(said, heard_as(other, ours, known), meaning, known)
    coffee = words_of("i'd like a coffee", EN)  # "who" is garbled "i'd like", not "whole" (milk) asked for
    garbled = words_of("Who was coffee?", EN)
    assert carrier_only(coffee, heard_as(garbled, ["coffee"], known), meaning, known)


def test_a_rhino_context_means_its_slot_values_and_carries_its_own_words():
    assert {"twenty", "ounce", "house", "coffee", "latte", "small", "iced", "mocha"} == ROLES.meaning
    assert {"brew", "can", "i", "get", "give", "me", "a", "an"} == ROLES.carrier
    assert WordRoles.of({"a", "little"}, {"a"}) == WordRoles(frozenset({"little"}), frozenset({"a"}))


@pytest.mark.parametrize(("locale", "means", "carries"), [
    ("en-US", {"milk", "two", "bottles", "cancel", "yes", "no", "usual"}, {"reorder", "please", "the", "of", "and"}),
    ("fr-FR", {"lait", "deux", "bouteilles", "annule", "oui", "non"}, {"commande", "merci", "de", "les", "et"}),
])
def test_the_catalogue_grammar_means_products_quantities_units_and_answers(locale, means, carries):
    catalogue = Catalogue.from_json((Path(__file__).parents[1] / "device" / "samples" / "catalog.json").read_bytes())
    roles = sentences.roles(grammars.build(catalogue, locale))
    assert means <= roles.meaning and carries <= roles.carrier and not roles.meaning & roles.carrier


def _recognizer(heard: str, forgiven: bool, expressions: dict, drinks: tuple[str, ...] = ("coffee", "milk")
                ) -> ConstrainedRecognizer:
    rec = ConstrainedRecognizer(FakeDecoder(heard), "en-US",
                                SearchSettings(reject_mean=-99.0, carrier_forgiven=forgiven))  # the gap alone
    context = compile_context({"context": {"expressions": expressions, "slots": {"drink": list(drinks)}}})
    rec.set_automaton(context.automaton, roles=context.roles())
    return rec


def test_the_gap_is_not_held_against_a_sentence_that_differs_in_carrier_words_only():
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    orders = {"order": ["[brew me, get me] $drink:drink"]}
    for forgiven in (True, False):
        rec = _recognizer(" proom coffee", forgiven, orders)  # "brew me" garbled, the drink heard
        result = rec.search(loud)
        assert result.best is not None and result.best.text in ("brew me coffee", "get me coffee")
        assert rec.judge.carrier_only(result) is True
        assert (rec.confidence(result) >= 0.85) is forgiven, rec.confidence(result)
    # "oat milk" is not on the list: "get me" was heard, so "oat" is no garbled carrier
    rec = _recognizer(" get me oat milk", True, {"order": ["get me $drink:drink"]}, ("milk",))
    result = rec.search(loud)
    assert result.best is not None and result.best.text == "get me milk"
    assert rec.judge.carrier_only(result) is False and rec.confidence(result) < 0.85


def test_without_roles_nothing_is_forgiven():
    rec = ConstrainedRecognizer(FakeDecoder(" proom coffee"), "en-US", SearchSettings(reject_mean=-99.0))
    rec.set_automaton(compile_context({"context": {"expressions": {"o": ["brew me $d:d"]},
                                                   "slots": {"d": ["coffee"]}}}).automaton)
    result = rec.search(np.zeros(32000, dtype=np.float32))
    assert rec.judge.carrier_only(result) is False and rec.confidence(result) < 0.85


def test_a_real_command_in_12_db_kitchen_noise_with_its_first_words_garbled_is_read_back():
    """"brew a twenty ounce house coffee" (barista benchmark) in its kitchen noise at 12 dB, mixed as `python -m bench
    realspeech` mixes it: Moonshine hears "Pro 20 ounce house coffee" freely; the grammar's sentence is right and was
    refused for "brew a" alone. Settings as shipped, with and without forgiving carrier words."""
    from device.adapters.speech.moonshine import Moonshine

    name = "barista_twenty_ounce_house_coffee_12db.wav"
    audio, decoder = barista.audio(name), Moonshine()
    heard = {}
    for forgiven in (True, False):
        rec = barista.recognizer(decoder, carrier_forgiven=forgiven)
        result = rec.search(audio)
        assert result.best is not None and rec.judge.carrier_only(result)
        assert barista.context().understand(result.best.words) == barista.expected(name)
        heard[forgiven] = rec.confidence(result)
    assert heard[True] >= 0.85 > heard[False], heard


def test_a_real_command_heard_with_a_meaning_word_misspelled_is_read_back():
    """"can i have a light roast iced mocha with brown sugar and soy milk" (barista benchmark) at 12 dB, mixed as the
    benchmark mixes it: Moonshine hears "light roasted"; "roasted" is no word of the grammar and is spelled like
    "roast" (rejection.heard_as), so the sentence differs in carrier words only. Shipped settings, with that reading
    and without it (close_cutoff 0)."""
    from device.adapters.speech.moonshine import Moonshine

    name = "barista_light_roast_iced_mocha_12db.wav"
    audio, decoder = barista.audio(name), Moonshine(trim=False)  # as device.engines builds it
    heard = {}
    for cutoff in (0.6, 0.0):
        rec = barista.recognizer(decoder, close_cutoff=cutoff)
        result = rec.search(audio)
        assert result.best is not None
        assert barista.context().understand(result.best.words) == barista.expected(name)
        assert "roasted" in words_of(rec.free_text(result), EN)
        heard[cutoff] = rec.confidence(result)
    assert heard[0.6] >= 0.85 > heard[0.0], heard


def test_the_search_says_which_tokens_spelled_which_word():
    """Hypothesis.spans: one (log-probability, tokens) per word, the rest (end of text) one token; both search paths."""
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    for greedy in (True, False):
        rec = ConstrainedRecognizer(FakeDecoder(" proom coffee"), "en-US", SearchSettings(greedy_first=greedy))
        rec.set_automaton(compile_context({"context": {"expressions": {"o": ["[brew me, get me] $d:d"]},
                                                       "slots": {"d": ["coffee", "milk"]}}}).automaton)
        for hyp in rec.search(loud).nbest:
            assert len(hyp.spans) == len(hyp.words) and all(n >= 1 for _, n in hyp.spans)
            assert hyp.tokens - sum(n for _, n in hyp.spans) == 1  # the end of text
            assert sum(lp for lp, _ in hyp.spans) >= hyp.logprob - 1e-9


def test_the_carrier_words_not_heard_do_not_lower_the_mean_either():
    """"Coffee." heard freely for "brew me coffee": the mean bound judges the words heard ("coffee" and the end of
    text), not the tokens the model was forced through for "brew me"; with every word heard it is the plain mean."""
    decoder = FakeDecoder("")
    context = compile_context({"context": {"expressions": {"o": ["brew me $d:d"]}, "slots": {"d": ["coffee"]}}})
    free = (decoder.vocabulary.index(b" coffee"),)
    forced = Hypothesis(("brew", "me", "coffee"), -4.0 - 4.0 - 0.2 - 0.1, 4, -4.0, ((-4.0, 1), (-4.0, 1), (-0.2, 1)))
    result = SearchResult((forced,), free, -0.3)
    decisions = {}
    for forgiven in (True, False):
        rec = ConstrainedRecognizer(decoder, "en-US", SearchSettings(reject_mean=-1.5, carrier_forgiven=forgiven))
        rec.set_automaton(context.automaton, roles=context.roles())
        assert rec.judge.carrier_only(result) and rec.judge.heard_mean(result) == pytest.approx((-0.2 - 0.1) / 2)
        decisions[forgiven] = rec.verdict(result)[0]
    assert forced.mean < -1.5 and decisions[True] >= 0.85 > decisions[False]
    heard = SearchResult((forced,), tuple(decoder.vocabulary.index(w) for w in (b" ", b"b", b"r", b"e", b"w", b" ",
                                                                             b"m", b"e", b" coffee")), -0.3)
    assert rec.judge.heard_mean(heard) == pytest.approx(forced.mean)  # "brew me" heard: every token counts


def test_the_judge_is_the_grammar_in_use():
    """A new grammar brings its own judge (recognition.judge): the roles of the grammar a request is decided with, never
    those of the one before; number words are held as the free transcript spells them."""
    rec = ConstrainedRecognizer(FakeDecoder(" proom coffee"), "en-US")
    rec.set_automaton(compile_context({"context": {"expressions": {"order": ["brew me $n:n $drink:drink"]},
                                                   "slots": {"n": ["twelve"], "drink": ["coffee"]}}}).automaton,
                      roles=WordRoles.of({"twelve", "coffee"}, {"brew", "me"}))
    first = rec.judge
    assert first.roles == (frozenset({"twelve", "coffee"}), frozenset({"twelve", "coffee", "brew", "me"}))
    rec.set_automaton(compile_context({"context": {"expressions": {"o": ["brew me $d:d"]},
                                                   "slots": {"d": ["coffee"]}}}).automaton)
    assert rec.judge is not first and rec.judge.roles is None
    result = rec.search((np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes())
    assert result.best is not None and not rec.judge.carrier_only(result) and first.carrier_only(result)
