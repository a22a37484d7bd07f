"""Grammar-constrained beam search over a neural decoder, with a free pass to compare against.

Each hypothesis may only take tokens that continue a sentence of the grammar (speller.Speller),
and may only end where a sentence may end, so whatever comes out is a sentence of the grammar,
as the grammar's words. Beside the beam runs one free greedy hypothesis — what the model would
say with no grammar — in the same batched decoder calls. How much less likely the constrained
sentence is than the free one, per token, is the evidence that the speech was not a sentence of
the grammar at all: "what's the weather" forced into the grammar costs far more than "order two
milk" does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from device.recognition.decoding import TokenDecoder
from device.recognition.spelling import Speller


@dataclass(frozen=True)
class Hypothesis:
    """A finished sentence of the grammar."""

    words: tuple[str, ...]
    logprob: float
    """Sum of the model's log-probabilities of its tokens, end of text included."""
    tokens: int
    worst: float = 0.0
    """The lowest log-probability of any one of its tokens (end of text included)."""
    spans: tuple[tuple[float, int], ...] = ()
    """Per word of `words`: the log-probability and number of the tokens that spelled it (a token that ends a word
    and begins the next counts for the next); end of text not included. Empty when not known."""

    @property
    def mean(self) -> float:
        """Log-probability per token."""
        return self.logprob / max(self.tokens, 1)

    @property
    def text(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class SearchResult:
    """The constrained sentences found (best first) and the free transcript."""

    nbest: tuple[Hypothesis, ...]
    free_tokens: tuple[int, ...]
    free_logprob: float
    partial: Hypothesis | None = None
    """When no sentence finished: the furthest the search got (the grammar words it completed), never
    to be acted on — a refusal that still says what was heard."""
    reason: str = ""
    """Why no sentence finished ("" when one did)."""

    @property
    def best(self) -> Hypothesis | None:
        return self.nbest[0] if self.nbest else None

    def gap(self) -> float:
        """How much less likely per token the best sentence is than the free transcript (≤ 0; -inf without one).

        The lower of two readings: the difference of the totals per token of the sentence, and the
        difference of the means. The totals alone would pass a sentence cut short ("je voudrais du
        beurre" of "… du beurre et cinq paquets de lessive"): fewer tokens, so a higher total than the
        whole free transcript, though its early end of text is unlikely — which the mean shows."""
        if not self.nbest:
            return -math.inf
        best = self.nbest[0]
        totals = (best.logprob - self.free_logprob) / max(best.tokens, 1)
        means = best.mean - self.free_logprob / (len(self.free_tokens) + 1)
        return min(0.0, totals, means)


@dataclass(frozen=True, eq=False)  # holds arrays: identity, not element-wise, comparison
class Resume:
    """Where a search may start instead of the request's beginning: one hypothesis part-way through a
    sentence (what the greedy pass had already decoded inside the grammar) and the free pass, finished."""

    logp: np.ndarray
    """The next-token log-probabilities at the hypothesis's position."""
    state: Any
    position: int
    words: tuple[str, ...]
    tokens: int
    logprob: float
    worst: float
    free_tokens: tuple[int, ...]
    free_logprob: float
    spans: tuple[tuple[float, int], ...] = ()
    pending: tuple[float, int] = (0.0, 0)
    """As _Live's: the finished words' spans and the word being spelled's so far."""


def special_tokens(decoder: TokenDecoder) -> np.ndarray:
    """Tokens the free pass may not take (True): those with no surface, end of text excepted."""
    special = np.array([not v for v in decoder.vocabulary], dtype=bool)
    special[decoder.eos] = False
    return special


@dataclass
class _Live:
    score: float  # log-probability plus length bonus, what the beam ranks by
    logprob: float
    logp: np.ndarray  # next-token log-probabilities
    state: Any
    position: int
    words: tuple[str, ...]
    tokens: int
    worst: float = 0.0
    spans: tuple[tuple[float, int], ...] = ()  # Hypothesis.spans of the words finished so far
    pending: tuple[float, int] = (0.0, 0)  # log-probability and tokens of the word being spelled


def spans_after(spans: tuple[tuple[float, int], ...], pending: tuple[float, int], done: tuple[str, ...],
                logprob: float) -> tuple[tuple[tuple[float, int], ...], tuple[float, int]]:
    """(spans, pending) after a token of `logprob` that finished the words `done` (the first of them takes what was
    pending, the token begins the next word) or none (the token goes on spelling the pending word)."""
    if not done:
        return spans, (pending[0] + logprob, pending[1] + 1)
    return spans + (pending,) + ((0.0, 0),) * (len(done) - 1), (logprob, 1)


def spans_at_end(spans: tuple[tuple[float, int], ...], pending: tuple[float, int],
                 last: str | None) -> tuple[tuple[float, int], ...]:
    """The spans of a sentence that ends here: the pending word's, or what was pending added to the last word's."""
    if last:
        return spans + (pending,)
    if spans and pending[1]:
        return spans[:-1] + ((spans[-1][0] + pending[0], spans[-1][1] + pending[1]),)
    return spans


def search(decoder: TokenDecoder, speller: Speller, audio: np.ndarray, *, beam: int = 6, prune: float = 8.0,
           max_tokens: int | None = None, token_bonus: float = 0.0, special: np.ndarray | None = None,
           resume: Resume | None = None) -> SearchResult:
    """Decode `audio` constrained to the speller's grammar, and freely; see the module docstring.

    `token_bonus` is added to a hypothesis's score for each token (not to its log-probability):
    a small bonus keeps the search from ending a sentence early to save the cost of its last
    words. Candidates more than `prune` nats below the best candidate of a step are dropped (a
    confident model then keeps one or two hypotheses, not `beam`). `special` masks the tokens the free
    pass may not take (True = never), by default the ones with no surface other than end of text. `resume`:
    start from that hypothesis, the free pass already done (recognition.shortcut), not from the audio's start."""
    seconds = len(audio) / 16000
    max_tokens = max_tokens or int(8 * seconds) + 10
    special = special_tokens(decoder) if special is None else special
    if resume is None:
        logp0, state0 = decoder.start(audio)
        alive = [_Live(0.0, 0.0, logp0, state0, speller.start, (), 0)]
        free_tokens: list[int] = []
        free_logprob, free_done = 0.0, False
    else:
        r = resume
        logp0, state0 = r.logp, r.state
        alive = [_Live(r.logprob + token_bonus * r.tokens, r.logprob, r.logp, r.state, r.position, r.words, r.tokens,
                       r.worst, r.spans, r.pending)]
        free_tokens, free_logprob, free_done = list(r.free_tokens), r.free_logprob, True
    finished: list[tuple[float, Hypothesis]] = []
    free_logp, free_state = logp0, state0
    furthest: _Live | None = None
    for _ in range(max_tokens + 1):
        if alive:
            furthest = alive[0]  # the best of the latest step (they are kept best first)
        candidates: list[tuple[float, float, int, int, int, tuple[str, ...], float]] = []
        for k, h in enumerate(alive):
            if speller.can_end(h.position):
                last = speller.last_word(h.position)
                words = h.words + ((last,) if last else ())
                end = float(h.logp[decoder.eos])
                finished.append((h.score + end, Hypothesis(words, h.logprob + end, h.tokens + 1, min(h.worst, end),
                                                           spans_at_end(h.spans, h.pending, last))))
            if h.tokens >= max_tokens:
                continue
            allowed = speller.allowed(h.position)
            if not len(allowed):
                continue
            scores = h.logp[allowed.ids]
            top = np.argpartition(-scores, beam - 1)[:beam] if len(scores) > beam else range(len(scores))
            for j in top:
                s = float(scores[j])
                candidates.append((h.score + s + token_bonus, h.logprob + s, k, int(allowed.ids[j]),
                                   int(allowed.nexts[j]), allowed.words(j), s))
        candidates.sort(key=lambda c: -c[0])
        candidates = [c for c in candidates[:beam] if c[0] >= candidates[0][0] - prune]
        best_finished = max((f[0] for f in finished), default=-math.inf)
        # Scores only fall (log-probabilities ≤ 0) but for the bonus: stop once no live
        # hypothesis can still beat the best finished one.
        candidates = [c for c in candidates if c[0] + token_bonus * 4 > best_finished]
        if not free_done:
            masked = np.where(special, -np.inf, free_logp)
            token = int(np.argmax(masked))
            free_logprob += float(free_logp[token])
            if token == decoder.eos or len(free_tokens) >= max_tokens:
                free_done = True
            else:
                free_tokens.append(token)
        if not candidates and free_done:
            break
        states = [alive[c[2]].state for c in candidates]
        tokens = [c[3] for c in candidates]
        if not free_done:
            states.append(free_state)
            tokens.append(free_tokens[-1])
        logps, new_states = decoder.advance(states, tokens)
        alive = [_Live(c[0], c[1], logps[i], new_states[i], c[4], alive[c[2]].words + c[5], alive[c[2]].tokens + 1,
                       min(alive[c[2]].worst, c[6]), *spans_after(alive[c[2]].spans, alive[c[2]].pending, c[5], c[6]))
                 for i, c in enumerate(candidates)]
        if not free_done:
            free_logp, free_state = logps[-1], new_states[-1]
    if alive:
        furthest = alive[0]
    finished.sort(key=lambda f: -f[0])
    unique: dict[tuple[str, ...], Hypothesis] = {}
    for _, hyp in finished:
        unique.setdefault(hyp.words, hyp)
    if unique or furthest is None:
        return SearchResult(tuple(unique.values()), tuple(free_tokens), free_logprob)
    if furthest.tokens >= max_tokens:
        reason = f"no sentence of the grammar ended within {max_tokens} tokens"
    else:
        reason = f"no token continues a sentence of the grammar after {furthest.tokens} tokens"
    partial = Hypothesis(furthest.words + speller.partial_word(furthest.position), furthest.logprob,
                         furthest.tokens, furthest.worst)
    return SearchResult((), tuple(free_tokens), free_logprob, partial, reason)
