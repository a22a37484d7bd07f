""""The usual" / "comme d'habitude": the last accepted order again, read back and confirmed like any other."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from device.contract.catalogue import Catalogue
from device.dialogue.decision import ReadBack, Refuse, Understanding
from device.dialogue.limits import Limits
from device.events import IntentItem
from device.language import grammar as grammars
from device.language import sentences
from device.language.parser import IntentParser
from device.orders.outbox import Outbox
from device.orders.payload import build_order
from device.recognition.protocol import Recognition

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue.load(CATALOG)


@pytest.mark.parametrize("locale, text", [
    ("en-US", "the usual"), ("en-US", "order the usual please"), ("en-US", "same as last time"),
    ("en-US", "could you get us the same as last time"), ("en-US", "hey jarvis, same again"),
    ("fr-FR", "comme d'habitude"), ("fr-FR", "la même chose que la dernière fois"),
    ("fr-FR", "commande comme d'habitude s'il te plaît"), ("fr-FR", "peux-tu recommander la même chose"),
])
def test_the_usual_is_its_own_intent(catalogue, locale, text):
    intent = IntentParser(catalogue, locale).parse(text)
    assert intent.action == "usual" and intent.usual and intent.to_dict() == {"action": "usual", "usual": True}


@pytest.mark.parametrize("locale, text", [
    ("en-US", "don't order the usual"), ("en-US", "the usual and two milk"), ("en-US", "usual"),
    ("fr-FR", "ne commande pas comme d'habitude"), ("fr-FR", "comme d'habitude et du lait"),
])
def test_a_negation_or_a_product_beside_it_is_not_the_usual(catalogue, locale, text):
    assert IntentParser(catalogue, locale).parse(text).action != "usual"


class History:
    """Past orders: none in the guards' windows, and this last accepted order."""

    def __init__(self, last: dict | None) -> None:
        self.last = last

    def orders_since(self, since: datetime) -> int:
        return 0

    def skus_since(self, since: datetime) -> set[str]:
        return set()

    def last_accepted(self) -> dict | None:
        return self.last


def decide(catalogue: Catalogue | None, text: str, last: dict | None, locale: str = "en-US"):
    understanding = Understanding(catalogue, locale, Limits(), min_confidence=0.5)
    return understanding.decide(Recognition(text, 0.9), History(last), NOW)


def test_the_usual_is_read_back_as_the_last_accepted_order_at_todays_prices(catalogue):
    last = build_order((IntentItem("MILK-1L", 2), IntentItem("COFFEE-500G", 1)), catalogue, "kitchen-01", "en-US",
                       "button", NOW)
    decision = decide(catalogue, "order the usual", last)
    assert decision.intent.action == "reorder" and decision.intent.usual
    assert isinstance(decision.outcome, ReadBack) and decision.outcome.presses_needed == 1
    assert [(i.sku, i.quantity) for i in decision.outcome.items] == [("MILK-1L", 2), ("COFFEE-500G", 1)]
    assert decision.outcome.readback.text.startswith("Your usual order: 2 milk, 1 coffee")
    french = decide(catalogue, "comme d'habitude", last, "fr-FR")
    assert french.outcome.readback.text.startswith("Votre commande habituelle : 2 lait")


def test_without_an_accepted_order_the_usual_is_refused_clearly(catalogue):
    decision = decide(catalogue, "the usual", None)
    assert decision.intent.to_dict() == {"action": "none", "confidence": 0.9, "usual": True}
    assert isinstance(decision.outcome, Refuse) and decision.outcome.reason == "no-usual"
    assert decision.outcome.words == "I cannot order that: there is no earlier order the store accepted."


def test_the_usual_still_passes_the_guards(catalogue):
    gone = {"items": [{"sku": "DISCONTINUED", "quantity": 1, "unit_price": 1.0}]}
    assert decide(catalogue, "the usual", gone).outcome.reason == "not-in-catalog"
    big = build_order((IntentItem("MILK-1L", 12),), catalogue, "kitchen-01", "en-US", "button", NOW)
    capped = Understanding(catalogue, "en-US", Limits(max_order_total=5), 0.5).decide(
        Recognition("the usual", 0.9), History(big), NOW)
    assert capped.outcome.reason == "over-total-cap"


def test_the_outbox_knows_the_last_accepted_order(tmp_path, catalogue):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    orders = [build_order((IntentItem("MILK-1L", n),), catalogue, "kitchen-01", "en-US", "button", NOW)
              for n in (1, 2, 3, 4)]
    for order in orders:
        outbox.add(order)
    assert outbox.last_accepted() is None
    outbox.record_status(orders[0]["order_id"], "accepted")
    outbox.record_status(orders[1]["order_id"], "accepted")
    outbox.record_status(orders[2]["order_id"], "rejected", "price-mismatch")  # newer, but refused
    # orders[3] has no answer yet
    assert outbox.last_accepted()["order_id"] == orders[1]["order_id"]
    outbox.record_status(orders[1]["order_id"], "cancelled")  # undone
    assert outbox.last_accepted()["order_id"] == orders[0]["order_id"]
    outbox.close()


@pytest.mark.parametrize("locale, text", [("en-US", "could you order the usual please"),
                                          ("fr-FR", "commande comme d'habitude")])
def test_every_recogniser_grammar_can_hear_it(catalogue, locale, text):
    grammar = grammars.build(catalogue, locale)
    from device.language.grammar import _spoken

    assert sentences.build(grammar).accepts(_spoken(text).split())
    if locale == "en-US":
        assert "<usual> = [<prefix>] [<cue>] ((my usual) | (our usual) |" in grammar.jsgf()
    assert any("habitude" in p or "usual" in p for p in grammar.phrases())
