"""A neural recogniser that can only hear what the grammar allows, and says when it heard something else.

Wraps a `TokenDecoder` (Moonshine for English, Whisper for French) behind the `Recognizer`
protocol: the grammar of the current catalogue becomes a word automaton (stages.sentences),
spelled for the model's vocabulary (stages.speller) off the loop's thread, and each request is
decoded by the constrained beam search (stages.constrained).

Confidence comes from the rejection rule: how much less likely, per token, the best sentence of
the grammar is than what the model says freely. `reject_gap` (nats per token, negative) is the
gap at which the confidence equals the default `min_confidence` (0.85): confidence =
0.85 ** (gap / reject_gap), 1.0 when the free transcript is itself a sentence of the grammar.
The same mapping of the best sentence's log-probability per token (`reject_mean`) also bounds
it: when the model hears everything badly, its free transcript is as poor as the constrained
one and the gap alone says nothing. A sentence whose free transcript differs from it in carrier words only
("brew a" heard as "Pro", the drink and size heard: recognition.rejection.carrier_only with the grammar's
WordRoles) is judged by that second bound alone.

Short sentences ("oui", "annule", "pause") pay a cost per sentence — where it starts (the model
spreads its first token over " Pause", " pause", " P"…) and where it ends (".", or not) — that a
per-token figure divides by two or three tokens instead of ten: `short_allowance` gives it back
(see `short_sentence_allowance`). A sentence with a number the free transcript does not hold is
refused whatever its score (recognition.quantity). A search that finished no sentence is refused
with its partial words, never an empty answer.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.language import sentences
from device.language.automaton import WordAutomaton, WordRoles
from device.language.grammar import Grammar
from device.recognition.constrained import Resume, SearchResult, search
from device.recognition.decoding import Stoppable, TokenDecoder
from device.recognition.protocol import Recognition
from device.recognition.quantity import unheard_quantity, unsaid_quantity
from device.recognition.rejection import Calibration, carrier_only, features, sentence_words, words_of, words_past
from device.recognition.shortcut import greedy_sentence
from device.recognition.spelling import Speller, digit_aliases, vocabulary_trie

log = logging.getLogger(__name__)

CONFIDENCE_AT_GAP = 0.85
"""The confidence a request gets when its gap is exactly `reject_gap` (the default min_confidence)."""


@dataclass(frozen=True)
class SearchSettings:
    """How hard the constrained search looks and when it refuses."""

    beam: int = 6
    """Hypotheses kept at each token."""
    prune: float = 8.0
    """Hypotheses this many nats behind the best of a step are dropped."""
    token_bonus: float = 0.0
    """Added to a hypothesis's score per token, against ending a sentence early (nats)."""
    reject_gap: float = -0.75
    """Gap (nats per token) that maps to confidence 0.85; below the configured min_confidence is refused."""
    reject_mean: float = -1.5
    """Log-probability per token of the best sentence that maps to confidence 0.85: speech the model
    hears badly everywhere (a gap near zero because the free transcript is as poor) is refused too."""
    alternative_margin: float = 2.0
    """Other sentences within this many nats of the best are passed on as alternatives."""
    pad_seconds: float = 0.3
    """Audio kept either side of the speech when trimming the silence around a request."""
    short_allowance: float = 0.0
    """Nats per sentence given back to sentences shorter than `short_reference` tokens, for where a sentence
    starts and ends (see `short_sentence_allowance`); 0 = none."""
    short_reference: int = 8
    """Sentences of this many tokens (end of text included) or more are judged as they always were."""
    greedy_first: bool = False
    """Run the free greedy pass alone first and skip the beam when it already is a sentence of the grammar
    (recognition.shortcut)."""
    greedy_resume: bool = False
    """With greedy_first: when the greedy pass leaves the grammar, start the beam two word beginnings back from
    there, not from the request's start (recognition.shortcut)."""
    calibration: Calibration | None = None
    """When set, the confidence is this fitted rule over six features (recognition.rejection) instead of
    the gap and mean bounds."""
    carrier_forgiven: bool = True
    """When the sentence and the free transcript differ in carrier words only ("brew a twenty ounce house coffee"
    heard freely as "Pro 20 ounce house coffee": recognition.rejection.carrier_only, with the grammar's
    WordRoles), the gap is not held against the sentence; the mean bound still is, without the tokens of the
    carrier words not heard (heard_mean). Off without roles."""
    ended_early_words: int = 0
    """Refuse a sentence when the free transcript goes on past it by at least this many words (it ended
    before the speech did: "... with a lot of sugar" of "... sugar and a little bit of skim milk"; counted by
    recognition.rejection.words_past: a misheard opening and a repeated request do not count); 0 = never."""


