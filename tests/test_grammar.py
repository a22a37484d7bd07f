"""Grammars built from the catalogue and the lexicon, the same tables the parser reads."""

from __future__ import annotations

from pathlib import Path

from device.contract.catalogue import Catalogue
from device.language import grammar
from device.language.parser import IntentParser

CATALOG = Catalogue.load(Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json")


def test_jsgf_names_every_catalogue_item_and_quantities_up_to_twenty():
    jsgf = grammar.build(CATALOG, "en-US").jsgf()
    assert jsgf.startswith("#JSGF V1.0;")
    for name in ("(milk)", "(orange juice)", "(sparkling water)", "(paper towels)", "(twenty)", "(fifteen)"):
        assert name in jsgf
    assert "(lait)" not in jsgf


def test_words_a_dictionary_lacks_are_left_out():
    jsgf = grammar.build(CATALOG, "en-US").jsgf(known=lambda w: w != "baguette")
    assert "(baguette)" not in jsgf and "(bread)" in jsgf


def test_vosk_phrases_for_french_keep_accents_and_mark_unknown():
    phrases = grammar.build(CATALOG, "fr-FR").vosk_phrases()
    assert {"eau gazeuse", "pâtes", "œufs", "jus d'orange", "dix sept", "vingt", "[unk]"} <= set(phrases)


def test_every_grammar_word_is_a_word_the_parser_understands():
    """The grammar and the parser are built from the same tables: nothing the recogniser can say is
    unknown to the parser (the parser may know more)."""
    for locale in ("en-US", "fr-FR"):
        g = grammar.build(CATALOG, locale)
        parser = IntentParser(CATALOG, locale)
        for phrase in g.products:
            intent = parser.parse(f"{g.lexicon.reorder_cues[0]} {phrase}")
            assert intent.action == "reorder", (locale, phrase)
        for phrase in g.lexicon.cancel_phrases:
            assert parser.parse(phrase).action == "cancel", (locale, phrase)


def test_a_new_catalogue_version_gives_a_new_grammar():
    payload = CATALOG.to_payload()
    payload["version"] = 2
    payload["items"].append({"sku": "HONEY", "names": {"en": ["honey"]}, "unit_price": 4, "max_quantity": 2})
    g2 = grammar.build(Catalogue.from_payload(payload), "en-US")
    assert g2.catalog_version == 2 and "honey" in g2.products
    assert "honey" not in grammar.build(CATALOG, "en-US").products
