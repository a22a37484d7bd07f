"""Understanding: a transcript and the catalogue in, a re-order / cancel / none intent out.

It gets the intent exactly or refuses: a product it cannot place in the catalogue makes the
intent "none" (with the unknown words), never a guess. Quantities are kept as heard; limits are
the confirmation stage's job, so an over-large quantity is refused out loud, not clamped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from text_to_num import alpha2digit

from device.contract.catalogue import Catalogue
from device.events import NONE, Intent, IntentItem
from device.language.lexicon import Lexicon, lexicon_for, tokens

_ELIDED_DE = re.compile(r"\b[dD]['’]\s*(?=\w)")

AMBIGUITY_MARGIN = 8.0
"""A misheard name this close to two catalogue names names both in the read-back (ratio points)."""


def normalise(text: str, language: str) -> list[str]:
    """Tokens of `text` with numbers in words turned into digits ("deux" → "2"); the elided "d'" is
    read as "de", so every frame ending in "de" also matches before a vowel ("on n'a plus d'eau")."""
    if language == "fr":
        text = _ELIDED_DE.sub("de ", text)
    return tokens(alpha2digit(text, language, threshold=0))


def _plural(word: str, language: str) -> set[str]:
    """A word and its plural/singular forms ("tablet" ⇄ "tablets", "box" → "boxes", "gâteau" → "gâteaux")."""
    forms = {word}
    if language == "en":
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
        elif word.endswith(("xes", "zes", "ches", "shes", "sses")):
            forms.add(word[:-2])
        elif word.endswith("s") and not word.endswith("ss"):
            forms.add(word[:-1])
        elif word.endswith(("x", "z", "ch", "sh", "ss")):
            forms.add(word + "es")
        elif word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
            forms.add(word[:-1] + "ies")
        else:
            forms.add(word + "s")
    elif word.endswith(("s", "x", "z")):
        if not word.endswith("z") and len(word) > 3:
            forms.add(word[:-1])
    else:
        forms.add(word + ("x" if word.endswith(("au", "eu")) else "s"))
    return forms


def plural_variants(words: tuple[str, ...], language: str) -> set[tuple[str, ...]]:
    """The name as given plus its singular/plural forms: English on the last word ("orange juices"),
    French on the noun, which comes first, and its adjective ("yaourts nature", "eaux gazeuses")."""
    if not words:
        return set()
    *head, last = words
    if language == "fr" and head:
        first, *middle = head
        return {(f, *middle, g) for f in _plural(first, language) for g in _plural(last, language)}
    return {(*head, f) for f in _plural(last, language)}


@dataclass(frozen=True)
class _Name:
    words: tuple[str, ...]
    sku: str


def _phrases(values: tuple[str, ...], language: str) -> list[tuple[str, ...]]:
    """Lexicon phrases as token tuples, longest first."""
    return sorted({tuple(normalise(v, language)) for v in values} - {()}, key=len, reverse=True)


class IntentParser:
    """Parses transcripts in one locale against one catalogue (build a new one when either changes)."""

    def __init__(self, catalogue: Catalogue | None, locale: str, fuzzy_threshold: float = 86.0) -> None:
        self.locale = locale
        self.lexicon: Lexicon = lexicon_for(locale)
        self.language = self.lexicon.language
        self.fuzzy_threshold = fuzzy_threshold
        lx, lang = self.lexicon, self.language
        self._cues = _phrases(lx.reorder_cues + lx.tail, lang)
        self._cancel = _phrases(lx.cancel_phrases, lang)
        self._ones = _phrases(lx.ones, lang)
        self._skip_back = _phrases(lx.units + lx.unit_links + lx.more + lx.fillers, lang)
        self._item_words = _phrases(lx.units + lx.unit_links + lx.more + lx.joins + lx.ones, lang) + [(",",)]
        self._joins = _phrases(lx.joins, lang) + [(",",)]
        self._fillers = _phrases(lx.prefixes + lx.suffixes + lx.fillers, lang)
        self._negations = _phrases(lx.negations, lang)
        self._prefixes = _phrases(lx.prefixes, lang)
        self._usual = _phrases(lx.usual, lang)
        self._known_words = {w for group in (self._cues, self._cancel, self._ones, self._skip_back, self._joins,
                                             self._fillers) for phrase in group for w in phrase}
        names: dict[tuple[str, ...], set[str]] = {}
        for item in catalogue.items if catalogue else ():
            for name in item.names_for(lang):
                for variant in plural_variants(tuple(normalise(name, lang)), lang):
                    names.setdefault(variant, set()).add(item.sku)
        self._names = sorted(names.items(), key=lambda kv: len(kv[0]), reverse=True)

    # -- matching helpers -------------------------------------------------------------------------
    @staticmethod
    def _match_at(toks: list[str], i: int, phrases: list[tuple[str, ...]]) -> int:
        """Length of the longest phrase starting at toks[i], or 0."""
        for phrase in phrases:
            if tuple(toks[i:i + len(phrase)]) == phrase:
                return len(phrase)
        return 0

    def _contains(self, toks: list[str], phrases: list[tuple[str, ...]]) -> bool:
        return any(self._match_at(toks, i, phrases) for i in range(len(toks)))

    def _product_at(self, toks: list[str], i: int) -> tuple[int, list[str], str]:
        """(length, SKUs, heard words) of the product named at toks[i]; length 0 when none."""
        for words, skus in self._names:
            if tuple(toks[i:i + len(words)]) == words:
                return len(words), sorted(skus), " ".join(words)
        if toks[i] in self._known_words or toks[i].isdigit() or len(toks[i]) < 3:
            return 0, [], ""
        # A small recognition slip ("cofee"): best fuzzy name above the threshold, and every
        # name almost as close named as an alternative.
        scored: list[tuple[float, int, str]] = []
        for words, skus in self._names:
            window = " ".join(toks[i:i + len(words)])
            score = fuzz.ratio(window, " ".join(words))
            if score >= self.fuzzy_threshold - AMBIGUITY_MARGIN:
                scored.extend((score, len(words), sku) for sku in skus)
        if not scored or max(scored)[0] < self.fuzzy_threshold:
            return 0, [], ""
        best, length, best_sku = max(scored)
        length = min(length, len(toks) - i)  # "cornflakes" for "corn flakes": one token for a two-word name
        others = {sku for score, _, sku in scored if score >= best - AMBIGUITY_MARGIN} - {best_sku}
        close = [best_sku, *sorted(others)]
        return length, close, " ".join(toks[i:i + length])

    def _quantity_before(self, toks: list[str], start: int, floor: int) -> tuple[int, int, bool]:
        """(quantity, index where it was said, whether a number was said) before the product at
        `start`; units and fillers are skipped, an article means 1, and nothing at all means 1."""
        i = start
        while i > floor:
            for phrase in self._ones + self._skip_back:
                n = len(phrase)
                if i - n >= floor and tuple(toks[i - n:i]) == phrase:
                    if phrase in self._ones:
                        return 1, i - n, False
                    i -= n
                    break
            else:
                word = toks[i - 1]
                return (int(word), i - 1, True) if word.isdigit() else (1, i, False)
        return 1, i, False

    def _cancels(self, toks: list[str]) -> bool:
        """Whether a cancel phrase is said outside a politeness phrase ("n'oublie pas de commander" is no "oublie")."""
        inside = [False] * len(toks)
        for k in range(len(toks)):
            n = self._match_at(toks, k, self._prefixes)
            inside[k:k + n] = [True] * n
        return any(self._match_at(toks, k, self._cancel) and not inside[k] for k in range(len(toks)))

    def _asks_usual(self, toks: list[str]) -> bool:
        """"(could you) (order) the usual (please)": a usual phrase, and nothing but request words
        and politeness around it (a negation or a product makes it an ordinary parse)."""
        covered = [t == "," for t in toks]
        found = False
        for group in (self._usual, self._cues, self._fillers):
            for k in range(len(toks)):
                n = self._match_at(toks, k, group)
                if n and group is self._usual:
                    found = True
                covered[k:k + n] = [True] * n
        return found and all(covered)

    def negated(self, intent: Intent) -> bool:
        """Whether a `none` intent was refused for a negation ("don't order milk"), not an unknown product."""
        return intent.action == "none" and self._contains(list(intent.unknown), self._negations)

    def answer(self, text: str) -> str | None:
        """"yes" / "no" for a spoken answer to the read-back, None when it is neither."""
        toks = normalise(text, self.language)
        if self._contains(toks, _phrases(self.lexicon.no, self.language)) or self._contains(toks, self._cancel):
            return "no"
        if self._contains(toks, _phrases(self.lexicon.yes, self.language)):
            return "yes"
        return None

    # -- the parse --------------------------------------------------------------------------------
    def parse(self, text: str, confidence: float | None = None) -> Intent:
        """The intent of one utterance."""
        toks = normalise(text, self.language)
        if not toks:
            return Intent("none", confidence=confidence)
        if self._cancels(toks):
            return Intent("cancel", confidence=confidence)
        if self._asks_usual(toks):
            return Intent("usual", confidence=confidence, usual=True)
        found: list[tuple[int, int, list[str], str]] = []
        accounted = [False] * len(toks)
        i = 0
        while i < len(toks):
            length, skus, heard = self._product_at(toks, i)
            if length:
                found.append((i, i + length, skus, heard))
                i += length
            else:
                i += 1
        floor = 0
        lines: dict[str, IntentItem] = {}
        numbered: dict[str, bool] = {}
        conflicting: list[str] = []
        spans: list[tuple[int, int]] = []  # each item from its quantity to the end of its name
        for start, end, skus, heard in found:
            quantity, said_at, counted = self._quantity_before(toks, start, floor)
            for k in range(said_at, end):
                accounted[k] = True
            spans.append((said_at, end))
            floor = end
            sku, alternatives = skus[0], tuple(skus[1:])
            previous = lines.get(sku)
            if previous is None or (counted and not numbered.get(sku)):
                # Said again with a number after being named without one ("we're out of yogurt,
                # order four yogurts"): the number is the quantity. Never a sum.
                lines[sku] = IntentItem(sku, quantity, previous.heard if previous else heard, alternatives)
                numbered[sku] = counted
            elif counted and previous.quantity != quantity:
                conflicting.append(sku)  # "two milk and three milk": which one? refuse, never guess
        # Where an item is or could be said: the items, the words around items (joins, articles,
        # units), and the word right after a verb.
        item_side = [False] * (len(toks) + 1)
        for a, b in spans:
            item_side[a:b] = [True] * (b - a)
        for phrase_group in (self._cues, self._fillers, self._joins, self._ones, self._skip_back):
            for k in range(len(toks)):
                n = self._match_at(toks, k, phrase_group)
                accounted[k:k + n] = [True] * n
                if n and phrase_group is self._cues:
                    item_side[k + n] = True
        for k in range(len(toks)):
            n = self._match_at(toks, k, self._item_words)
            item_side[k:k + n] = [True] * n
        has_cue = self._contains(toks, self._cues)
        unknown = tuple(t for t, ok in zip(toks, accounted) if not ok and not t.isdigit())
        if not lines:
            return Intent("none", confidence=confidence, unknown=unknown if has_cue else ())
        if not has_cue and unknown:
            # Products named, but neither a request verb nor only request words ("I love milk").
            return Intent("none", confidence=confidence, unknown=unknown)
        negated = [k for k in range(len(toks)) if not accounted[k] and self._match_at(toks, k, self._negations)]
        if negated:
            # "don't order milk", "ne commande pas de lait": the words that matter most are the
            # ones that turn the request around, so any of them refuses the whole request.
            return Intent("none", confidence=confidence, unknown=tuple(toks[k] for k in negated))
        touching = [k for k in range(len(toks)) if not accounted[k] and not toks[k].isdigit()
                    and (item_side[k] or (k > 0 and item_side[k - 1]) or item_side[k + 1])]
        if touching:
            # An unknown word where an item is said changes what is meant ("a couple of milk",
            # "milk chocolate", "pizza and milk", "lait de soja"): refuse, never guess or drop it.
            return Intent("none", confidence=confidence, unknown=tuple(toks[k] for k in touching))
        if conflicting:
            return Intent("none", confidence=confidence)
        return Intent("reorder", tuple(lines.values()), confidence=confidence)


def same_meaning(a: Intent, b: Intent) -> bool:
    """Whether two intents ask for the same thing (action, and each SKU with its quantity)."""
    return a.action == b.action and sorted((i.sku, i.quantity) for i in a.items) == sorted(
        (i.sku, i.quantity) for i in b.items)


def parse(text: str, catalogue: Catalogue | None, locale: str) -> Intent:
    """One-off parse (the `reorder parse` command); the loop keeps an IntentParser instead."""
    return IntentParser(catalogue, locale).parse(text) if text.strip() else NONE