def trim(audio: np.ndarray, pad_seconds: float = 0.3, rate: int = 16000) -> np.ndarray:
    """The speech in `audio` with `pad_seconds` either side: models like Moonshine end at once on
    long leading silence. Speech = 10 ms frames louder than the midpoint (in log energy) between
    this audio's quiet floor and its peaks; audio with nothing standing out is returned whole."""
    hop = rate // 100
    n = len(audio) // hop
    if n < 3:
        return audio
    energy = np.log10(np.mean(audio[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-10)
    floor, peak = np.percentile(energy, 10), np.percentile(energy, 99)
    if peak - floor < 1.0:
        return audio
    loud = np.flatnonzero(energy > (floor + peak) / 2)
    pad = int(pad_seconds * rate)
    return audio[max(loud[0] * hop - pad, 0): min((loud[-1] + 1) * hop + pad, len(audio))]


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


class ConstrainedRecognizer:
    """Recognizer protocol over a TokenDecoder and a grammar automaton."""

    def __init__(self, decoder: TokenDecoder, locale: str, settings: SearchSettings | None = None) -> None:
        self.decoder = decoder
        self.name = decoder.name
        self.locale = locale
        self.settings = settings or SearchSettings()
        self._aliases = digit_aliases(locale.split("-")[0])
        self._trie = vocabulary_trie(decoder.vocabulary)
        self._speller: Speller | None = None
        self._quantities = False
        self._roles: tuple[frozenset[str], frozenset[str]] | None = None
        self._building: threading.Thread | None = None
        self._lock = threading.Lock()
        self.decode_ms: list[float] = []

    # -- grammar ----------------------------------------------------------------------------------
    def set_grammar(self, grammar: Grammar) -> list[str]:
        """Use this grammar; built off the caller's thread once a first one exists (the old one serves meanwhile:
        a request heard during the build is decided with it, never left waiting or empty)."""
        if self._speller is None:
            self.set_automaton(sentences.build(grammar), quantities=True, roles=sentences.roles(grammar))
            return []
        worker = threading.Thread(target=self._build, args=(grammar,), name="grammar-build", daemon=True)
        with self._lock:
            self._building = worker
        worker.start()
        return []

    def _build(self, grammar: Grammar) -> None:
        try:
            self.set_automaton(sentences.build(grammar), quantities=True, roles=sentences.roles(grammar))
        except Exception as exc:  # the thread must not die with a traceback: the old grammar keeps serving
            log.error("%s grammar not rebuilt, the previous one stays in use (%s: %s)", self.name,
                      type(exc).__name__, exc)

    def set_automaton(self, automaton: WordAutomaton, quantities: bool = False, roles: WordRoles | None = None) -> None:
        """Use any word automaton (a Rhino context, a test grammar). `quantities`: its numbers are order quantities,
        refused when the free transcript lacks them (recognition.quantity; the catalogue's grammar: set_grammar).
        `roles`: which of its words say what is asked for (SearchSettings.carrier_forgiven; None: not known)."""
        # Positions are spelled when a search first reaches them (a few milliseconds per request,
        # then cached): warming all of them costs seconds and tens of MB for a large catalogue.
        speller = Speller(automaton, self.decoder.vocabulary, self._aliases, trie=self._trie)
        known = None
        if roles is not None:
            meaning = frozenset(w for word in roles.meaning for w in words_of(word, self._aliases))
            known = (meaning, meaning | {w for word in roles.carrier for w in words_of(word, self._aliases)})
        with self._lock:
            self._speller = speller
            self._quantities = quantities
            self._roles = known
        log.info("%s grammar: %d words, %d states, %d positions", self.name, len(automaton.vocabulary()),
                 len(automaton.arcs), len(speller.positions))

    @property
    def grammar_pending(self) -> bool:
        """True while a new grammar is being built (requests meanwhile use the previous one)."""
        with self._lock:
            worker = self._building
        return worker is not None and worker.is_alive()

    def wait_for_grammar(self, timeout: float | None = None) -> bool:
        """Block until a grammar being built is in use (a replay does, so its events do not depend on
        the machine's load); True when none is pending any more."""
        with self._lock:
            worker = self._building
        if worker is not None:
            worker.join(timeout)
        return not self.grammar_pending

    def _current(self) -> Speller:
        with self._lock:
            speller = self._speller
        if speller is None:
            raise RuntimeError("set_grammar() was never called")
        return speller

    def knows(self, word: str) -> bool:
        """Every word: the grammar is spelled from the model's tokens, so any word can be heard."""
        return True

    # -- decoding ---------------------------------------------------------------------------------
    @property
    def grammar_in_use(self) -> object:
        """What identifies the grammar a search started now would use (a new object for each new grammar)."""
        with self._lock:
            return self._speller

    def search(self, audio: bytes | np.ndarray, stop: threading.Event | None = None,
               on_beam: Callable[[], object] | None = None) -> SearchResult:
        """The constrained search on one request (int16 bytes or float32 samples), silence trimmed; once `stop`
        is set, it gives up (Superseded) before its next model call. `on_beam` is called when the beam search
        starts, i.e. when the free greedy pass was not already a sentence of the grammar (a hard request)."""
        samples = np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0 if isinstance(audio, bytes) \
            else np.asarray(audio, dtype=np.float32)
        samples = trim(samples, self.settings.pad_seconds)
        s, speller = self.settings, self._current()
        decoder: TokenDecoder = self.decoder if stop is None else Stoppable(self.decoder, stop)
        resume = None
        if s.greedy_first:
            found, then = greedy_sentence(decoder, speller, samples, int(8 * len(samples) / 16000) + 10,
                                          resume=s.greedy_resume)
            if found is not None:
                return found
            decoder, resume = (decoder, then) if isinstance(then, Resume) else (then, None)
        if on_beam is not None:
            on_beam()
        return search(decoder, speller, samples, beam=s.beam, prune=s.prune, token_bonus=s.token_bonus, resume=resume)

    def answer(self, audio: bytes | np.ndarray,
               stop: threading.Event | None = None) -> tuple[ConstrainedRecognizer, SearchResult]:
        """This recogniser and its search (as recognition.second_opinion answers: which model decided, and how)."""
        return self, self.search(audio, stop)

    def recognize(self, audio: bytes, stop: threading.Event | None = None) -> Recognition:
        """The best sentence of the grammar and its confidence (`stop`: as search)."""
        return self.recognition(self.search(audio, stop))

    def recognition(self, result: SearchResult) -> Recognition:
        """A search's best sentence, its confidence and its close alternatives."""
        best = result.best
        if best is None:  # refused, but saying how far it got
            return Recognition(result.partial.text if result.partial else "", 0.0)
        margin = self.settings.alternative_margin
        others = tuple(h.text for h in result.nbest[1:] if h.logprob >= best.logprob - margin)
        return Recognition(best.text, self.confidence(result), alternatives=others)

    def confidence(self, result: SearchResult) -> float:
        """The lower of the gap's and the per-token log-probability's confidence (module docstring)."""
        return self.verdict(result)[0]

    def verdict(self, result: SearchResult) -> tuple[float, str]:
        """The confidence of a search and, when something forces it to 0, why ("" otherwise)."""
        best = result.best
        if best is None:
            return 0.0, result.reason or "no sentence of the grammar"
        language = self.locale.split("-")[0]
        unheard = unheard_quantity(best.words, self.free_text(result), language) if self._quantities else None
        if unheard is not None:
            return 0.0, f"quantity {unheard!r} is not in the free transcript"
        unsaid = unsaid_quantity(best.words, self.free_text(result), language) if self._quantities else None
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

    def carrier_only(self, result: SearchResult) -> bool:
        """Whether the best sentence and the free transcript differ in carrier words only (False without roles)."""
        with self._lock:
            roles = self._roles
        if roles is None or result.best is None:
            return False
        said = sentence_words(result.best.words, self._aliases)
        return carrier_only(said, words_of(self.free_text(result), self._aliases), *roles)

    def heard_mean(self, result: SearchResult) -> float:
        """The best sentence's log-probability per token without the tokens of its carrier words that the free
        transcript does not hold (its mean when the search did not say which tokens spelled which word)."""
        best = result.nbest[0]
        with self._lock:
            roles = self._roles
        if roles is None or len(best.spans) != len(best.words):
            return best.mean
        meaning, heard = roles[0], set(words_of(self.free_text(result), self._aliases))
        end = (best.logprob - sum(lp for lp, _ in best.spans), best.tokens - sum(n for _, n in best.spans))
        kept = [span for word, span in zip(best.words, best.spans)
                if any(w in meaning or w in heard for w in words_of(word, self._aliases))] + [end]
        return sum(lp for lp, _ in kept) / max(sum(n for _, n in kept), 1)

    def ended_early(self, result: SearchResult) -> int:
        """How many words the free transcript goes on past the best sentence (recognition.rejection.words_past)."""
        return words_past(sentence_words(result.nbest[0].words, self._aliases),
                          words_of(self.free_text(result), self._aliases))

    def features(self, result: SearchResult) -> tuple[float, ...]:
        """The calibrated rule's features of a search with a sentence (recognition.rejection)."""
        best = result.nbest[0]
        margin = best.logprob - result.nbest[1].logprob if len(result.nbest) > 1 else None
        return features(result.gap(), best.mean, best.worst, margin, best.words, best.tokens, self.free_text(result),
                        len(result.free_tokens), self._aliases)

    def free_text(self, result: SearchResult) -> str:
        """The free transcript of a search, as text."""
        raw = b"".join(self.decoder.vocabulary[t] for t in result.free_tokens)
        return raw.decode("utf-8", errors="replace").strip()
