"""From what the recogniser heard to a decision: refuse (why, and the words to say), cancel, or
read these items back. Pure: the catalogue, the limits and the order history are given.

In order, first match wins: a transcript below the minimum confidence is refused; a reorder
whose second decoding (pocketsphinx's cross-check) means something else is refused; an
alternative transcript (N-best) of a reorder that names another product for an item adds that
product to the item's alternatives (the read-back names both), one that has another quantity or
another number of items refuses it — a quantity is never guessed; alternatives that are not a
reorder change nothing. Then "cancel" cancels, anything else that is not a reorder is refused
(unknown products named) or answered "sorry"; a reorder goes through the guards and is read back.
"The usual" is the last order the store accepted (history.last_accepted), at today's prices, read
back and confirmed like any other; with none it is refused (no-usual).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from device.contract.catalogue import Catalogue
from device.dialogue import limits
from device.dialogue.readback import Readback, message, readback
from device.events import Intent, IntentItem
from device.language.parser import IntentParser, same_meaning
from device.recognition.protocol import Recognition


@dataclass(frozen=True)
class Refuse:
    """Refuse the request: a `rejected` event with this reason and detail, then these words."""

    reason: str
    detail: str
    words: str


@dataclass(frozen=True)
class Sorry:
    """Not a request (a negation, nothing heard): say these words, no refusal event."""

    words: str


@dataclass(frozen=True)
class Cancel:
    """A spoken "cancel": undo the last order while it can be, else cancel nothing."""


@dataclass(frozen=True)
class ReadBack:
    """Read these items back and wait for the press (two presses for a repeat order)."""

    items: tuple[IntentItem, ...]
    catalogue: Catalogue
    readback: Readback
    presses_needed: int


Outcome = Refuse | Sorry | Cancel | ReadBack


class PastOrders(limits.OrderHistory, Protocol):
    """The order history the decisions read (the outbox implements it)."""

    def last_accepted(self) -> dict[str, Any] | None:
        """The newest order the store accepted and that was not undone (an order payload), or None."""


@dataclass(frozen=True)
class Decision:
    """The intent understood (the `intent` event) and what to do about it."""

    intent: Intent
    outcome: Outcome


class Understanding:
    """Decisions for one catalogue (None: none yet) in one locale."""

    def __init__(self, catalogue: Catalogue | None, locale: str, limits: limits.Limits,
                 min_confidence: float) -> None:
        self.catalogue = catalogue
        self.locale = locale
        self.limits = limits
        self.min_confidence = min_confidence
        self.parser = IntentParser(catalogue, locale)

    def no_catalogue(self) -> Refuse:
        """Nothing can be ordered before a catalogue arrives (a file, the cache or the broker's retained one)."""
        return self._refuse("no-catalog", "no catalogue file and none retained on the broker yet")

    def _refuse(self, reason: str, detail: str = "", words: str | None = None) -> Refuse:
        return Refuse(reason, detail, words or message("refused", self.locale, reason=reason))

    def decide(self, heard: Recognition, history: PastOrders, now: datetime) -> Decision:
        """What to do about one request."""
        intent = self.parser.parse(heard.text, heard.confidence)
        if heard.text and heard.confidence < self.min_confidence:
            return Decision(intent, self._refuse("low-confidence", f"confidence {heard.confidence:.2f}"))
        if intent.action in ("reorder", "usual") and heard.second_opinion is not None and not same_meaning(
                intent, self.parser.parse(heard.second_opinion)):
            return Decision(intent, self._refuse(
                "low-confidence", f"heard differently on a second decoding: {heard.second_opinion!r}"))
        if intent.action == "reorder":
            for text in heard.alternatives:
                items = merge_alternative(intent.items, self.parser.parse(text))
                if items is None:
                    return Decision(intent, self._refuse(
                        "low-confidence", f"another transcript has other quantities: {text!r}"))
                intent = replace(intent, items=items)
        if intent.action == "usual":
            intent = self.usual(intent, history)
        return Decision(intent, self._outcome(intent, history, now))

    def usual(self, intent: Intent, history: PastOrders) -> Intent:
        """"The usual" as a reorder of the last accepted order's lines; "none" (usual) when there is none."""
        last = history.last_accepted()
        if last is None:
            return Intent("none", confidence=intent.confidence, usual=True)
        language = self.parser.language
        items = []
        for line in last["items"]:
            entry = self.catalogue.item(line["sku"]) if self.catalogue else None
            items.append(IntentItem(line["sku"], int(line["quantity"]), entry.display_name(language) if entry else ""))
        return Intent("reorder", tuple(items), confidence=intent.confidence, usual=True)

    def _outcome(self, intent: Intent, history: limits.OrderHistory, now: datetime) -> Outcome:
        if intent.action == "cancel":
            return Cancel()
        if intent.usual and intent.action != "reorder":
            return self._refuse("no-usual", "no order accepted by the store in the outbox")
        if intent.action != "reorder":
            if intent.unknown and not self.parser.negated(intent):
                words = " ".join(intent.unknown)
                return self._refuse("not-in-catalog", words, message("unknown", self.locale, words=words))
            return Sorry(message("sorry", self.locale))
        if self.catalogue is None:
            return self.no_catalogue()
        verdict = limits.check(intent.items, self.catalogue, self.limits, history, now)
        if verdict.reason:
            return self._refuse(verdict.reason, verdict.detail)
        return ReadBack(intent.items, self.catalogue, readback(intent.items, self.catalogue, self.locale,
                                                               verdict.repeated, intent.usual),
                        2 if verdict.repeated else 1)

    def answer(self, heard: Recognition) -> str | None:
        """A spoken answer to the read-back: "yes", "no", or None (unsure, or neither). A yes heard in
        one decoding or transcript and not in another is not a yes."""
        answer = self.parser.answer(heard.text) if heard.confidence >= self.min_confidence else None
        others = ((heard.second_opinion,) if heard.second_opinion is not None else ()) + heard.alternatives
        if any(self.parser.answer(text) != answer for text in others):
            return None
        return answer


def merge_alternative(items: tuple[IntentItem, ...], other: Intent) -> tuple[IntentItem, ...] | None:
    """`items` with the products `other` names instead added as alternatives; None when `other` is a
    reorder with other quantities or another number of items. A non-reorder changes nothing."""
    if other.action != "reorder":
        return items
    if len(other.items) != len(items):
        return None
    rest = list(other.items)
    unmatched = []
    for i, item in enumerate(items):  # the same line in both: nothing to add
        same = next((o for o in rest if (o.sku, o.quantity) == (item.sku, item.quantity)), None)
        if same is not None:
            rest.remove(same)
        else:
            unmatched.append(i)
    merged = list(items)
    for i, o in zip(unmatched, rest):  # what is left, paired in the order said
        item = merged[i]
        if o.quantity != item.quantity:
            return None
        if o.sku != item.sku and o.sku not in item.alternatives:
            merged[i] = replace(item, alternatives=(*item.alternatives, o.sku))
    return tuple(merged)
