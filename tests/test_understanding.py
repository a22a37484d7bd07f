"""stages.understanding: from a recognition result and a catalogue to a decision; tables, no audio."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from device.contract.catalogue import Catalogue
from device.dialogue.decision import Cancel, ReadBack, Refuse, Sorry, Understanding, merge_alternative
from device.dialogue.limits import Limits
from device.events import Intent, IntentItem
from device.recognition.protocol import Recognition

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


class History:
    """Past orders for the guards: `count` orders and these SKUs in the window asked about."""

    def __init__(self, count: int = 0, skus: set[str] = frozenset()) -> None:
        self.count, self.skus = count, set(skus)

    def orders_since(self, since: datetime) -> int:
        return self.count

    def skus_since(self, since: datetime) -> set[str]:
        return self.skus


def understanding(limits: Limits | None = None, catalogue: Catalogue | None | str = "sample") -> Understanding:
    limits = limits or Limits()
    cat = Catalogue.load(CATALOG) if catalogue == "sample" else catalogue
    return Understanding(cat, "en-US", limits, min_confidence=0.5)  # type: ignore[arg-type]


def lines(outcome) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(i.sku, i.quantity, i.alternatives) for i in outcome.items]


# (what was heard, the outcome's type, reason or lines)
TABLE = [
    (Recognition("order two bottles of milk", 0.9), ReadBack, [("MILK-1L", 2, ())]),
    (Recognition("order milk and coffee", 0.9), ReadBack, [("MILK-1L", 1, ()), ("COFFEE-500G", 1, ())]),
    (Recognition("order two bottles of milk", 0.3), Refuse, "low-confidence"),
    (Recognition("cancel", 0.9), Cancel, None),
    (Recognition("order unicorns", 0.9), Refuse, "not-in-catalog"),
    (Recognition("don't order milk", 0.9), Sorry, None),
    (Recognition("what is the weather", 0.9), Sorry, None),
    (Recognition("", 0.0), Sorry, None),  # nothing heard is not a low-confidence refusal
    (Recognition("order twenty bottles of milk", 0.9), Refuse, "over-max-quantity"),
    # second_opinion (pocketsphinx's cross-check), exactly as before
    (Recognition("order two bottles of milk", 0.9, "order three bottles of milk"), Refuse, "low-confidence"),
    (Recognition("order two bottles of milk", 0.9, "order two milk"), ReadBack, [("MILK-1L", 2, ())]),
    (Recognition("cancel", 0.9, "order milk"), Cancel, None),  # only a reorder is cross-checked
    # N-best alternatives
    (Recognition("order two coffee", 0.9, alternatives=("order two milk",)), ReadBack,
     [("COFFEE-500G", 2, ("MILK-1L",))]),
    (Recognition("order two coffee", 0.9, alternatives=("order two milk", "order two pasta", "order two milk")),
     ReadBack, [("COFFEE-500G", 2, ("MILK-1L", "PASTA-500G"))]),
    (Recognition("order two coffee", 0.9, alternatives=("order two coffee",)), ReadBack, [("COFFEE-500G", 2, ())]),
    (Recognition("order two milk and a coffee", 0.9, alternatives=("order two milk and a pasta",)), ReadBack,
     [("MILK-1L", 2, ()), ("COFFEE-500G", 1, ("PASTA-500G",))]),
    (Recognition("order milk and coffee", 0.9, alternatives=("order coffee and milk",)), ReadBack,
     [("MILK-1L", 1, ()), ("COFFEE-500G", 1, ())]),  # the same lines in another order
    (Recognition("order two coffee", 0.9, alternatives=("order three coffee",)), Refuse, "low-confidence"),
    (Recognition("order two coffee", 0.9, alternatives=("order three milk",)), Refuse, "low-confidence"),
    (Recognition("order milk and coffee", 0.9, alternatives=("order milk",)), Refuse, "low-confidence"),
    (Recognition("order two coffee", 0.9, alternatives=("order two milk", "order two coffees and a milk")), Refuse,
     "low-confidence"),
    (Recognition("order two coffee", 0.9, alternatives=("what is the weather", "cancel")), ReadBack,
     [("COFFEE-500G", 2, ())]),  # alternatives that are no reorder change nothing
    (Recognition("order unicorns", 0.9, alternatives=("order two milk",)), Refuse, "not-in-catalog"),
    (Recognition("order two coffee", 0.3, alternatives=("order two milk",)), Refuse, "low-confidence"),
]


@pytest.mark.parametrize("heard,kind,expected", TABLE, ids=[f"{r.text!r}+{r.second_opinion}+{r.alternatives}"
                                                             for r, _, _ in TABLE])
def test_decisions(heard, kind, expected):
    decision = understanding().decide(heard, History(), NOW)
    assert type(decision.outcome) is kind, decision
    if kind is Refuse:
        assert decision.outcome.reason == expected
        assert decision.outcome.words and "\n" not in decision.outcome.words
    elif kind is ReadBack:
        assert lines(decision.outcome) == expected
        assert [(i.sku, i.quantity, i.alternatives) for i in decision.intent.items] == expected  # the intent event too


def test_a_reorder_read_back_names_an_alternative_product():
    heard = Recognition("order two coffee", 0.9, alternatives=("order two milk",))
    outcome = understanding().decide(heard, History(), NOW).outcome
    assert isinstance(outcome, ReadBack)
    assert "coffee" in outcome.readback.instruction.lower() and "milk" in outcome.readback.instruction.lower()
    assert outcome.readback.total == Decimal("12.98")  # the best transcript's SKU is what is ordered


@pytest.mark.parametrize("limits,history,reason,presses", [
    (Limits(max_order_total=Decimal("2")), History(), "over-total-cap", None),
    (Limits(max_orders_per_day=1), History(count=1), "daily-limit", None),
    (Limits(repeat_guard_hours=24, repeat_guard="refuse"), History(skus={"MILK-1L"}), "repeat-guard", None),
    (Limits(repeat_guard_hours=24, repeat_guard="ask"), History(skus={"MILK-1L"}), None, 2),
    (Limits(repeat_guard_hours=24, repeat_guard="ask"), History(skus={"EGGS-12"}), None, 1),
])
def test_the_guards_refuse_or_ask_for_a_second_press(limits, history, reason, presses):
    outcome = understanding(limits).decide(Recognition("order two bottles of milk", 0.9), history, NOW).outcome
    if reason:
        assert isinstance(outcome, Refuse) and outcome.reason == reason
    else:
        assert isinstance(outcome, ReadBack) and outcome.presses_needed == presses


def test_no_catalogue_yet_refuses_a_request_and_still_hears_cancel():
    u = understanding(catalogue=None)
    assert isinstance(u.decide(Recognition("cancel", 0.9), History(), NOW).outcome, Cancel)
    outcome = u.decide(Recognition("order milk", 0.9), History(), NOW).outcome
    assert isinstance(outcome, (Refuse, Sorry))  # without a catalogue "milk" is no product


def test_refusal_words_name_unknown_products_and_the_reason():
    u = understanding(Limits(max_order_total=Decimal("1")))
    assert u.decide(Recognition("order unicorns", 0.9), History(), NOW).outcome.words == \
        "Sorry, unicorns is not in your list."
    assert u.decide(Recognition("order milk", 0.9), History(), NOW).outcome.words == \
        "I cannot order that: the total is over your cap."


@pytest.mark.parametrize("heard,answer", [
    (Recognition("yes", 0.9), "yes"),
    (Recognition("no", 0.9), "no"),
    (Recognition("cancel", 0.9), "no"),
    (Recognition("yes", 0.2), None),
    (Recognition("yes", 0.9, "yes"), "yes"),
    (Recognition("yes", 0.9, "no"), None),  # a yes heard once of two decodings is not a yes
    (Recognition("yes", 0.9, alternatives=("yes",)), "yes"),
    (Recognition("yes", 0.9, alternatives=("no",)), None),
    (Recognition("order milk", 0.9), None),
])
def test_spoken_answers_to_a_read_back(heard, answer):
    assert understanding().answer(heard) == answer


def test_merge_alternative_directly():
    best = (IntentItem("MILK-1L", 2, "milk"), IntentItem("EGGS-12", 1, "eggs"))
    assert merge_alternative(best, Intent("none")) == best
    assert merge_alternative(best, Intent("reorder", (IntentItem("EGGS-12", 1), IntentItem("OJ-1L", 2)))) == (
        IntentItem("MILK-1L", 2, "milk", ("OJ-1L",)), IntentItem("EGGS-12", 1, "eggs"))
    assert merge_alternative(best, Intent("reorder", (IntentItem("MILK-1L", 1), IntentItem("EGGS-12", 1)))) is None
