"""A toy TokenDecoder for the search tests: it "hears" a fixed text and prefers the tokens that spell it."""

from __future__ import annotations

import numpy as np

WORDS = [" order", " two", " 2", " milk", " milks", " coffee", " and", " the", " weather", " what's", " cancel",
         " mil", "k", " co", "ffee", ",", "."]


class FakeDecoder:
    """Vocabulary: specials, every ASCII byte, and a few whole words; eos = 1."""

    name = "fake"
    eos = 1

    def __init__(self, heard: str) -> None:
        self.vocabulary = [b"", b""] + [bytes([c]) for c in range(32, 127)] + [w.encode() for w in WORDS]
        self.heard = heard.encode()
        self.calls = 0

    def _logp(self, said: bytes) -> np.ndarray:
        rest = self.heard[len(said):] if self.heard.startswith(said) else None
        scores = np.full(len(self.vocabulary), -8.0)
        for i, tok in enumerate(self.vocabulary):
            if tok and rest is not None and rest.startswith(tok):
                scores[i] = -0.1 * (1 + (len(rest) > len(tok))) + len(tok) * 0.5  # longer matching tokens first
        if rest == b"":
            scores[self.eos] = 0.0
        scores -= np.log(np.exp(scores).sum())
        return scores.astype(np.float32)

    def start(self, audio):
        return self._logp(b""), b""

    def advance(self, states, tokens):
        self.calls += 1
        new = [s + self.vocabulary[t] for s, t in zip(states, tokens)]
        return np.stack([self._logp(s) for s in new]), new
