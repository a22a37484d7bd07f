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

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from device.recognition.constrained import Hypothesis, Resume, SearchResult
from device.recognition.decoding import TokenDecoder, Wrapped
from device.recognition.spelling import Speller


class Started(Wrapped):
    """A TokenDecoder whose next `start` returns an already encoded request (the encoder runs once), and whose
    `advance` serves the steps the greedy pass already took from what that pass computed (`remember`): the beam
    search then starts over without paying again for the free pass's first tokens or for a hypothesis that
    follows them."""

    def __init__(self, decoder: TokenDecoder, first: tuple[np.ndarray, Any]) -> None:
        super().__init__(decoder)
        self._first: tuple[np.ndarray, Any] | None = first
        self._steps: dict[tuple[int, int], tuple[np.ndarray, Any, Any]] = {}
        """(id of the state, token) -> (log-probabilities, new state, the state itself: kept, so ids stay unique)."""

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, Any]:
        first, self._first = self._first, None
        return first if first is not None else super().start(audio)

    def remember(self, state: Any, token: int, logp: np.ndarray, new_state: Any) -> None:
        """The greedy pass advanced `state` by `token` to `new_state`, with these next-token log-probabilities."""
        self._steps[(id(state), token)] = (logp, new_state, state)

    def advance(self, states: Sequence[Any], tokens: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
        known = [self._steps.get((id(state), token)) for state, token in zip(states, tokens)]
        todo = [i for i, k in enumerate(known) if k is None]
        if len(todo) == len(states):
            return super().advance(states, tokens)
        out: list[Any] = [None] * len(states)
        rows: list[np.ndarray | None] = [None] * len(states)
        for i, k in enumerate(known):
            if k is not None:
                rows[i], out[i] = k[0], k[1]
        if todo:
            logps, new = super().advance([states[i] for i in todo], [tokens[i] for i in todo])
            for row, i in enumerate(todo):
                rows[i], out[i] = logps[row], new[row]
        return np.stack(rows), out  # type: ignore[arg-type]


def special_tokens(decoder: TokenDecoder) -> np.ndarray:
    """Tokens the free pass may not take (True): those with no surface, end of text excepted (as the search)."""
    special = np.array([not v for v in decoder.vocabulary], dtype=bool)
    special[decoder.eos] = False
    return special


def greedy_sentence(decoder: TokenDecoder, speller: Speller, audio: np.ndarray, max_tokens: int,
                    special: np.ndarray | None = None,
                    resume: bool = False) -> tuple[SearchResult | None, Started | Resume]:
    """(the result, when the free greedy transcript is a sentence of the grammar, else None; the decoder to
    run the beam search with, the audio already encoded — or, with `resume`, where the beam should start)."""
    special = special_tokens(decoder) if special is None else special
    first = decoder.start(audio)
    started = Started(decoder, first)
    logp, state = first
    position, words, tokens = speller.start, (), []  # type: tuple[int, tuple[str, ...], list[int]]
    logprob, worst = 0.0, 0.0
    starts: list[Resume] = []  # the greedy hypothesis before each token that begins a word
    while len(tokens) <= max_tokens:
        token = int(np.argmax(np.where(special, -np.inf, logp)))
        s = float(logp[token])
        if token == decoder.eos:
            if not speller.can_end(position):
                break
            last = speller.last_word(position)
            hyp = Hypothesis(words + ((last,) if last else ()), logprob + s, len(tokens) + 1, min(worst, s))
            return SearchResult((hyp,), tuple(tokens), logprob + s), started
        allowed = speller.allowed(position)
        where = np.flatnonzero(allowed.ids == token)
        if not len(where):
            break
        if resume and decoder.vocabulary[token][:1] == b" ":
            starts.append(Resume(logp, state, position, words, len(tokens), logprob, worst, (), 0.0))
        j = int(where[0])
        position, words = int(allowed.nexts[j]), words + allowed.words(j)
        logprob, worst = logprob + s, min(worst, s)
        tokens.append(token)
        rows, (new_state,) = decoder.advance([state], [token])
        started.remember(state, token, rows[0], new_state)
        state, logp = new_state, rows[0]
    if not resume or len(starts) < 2:
        return None, started
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
