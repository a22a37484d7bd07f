"""A neural recogniser that can only hear what the grammar allows, and says when it heard something else.

Wraps a `TokenDecoder` (Moonshine for English, Whisper for French) behind the `Recognizer`
protocol: the grammar of the current catalogue becomes a word automaton (stages.sentences),
spelled for the model's vocabulary (stages.speller) off the loop's thread, and each request is
decoded by the constrained beam search (stages.constrained).

Each search is judged by the grammar's `Judge` (recognition.judge: the rejection rule, the quantity
and ended-early guards, the carrier words). A search that finished no sentence is refused with its
partial words, never an empty answer. `SearchSettings` (recognition.settings) says how hard it looks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from device.language import sentences
from device.language.automaton import WordAutomaton, WordRoles
from device.language.grammar import Grammar
from device.recognition.constrained import Resume, SearchResult, search, special_tokens
from device.recognition.decoding import Stoppable, TokenDecoder
from device.recognition.judge import CONFIDENCE_AT_GAP, Judge, confidence, short_sentence_allowance
from device.recognition.protocol import Recognition
from device.recognition.settings import SearchSettings
from device.recognition.shortcut import greedy_sentence
from device.recognition.spelling import Speller, digit_aliases, vocabulary_trie

log = logging.getLogger(__name__)

__all__ = ["CONFIDENCE_AT_GAP", "ConstrainedRecognizer", "SearchSettings", "confidence", "short_sentence_allowance",
           "trim"]


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


class ConstrainedRecognizer:
    """Recognizer protocol over a TokenDecoder and a grammar automaton."""

    def __init__(self, decoder: TokenDecoder, locale: str, settings: SearchSettings | None = None) -> None:
        self.decoder = decoder
        self.name = decoder.name
        self.locale = locale
        self.settings = settings or SearchSettings()
        self._aliases = digit_aliases(locale.split("-")[0])
        self._trie = vocabulary_trie(decoder.vocabulary)
        self._special = special_tokens(decoder)  # the free pass's mask, once (a pass over 32,768 tokens)
        self._speller: Speller | None = None
        self._judge = Judge.for_grammar(self.settings, locale.split("-")[0], decoder.vocabulary, self._aliases)
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
        judge = Judge.for_grammar(self.settings, self.locale.split("-")[0], self.decoder.vocabulary, self._aliases,
                                  quantities, roles)
        with self._lock:
            self._speller = speller
            self._judge = judge
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
                                          self._special, resume=s.greedy_resume)
            if found is not None:
                return found
            decoder, resume = (decoder, then) if isinstance(then, Resume) else (then, None)
        if on_beam is not None:
            on_beam()
        return search(decoder, speller, samples, beam=s.beam, prune=s.prune, token_bonus=s.token_bonus,
                      special=self._special, resume=resume)

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

    @property
    def judge(self) -> Judge:
        """The rule that judges searches with the grammar in use (recognition.judge)."""
        with self._lock:
            return self._judge

    def confidence(self, result: SearchResult) -> float:
        """A search's confidence (Judge.verdict)."""
        return self.judge.verdict(result)[0]

    def verdict(self, result: SearchResult) -> tuple[float, str]:
        """A search's confidence and, when something forces it to 0, why (Judge.verdict)."""
        return self.judge.verdict(result)

    def free_text(self, result: SearchResult) -> str:
        """The free transcript of a search, as text."""
        return self.judge.free_text(result)
