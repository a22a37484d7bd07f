"""Quantities are never guessed: a number the free transcript does not hold refuses the sentence."""

from __future__ import annotations

import numpy as np

from device.language.automaton import Builder
from device.recognition.neural import ConstrainedRecognizer
from device.recognition.quantity import unheard_quantity
from tests.fake_decoder import FakeDecoder


def test_french_deux_heard_as_de_l_autre_is_unheard():
    words = tuple("je voudrais deux paquets de riz".split())
    assert unheard_quantity(words, "Je voudrais de l'autre paquet de riz.", "fr") == "deux"
    assert unheard_quantity(words, "Je voudrais deux paquets de riz.", "fr") is None
    assert unheard_quantity(words, "Je voudrais 2 paquets de riz", "fr") is None
    assert unheard_quantity(tuple("minuteur 10 minutes".split()), "Minuteur dix minutes.", "fr") is None
    assert unheard_quantity(tuple("une bouteille de lait".split()), "Une bouteille de lait", "fr") is None


def test_english_numbers_digits_and_homophones():
    words = tuple("order two bottles of milk".split())
    assert unheard_quantity(words, "Order two bottles of milk.", "en") is None
    assert unheard_quantity(words, "Order 2 bottles of milk", "en") is None
    assert unheard_quantity(words, "Order to bottles of milk", "en") is None  # "to" is how "two" comes out
    assert unheard_quantity(words, "Order ten bottles of milk", "en") == "two"
    assert unheard_quantity(words, "Order bottles of milk", "en") == "two"
    assert unheard_quantity(tuple("order a coffee".split()), "Order a coffee", "en") is None


def test_the_recogniser_refuses_a_quantity_the_free_pass_did_not_hear():
    b = Builder()
    b.finals.add(b.phrase(b.start, ["order", "two", "milk"]))
    loud = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
    heard = ConstrainedRecognizer(FakeDecoder(" order two milk"), "en-US")
    heard.set_automaton(b.compile(), quantities=True)
    assert heard.recognize(loud).text == "order two milk" and heard.recognize(loud).confidence >= 0.85
    guessed = ConstrainedRecognizer(FakeDecoder(" order the milk"), "en-US")  # the only sentence has "two"
    guessed.set_automaton(b.compile(), quantities=True)
    result = guessed.search(loud)
    assert result.best is not None and result.best.words == ("order", "two", "milk")
    assert guessed.verdict(result) == (0.0, "quantity 'two' is not in the free transcript")
    assert guessed.recognize(loud).confidence == 0.0


def test_numbers_of_a_rhino_or_test_grammar_are_not_quantities():
    b = Builder()
    b.finals.add(b.phrase(b.start, ["minuteur", "10", "minutes"]))
    timer = ConstrainedRecognizer(FakeDecoder(" minuteur diminute"), "fr-FR")
    timer.set_automaton(b.compile())  # a timer's "10" is no order quantity: no quantity refusal
    result = timer.search(np.zeros(48000, dtype=np.float32))
    assert result.best is not None and timer.verdict(result)[1] == ""


def test_a_number_heard_freely_must_be_in_the_sentence():
    from device.recognition.quantity import unsaid_quantity

    fr = tuple("peux tu commander de l' autre paquet de cheddar".split())
    assert unsaid_quantity(fr, "Peux-tu commander douze paquets de cheddar ?", "fr") == "douze"
    assert unsaid_quantity(fr, "Peux-tu commander 12 paquets de cheddar", "fr") == "12"
    assert unsaid_quantity(fr, "Peux-tu commander un paquet de cheddar", "fr") is None  # one is the article
    en = tuple("order two bottles of milk".split())
    assert unsaid_quantity(en, "Order 2 bottles of milk", "en") is None
    assert unsaid_quantity(tuple("order milk".split()), "Order eight milk", "en") == "eight"
    assert unsaid_quantity(tuple("order milk".split()), "Order to milk for me", "en") is None  # homophones are words
