"""A second opinion: when the first recogniser refuses a request, a second model hears it too.

`[recognizer] second_opinion` (issue 23): Moonshine decides every English request; only when it refuses
(its confidence under min_confidence) does Whisper base decode the same audio with the same grammar and the
same rejection rule, and its answer is taken when it clears that rule by a margin (MARGIN). Otherwise the first
recogniser's refusal stands. The two models fail on different requests often enough to rescue some refusals in
kitchen noise, while a sentence that neither hears well is still refused. It costs the second model's memory
(boards with 2 GB) and, on the requests that need it, its decoding time (BENCHMARKS.md "Issue 23: a second
opinion"). Where the board has the cores for both models at once (`parallel`, engines.second_in_parallel), the
second starts beside the first as soon as the first needs its beam search, and is dropped when the first accepts,
so a refused request waits for little more than the slower of the two rather than for both.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from device.language.automaton import WordAutomaton, WordRoles
from device.language.grammar import Grammar
from device.recognition.constrained import SearchResult
from device.recognition.decoding import Superseded
from device.recognition.neural import ConstrainedRecognizer
from device.recognition.protocol import Recognition

log = logging.getLogger(__name__)

MARGIN = 0.05
"""The second model's answer stands only at min_confidence + MARGIN (0.90 by default). It is asked only where the
first refused, and taking the better of two models' answers lets more out-of-grammar speech through than either
alone: at 0.85 Whisper accepted 15 of 305 commands whose drink had been taken out of the grammar. Chosen by
cross-validation on the barista set in two halves (by file name hash): on each half, the lowest bar (0.01 steps
from 0.85) at which all out-of-grammar speech accepted stays within 1% — 0.89 and 0.91; the bar is their mean, and
each half's bar is checked on the other (BENCHMARKS.md "Issue 23: a second opinion")."""


class SecondOpinion:
    """Two ConstrainedRecognizers on one grammar: the first decides, the second is asked when the first refuses."""

    def __init__(self, first: ConstrainedRecognizer, second: ConstrainedRecognizer, min_confidence: float,
                 margin: float = MARGIN, parallel: bool = False) -> None:
        """`parallel`: on a hard request (the first model's free greedy pass is no sentence of the grammar, so its
        beam search runs), the second model starts beside it on its own thread, so its answer is ready sooner when
        the first refuses; when the first accepts, the second stops before its next model call and its work is
        dropped. Easy requests never start it. The decision is the same either way."""
        self.first, self.second = first, second
        self.parallel = parallel
        self.name = f"{first.name}+{second.name}"
        self.min_confidence = min_confidence
        self.second_confidence = min(min_confidence + margin, 1.0)
        """What the second model's answer must reach to stand (its own confidence, by the same rule)."""
        self.asked = self.taken = 0
        """Requests the second recogniser decoded, and those whose answer it gave."""
        self._pair: tuple[object, object] | None = None

    def set_grammar(self, grammar: Grammar) -> list[str]:
        """Both recognisers take the grammar (each builds it off the caller's thread after the first)."""
        return [*self.first.set_grammar(grammar), *self.second.set_grammar(grammar)]

    def set_automaton(self, automaton: WordAutomaton, quantities: bool = False, roles: WordRoles | None = None) -> None:
        """Both recognisers take this word automaton (a Rhino context, a test grammar) and its word roles."""
        self.first.set_automaton(automaton, quantities, roles)
        self.second.set_automaton(automaton, quantities, roles)

    @property
    def grammar_pending(self) -> bool:
        """True while either recogniser is still building a new grammar."""
        return self.first.grammar_pending or self.second.grammar_pending

    def wait_for_grammar(self, timeout: float | None = None) -> bool:
        """Block until both recognisers use the newest grammar (a replay does); True when none is pending."""
        return self.first.wait_for_grammar(timeout) and self.second.wait_for_grammar(timeout)

    @property
    def grammar_in_use(self) -> object:
        """The same object for as long as neither recogniser has switched grammars (recognition.early compares it
        by identity)."""
        pair = (self.first.grammar_in_use, self.second.grammar_in_use)
        old = self._pair
        if old is None or old[0] is not pair[0] or old[1] is not pair[1]:
            self._pair = old = pair
        return old

    def knows(self, word: str) -> bool:
        """Every word (both spell the grammar from their own tokens)."""
        return True

    def answer(self, audio: bytes | np.ndarray,
               stop: threading.Event | None = None) -> tuple[ConstrainedRecognizer, SearchResult]:
        """The recogniser whose decision stands and its search: the first's unless it refused and the second's
        answer reaches `second_confidence` (`stop`: as ConstrainedRecognizer.search). With `parallel`, the second
        search starts beside the first once the first needs its beam (its free greedy pass was no sentence of the
        grammar: the requests it refuses are among these) and is dropped when the first accepts; otherwise it runs
        after the first refused."""
        dropped = threading.Event()  # the second search stops before its next model call once this is set
        second: dict[str, SearchResult | BaseException] = {}

        def run() -> None:
            try:
                second["result"] = self.second.search(audio, dropped)
            except BaseException as exc:  # Superseded when dropped; anything else is raised where it is needed
                second["error"] = exc

        # Not a daemon: a process that ends while Whisper's encoder runs (a dropped search finishing its model call)
        # waits for it, instead of tearing the interpreter down under native code (it crashed so at exit once).
        worker = threading.Thread(target=run, name="second-opinion")
        try:
            result = self.first.search(audio, stop, on_beam=worker.start if self.parallel else None)
            confidence, _ = self.first.verdict(result)
            if confidence >= self.min_confidence:
                return self.first, result
            if worker.ident is None:  # not started (one after the other, or refused by the greedy pass): ask now
                return self._decide(result, confidence, self.second.search(audio, stop))
            while worker.is_alive():  # the request may be superseded meanwhile (recognition.early)
                worker.join(0.05)
                if stop is not None and stop.is_set():
                    raise Superseded("the request's audio changed")
        finally:
            if worker.is_alive():
                dropped.set()
        if "error" in second:
            raise second["error"]  # type: ignore[misc]
        return self._decide(result, confidence, second["result"])  # type: ignore[arg-type]

    def _decide(self, result: SearchResult, confidence: float,
                other: SearchResult) -> tuple[ConstrainedRecognizer, SearchResult]:
        """The first's refused `result` (at `confidence`) or the second's answer `other`, whichever stands."""
        self.asked += 1
        if self.second.verdict(other)[0] >= self.second_confidence:
            self.taken += 1
            log.info("second opinion: %s refused %r (%.3f); %s heard %r", self.first.name,
                     result.best.text if result.best else "", confidence, self.second.name,
                     other.best.text if other.best else "")
            return self.second, other
        return self.first, result

    def recognize(self, audio: bytes, stop: threading.Event | None = None) -> Recognition:
        """The standing decision (see `answer`) as a Recognition."""
        recognizer, result = self.answer(audio, stop)
        return recognizer.recognition(result)
