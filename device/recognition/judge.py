"""How sure a constrained search is of its best sentence, and why it is refused when it is not.

Confidence comes from the rejection rule: how much less likely, per token, the best sentence of
the grammar is than what the model says freely. `reject_gap` (nats per token, negative) is the
gap at which the confidence equals the default `min_confidence` (0.85): confidence =
0.85 ** (gap / reject_gap), 1.0 when the free transcript is itself a sentence of the grammar.
The same mapping of the best sentence's log-probability per token (`reject_mean`) also bounds
it: when the model hears everything badly, its free transcript is as poor as the constrained
one and the gap alone says nothing. A sentence whose free transcript differs from it in carrier words only
("brew a" heard as "Pro", the drink and size heard: recognition.rejection.carrier_only with the grammar's
WordRoles) is judged by that second bound alone, without the tokens of the carrier words not heard; a word of the
free transcript the grammar does not know counts there as the sentence's meaning word it is spelled like
(recognition.rejection.heard_as: "rose" for "roast").

Short sentences ("oui", "annule", "pause") pay a cost per sentence — where it starts (the model
spreads its first token over " Pause", " pause", " P"…) and where it ends (".", or not) — that a
per-token figure divides by two or three tokens instead of ten: `short_allowance` gives it back
(see `short_sentence_allowance`). A sentence with a number the free transcript does not hold is
refused whatever its score (recognition.quantity), and so is one the free transcript goes on past
(recognition.rejection.words_past). A search that finished no sentence is refused with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from device.language.automaton import WordRoles
from device.recognition.constrained import SearchResult
from device.recognition.quantity import unheard_quantity, unsaid_quantity
from device.recognition.rejection import carrier_only, features, sentence_words, words_of, words_past
from device.recognition.settings import SearchSettings

CONFIDENCE_AT_GAP = 0.85
"""The confidence a request gets when its gap is exactly `reject_gap` (the default min_confidence)."""

Roles = tuple[frozenset[str], frozenset[str]]
"""The grammar's meaning words, and its meaning and carrier words together, as the free transcript spells them."""


def short_sentence_allowance(tokens: int, allowance: float, reference: int) -> float:
    """Nats per token added to a sentence's gap and mean when it has fewer than `reference` tokens.

    A sentence pays a fixed cost for where it starts and ends, on top of a cost per token; its
    per-token figures carry that fixed cost divided by its length, so a one-word answer (3 tokens)
    carries three times the share of a ten-token request and is refused when said just as clearly.
    Counting `allowance` nats of the fixed cost as paid, relative to a sentence of `reference`
    tokens, puts the two on the same footing: allowance * (1/tokens - 1/reference), 0 from
    `reference` tokens on (so longer sentences are judged exactly as before)."""
    if allowance <= 0 or tokens >= reference:
        return 0.0
    return allowance * (1 / max(tokens, 1) - 1 / reference)


def confidence(gap: float, reject_gap: float) -> float:
    """Confidence in [0, 1] from a gap (see the module docstring)."""
    if gap == -math.inf:
        return 0.0
    return round(float(CONFIDENCE_AT_GAP ** (gap / reject_gap)), 3)


