"""A calibrated rejection rule: how likely a constrained search's best sentence is what was said.

Six features, each one a reason to doubt a sentence that can be said aloud:

- `gap`: how much less likely per token the sentence is than what the model says freely (nats);
- `mean`: the sentence's own log-probability per token (the model hears everything badly in noise);
- `worst`: its least likely token (one word buried in noise: "skim", "sweetener");
- `margin`: how far ahead of the next sentence of the grammar it is (nats, capped at `MARGIN_CAP`);
- `overlap`: the share of its words the free transcript also has (number words read as digits too);
- `length`: its tokens over the free transcript's, as a logarithm: a sentence that ended before the
  speech did ("... coffee" of "... coffee with soy milk") is shorter than what the model heard.

The confidence is a logistic function of them, fitted on the development recordings by the former
`python -m bench realspeech --fit-rejection` (`git show cce96cb:bench/bench_realspeech.py`; rule, coefficients and
cross-validation in BENCHMARKS.md, "Real speech"), shifted so that the chosen operating point is exactly the default
`min_confidence` (0.85).

`words_past` says how far the free transcript went on past the sentence (the ended-early guard in recognition.judge).

`carrier_only` is the other reading of the same comparison, used by the shipped rule (recognition.judge): whether
the sentence and the free transcript differ only in the words that carry a request, not in what it asks for;
`heard_as` reads a word the grammar does not know as the meaning word it is spelled like ("rose" for "roast").
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

MARGIN_CAP = 8.0
"""Nats: a sentence with no rival within this (the search's prune) is as sure as one this far ahead."""
FEATURES = ("gap", "mean", "worst", "margin", "overlap", "length")
AT_THRESHOLD = 0.85
"""The confidence a request at the fitted operating point gets (the default min_confidence)."""


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic rule: confidence = sigmoid(bias + sum(weight * (feature - centre) / scale))."""

    weights: tuple[float, ...]
    centre: tuple[float, ...]
    scale: tuple[float, ...]
    bias: float

    def confidence(self, values: Sequence[float]) -> float:
        """Confidence in [0, 1] for features in FEATURES order."""
        z = self.bias + sum(w * (v - c) / s for w, v, c, s in zip(self.weights, values, self.centre, self.scale))
        return round(1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0))), 3)


def words_of(text: str, digits: dict[str, str]) -> list[str]:
    """Lower-case words of a transcript, hyphens and punctuation as spaces, digits read as number words."""
    spoken = {d: w for w, d in digits.items()}
    return [spoken.get(w, w) for w in re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())]


def sentence_words(words: Sequence[str], digits: dict[str, str]) -> list[str]:
    """A grammar sentence's words read as words_of reads a transcript (so the two can be compared word for word)."""
    return [w for word in words for w in words_of(word, digits)]


def features(gap: float, mean: float, worst: float, margin: float | None, words: Sequence[str], tokens: int,
             free_text: str, free_tokens: int, digits: dict[str, str]) -> tuple[float, ...]:
    """The FEATURES of one search (margin None: no rival sentence; tokens count the end of text)."""
    heard = set(words_of(free_text, digits))
    said = sentence_words(words, digits)
    overlap = sum(w in heard for w in said) / max(len(said), 1)
    return (max(gap, -10.0), max(mean, -10.0), max(worst, -20.0),
            MARGIN_CAP if margin is None else min(margin, MARGIN_CAP), overlap,
            math.log(max(tokens, 1) / (free_tokens + 1)))


def carrier_only(sentence: Sequence[str], free: Sequence[str], meaning: frozenset[str] | set[str],
                 known: frozenset[str] | set[str], cutoff: float = 0.0) -> bool:
    """Whether a sentence and the free transcript (both as words_of words) differ in carrier words only.

    True when both hold the same meaning words in the same order (at least one), and every word of the free
    transcript that the grammar does not know stands where the sentence has a carrier word the free transcript
    lacks: "Pro 20 ounce house coffee" for "brew a twenty ounce house coffee" ("pro" for "brew a"), but not
    "order oat milk" for "order milk" ("order" was heard, so "oat" is something else asked for). `known` is
    every word of the grammar, meaning and carrier. `cutoff`: the free transcript's words read first as `heard_as`
    reads them ("dark rose" for "dark roast"; 0, the default: as they are)."""
    said = [w for w in sentence if w in meaning]
    free = heard_as(free, said, known, cutoff)
    if not said or said != [w for w in free if w in meaning]:
        return False
    for ours, theirs in zip(_between(sentence, meaning), _between(free, meaning)):
        if any(w not in known for w in theirs) and all(w in theirs for w in ours):
            return False
    return True


def heard_as(free: Sequence[str], said: Sequence[str], known: frozenset[str] | set[str],
             cutoff: float = 0.6) -> list[str]:
    """The free transcript's words, each word the grammar does not know read as the meaning word of the sentence
    (`said`) it is spelled most like among those beginning with its letter ("rose" as "roast", "ice" as "iced", "moka"
    as "mocha"), when difflib rates them at least `cutoff` alike (get_close_matches, its default 0.6); 0 leaves every
    word as it is. Only the sentence's own meaning words: a garbled carrier ("who was" for "i'd like a") is not read
    as some other word of the grammar ("whole")."""
    if cutoff <= 0:
        return list(free)
    return [w if w in known else _closest(w, said, cutoff) for w in free]


def _closest(word: str, said: Sequence[str], cutoff: float) -> str:
    alike = difflib.get_close_matches(word, [m for m in said if m[:1] == word[:1]], n=1, cutoff=cutoff)
    return alike[0] if alike else word


def _between(words: Sequence[str], meaning: frozenset[str] | set[str]) -> list[list[str]]:
    """The runs of non-meaning words before, between and after the meaning words."""
    runs: list[list[str]] = [[]]
    for w in words:
        if w in meaning:
            runs.append([])
        else:
            runs[-1].append(w)
    return runs


def words_past(sentence: Sequence[str], free: Sequence[str]) -> int:
    """How many words the free transcript (words_of words) goes on past a sentence (sentence_words words): a sign
    the sentence ended before the speech did ("... house coffee" of "... house coffee with soy milk"), or skipped
    part of it.

    The words the two share in order are lined up (difflib); the count is the larger of the words after the last
    shared word beyond the sentence's own there, and the words the free transcript holds between two shared words
    where the sentence has none (a clause skipped: "coffee with sugar" of "coffee with soy milk and sugar"). Not
    counted: the free words before the first shared word (an opening misheard: "you know what i like i like a
    mocha" for "i'd like a mocha"); a last run that only says the sentence's words again, from anywhere in it and
    on round to its beginning (a model repeating the request in noise: "can i get a house coffee can i get a house
    coffee can i get"); a word of the sentence heard as several between shared words ("ice to melt that" for "iced
    mocha": the gap judges those). With nothing shared, the free transcript's extra words."""
    shared = [b for b in difflib.SequenceMatcher(None, sentence, free, autojunk=False).get_matching_blocks() if b.size]
    if not shared:
        return max(len(free) - len(sentence), 0)
    last = shared[-1]
    tail = free[last.b + last.size:]
    again = bool(tail) and f" {' '.join(tail)} " in f" {' '.join([*sentence, *sentence])} "
    after = 0 if again else len(tail) - (len(sentence) - last.a - last.size)
    skipped = sum(y.b - x.b - x.size for x, y in zip(shared, shared[1:]) if y.a == x.a + x.size)
    return max(after, skipped, 0)
