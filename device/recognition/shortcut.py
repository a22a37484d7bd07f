"""The free greedy transcript first: when it already is a sentence of the grammar, no beam is needed.

A request said plainly is often transcribed, word for word, as a sentence of the grammar. The
free greedy pass (what the constrained search compares against anyway) is then the best
constrained sentence as well, with a gap of zero, so the beam's batched decoder calls can be
skipped. The pass follows the grammar token by token and stops at the first token the grammar
does not allow: the beam search then starts from the same encoded audio (`Started`), so a
request that does not qualify costs only the decoder calls up to where it left the grammar.

With `resume`, a request that does not qualify does not start the beam from the beginning: the free pass
is finished alone (one hypothesis a call), and the beam starts two word beginnings back from where the
greedy pass left the grammar (`constrained.Resume`): the words before are the model's own first choices
and already a sentence's beginning, so the beam spends its calls on the last words and what follows
(`SearchSettings.greedy_resume`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from device.recognition.constrained import Hypothesis, Resume, SearchResult, spans_after, spans_at_end, special_tokens
from device.recognition.decoding import TokenDecoder, Wrapped
from device.recognition.spelling import Speller


class Started(Wrapped):
    """A TokenDecoder whose next `start` returns an already encoded request (the encoder runs once)."""

    def __init__(self, decoder: TokenDecoder, first: tuple[np.ndarray, Any]) -> None:
        super().__init__(decoder)
        self._first: tuple[np.ndarray, Any] | None = first

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, Any]:
        first, self._first = self._first, None
        return first if first is not None else super().start(audio)


def greedy_sentence(decoder: TokenDecoder, speller: Speller, audio: np.ndarray, max_tokens: int,
                    special: np.ndarray | None = None,
                    resume: bool = False) -> tuple[SearchResult | None, Started | Resume]:
    """(the result, when the free greedy transcript is a sentence of the grammar, else None; the decoder to
    run the beam search with, the audio already encoded — or, with `resume`, where the beam should start)."""
    special = special_tokens(decoder) if special is None else special
    first = decoder.start(audio)
    logp, state = first
    position, words, tokens = speller.start, (), []  # type: tuple[int, tuple[str, ...], list[int]]
    logprob, worst = 0.0, 0.0
    spans: tuple[tuple[float, int], ...] = ()
    pending = (0.0, 0)
    starts: list[Resume] = []  # the greedy hypothesis before each token that begins a word
    while len(tokens) <= max_tokens:
        token = int(np.argmax(np.where(special, -np.inf, logp)))
        s = float(logp[token])
        if token == decoder.eos:
            if not speller.can_end(position):
                break
            last = speller.last_word(position)
            hyp = Hypothesis(words + ((last,) if last else ()), logprob + s, len(tokens) + 1, min(worst, s),
                             spans_at_end(spans, pending, last))
            return SearchResult((hyp,), tuple(tokens), logprob + s), Started(decoder, first)
        allowed = speller.allowed(position)
        where = np.flatnonzero(allowed.ids == token)
        if not len(where):
            break
        if resume and decoder.vocabulary[token][:1] == b" ":
            starts.append(Resume(logp, state, position, words, len(tokens), logprob, worst, (), 0.0, spans, pending))
        j = int(where[0])
        spans, pending = spans_after(spans, pending, allowed.words(j), s)
        position, words = int(allowed.nexts[j]), words + allowed.words(j)
        logprob, worst = logprob + s, min(worst, s)
        tokens.append(token)
        rows, (state,) = decoder.advance([state], [token])
        logp = rows[0]
    if not resume or len(starts) < 2:
        return None, Started(decoder, first)
    free, free_logprob = _finish_free(decoder, special, logp, state, tokens, logprob, max_tokens)
    return None, replace(starts[-2], free_tokens=free, free_logprob=free_logprob)


def _finish_free(decoder: TokenDecoder, special: np.ndarray, logp: np.ndarray, state: Any, tokens: list[int],
                 logprob: float, max_tokens: int) -> tuple[tuple[int, ...], float]:
    """The free greedy pass from where the grammar was left to its end, as constrained.search runs it."""
    tokens = list(tokens)
    while True:
        token = int(np.argmax(np.where(special, -np.inf, logp)))
        logprob += float(logp[token])
        if token == decoder.eos or len(tokens) >= max_tokens:
            return tuple(tokens), logprob
        tokens.append(token)
        rows, (state,) = decoder.advance([state], [token])
        logp = rows[0]