@dataclass(frozen=True)
class Judge:
    """The rule that decides a search's confidence, for one grammar (a new grammar, a new judge)."""

    settings: SearchSettings
    language: str
    vocabulary: Sequence[bytes]
    """The model's tokens, to read the free transcript."""
    aliases: dict[str, str]
    """Number words that may be heard as digits (recognition.spelling.digit_aliases)."""
    quantities: bool = False
    """The grammar's numbers are order quantities: refused when the free transcript lacks them."""
    roles: Roles | None = None
    """Which words say what is asked for (SearchSettings.carrier_forgiven); None: not known."""

    @classmethod
    def for_grammar(cls, settings: SearchSettings, language: str, vocabulary: Sequence[bytes],
                    aliases: dict[str, str], quantities: bool = False, roles: WordRoles | None = None) -> Judge:
        """A judge for a grammar with these word roles (None: not known), spelled as free transcripts are."""
        known = None
        if roles is not None:
            meaning = frozenset(w for word in roles.meaning for w in words_of(word, aliases))
            known = (meaning, meaning | {w for word in roles.carrier for w in words_of(word, aliases)})
        return cls(settings, language, vocabulary, aliases, quantities, known)

    def verdict(self, result: SearchResult) -> tuple[float, str]:
        """The confidence of a search and, when something forces it to 0, why ("" otherwise)."""
        best = result.best
        if best is None:
            return 0.0, result.reason or "no sentence of the grammar"
        free = self.free_text(result)
        if self.quantities:
            unheard = unheard_quantity(best.words, free, self.language)
            if unheard is not None:
                return 0.0, f"quantity {unheard!r} is not in the free transcript"
            unsaid = unsaid_quantity(best.words, free, self.language)
            if unsaid is not None:
                return 0.0, f"quantity {unsaid!r} of the free transcript is not in the sentence"
        s = self.settings
        past = self.ended_early(result) if s.ended_early_words else 0
        if s.ended_early_words and past >= s.ended_early_words:
            return 0.0, f"the free transcript went on {past} words past the sentence"
        if s.calibration is not None:
            return s.calibration.confidence(self.features(result)), ""
        fair = short_sentence_allowance(best.tokens, s.short_allowance, s.short_reference)
        if s.carrier_forgiven and self.carrier_only(result):  # neither the gap nor the unheard carrier words count
            return confidence(min(self.heard_mean(result) + fair, 0.0), s.reject_mean), ""
        by_gap = confidence(min(result.gap() + fair, 0.0), s.reject_gap)
        return min(by_gap, confidence(min(best.mean + fair, 0.0), s.reject_mean)), ""

    def confidence(self, result: SearchResult) -> float:
        """The verdict's confidence alone."""
        return self.verdict(result)[0]

    def carrier_only(self, result: SearchResult) -> bool:
        """Whether the best sentence and the free transcript differ in carrier words only (False without roles), a
        word the grammar does not know read as the sentence's meaning word it is spelled like (rejection.heard_as)."""
        if self.roles is None or result.best is None:
            return False
        said = sentence_words(result.best.words, self.aliases)
        free = words_of(self.free_text(result), self.aliases)
        return carrier_only(said, free, *self.roles, self.settings.close_cutoff)

    def heard_mean(self, result: SearchResult) -> float:
        """The best sentence's log-probability per token without the tokens of its carrier words that the free
        transcript does not hold (its mean when the search did not say which tokens spelled which word)."""
        best = result.nbest[0]
        if self.roles is None or len(best.spans) != len(best.words):
            return best.mean
        meaning, heard = self.roles[0], set(words_of(self.free_text(result), self.aliases))
        end = (best.logprob - sum(lp for lp, _ in best.spans), best.tokens - sum(n for _, n in best.spans))
        kept = [span for word, span in zip(best.words, best.spans)
                if any(w in meaning or w in heard for w in words_of(word, self.aliases))] + [end]
        return sum(lp for lp, _ in kept) / max(sum(n for _, n in kept), 1)

    def ended_early(self, result: SearchResult) -> int:
        """How many words the free transcript goes on past the best sentence (recognition.rejection.words_past)."""
        return words_past(sentence_words(result.nbest[0].words, self.aliases),
                          words_of(self.free_text(result), self.aliases))

    def features(self, result: SearchResult) -> tuple[float, ...]:
        """The calibrated rule's features of a search with a sentence (recognition.rejection)."""
        best = result.nbest[0]
        margin = best.logprob - result.nbest[1].logprob if len(result.nbest) > 1 else None
        return features(result.gap(), best.mean, best.worst, margin, best.words, best.tokens, self.free_text(result),
                        len(result.free_tokens), self.aliases)

    def free_text(self, result: SearchResult) -> str:
        """The free transcript of a search, as text."""
        raw = b"".join(self.vocabulary[t] for t in result.free_tokens)
        return raw.decode("utf-8", errors="replace").strip()
