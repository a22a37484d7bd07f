"""The read-back names every item, its quantity and the total, in the request's language."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from device.contract.catalogue import Catalogue
from device.dialogue.readback import message, money, readback, spoken_money
from device.events import IntentItem

CATALOG = Catalogue.load(Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json")


def test_english_read_back_with_price():
    rb = readback((IntentItem("OJ-1L", 3), IntentItem("MILK-1L", 2)), CATALOG, "en-US")
    assert rb.text == "3 orange juice, 2 milk. Total €10.07. Press the button to order."
    assert rb.spoken == "3 orange juice, 2 milk, 10 euros 07"
    assert rb.total == Decimal("10.07")


def test_french_read_back_with_price():
    rb = readback((IntentItem("OJ-1L", 3),), CATALOG, "fr-FR")
    assert rb.text == "3 jus d'orange. Total 7,77 €. Appuyez sur le bouton pour commander."
    assert rb.spoken == "3 jus d'orange, 7 euros 77"


def test_money_formats():
    assert money(Decimal("7.7"), "USD", "en-US") == "$7.70"
    assert money(Decimal("1234.5"), "EUR", "fr-FR") == "1234,50 €"
    assert money(Decimal("3"), "CHF", "en-US") == "3.00 CHF"
    assert spoken_money(Decimal("1.00"), "EUR", "en-US") == "1 euro"
    assert spoken_money(Decimal("2.05"), "USD", "en-US") == "2 dollars 05"


def test_repeat_and_ambiguity_instructions():
    repeat = readback((IntentItem("MILK-1L", 1),), CATALOG, "fr-FR", repeated=("MILK-1L",))
    assert "déjà commandé lait" in repeat.instruction and "deux fois" in repeat.instruction
    close = readback((IntentItem("WATER-STILL-6", 1, heard="wter", alternatives=("WATER-SPARKLING-6",)),),
                     CATALOG, "en-US")
    assert "water" in close.instruction and "sparkling water" in close.instruction and "long press" in close.instruction


def test_refusals_put_reasons_in_words():
    assert message("refused", "en-US", reason="daily-limit") == "I cannot order that: today's order limit is reached."
    assert "plafond" in message("refused", "fr-FR", reason="over-total-cap")
