"""The seam between a neural speech model and the grammar-constrained search (stages.constrained).

A model adapter (adapters.moonshine for English, adapters.whisper for French) implements
`TokenDecoder`: it encodes the audio once, then scores the next token for several hypotheses at
a time. The search decides which tokens each hypothesis may take (only those that continue a
sentence of the grammar) and keeps the best few; the free greedy pass that the rejection rule
compares against runs through the same two methods.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class TokenDecoder(Protocol):
    """A speech model decoded one token at a time, for several hypotheses at once."""

    name: str
    """Short engine name for events and logs ("moonshine", "whisper")."""
    eos: int
    """The end-of-text token id."""

    @property
    def vocabulary(self) -> Sequence[bytes]:  # read-only here, so a list[bytes] attribute satisfies it
        """Each token id's surface as UTF-8 bytes, a word boundary written as a leading b" " (SentencePiece's
        "▁", GPT-2's "Ġ" already turned into a space); b"" for special tokens that never spell text
        (BOS, language and task tokens, timestamps, unused ids). A token may hold part of a UTF-8
        character (byte fallback, byte-level BPE)."""

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, Any]:
        """Encode one request (float32, 16 kHz mono, in [-1, 1]) and run the decoder's prompt.

        Returns the log-probabilities (float32, [V]) of the first text token and an opaque state
        that `advance` continues from. Log-probabilities are log-softmax over the whole vocabulary."""

    def advance(self, states: Sequence[Any], tokens: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
        """Append `tokens[i]` to hypothesis `states[i]` for every i, in one batched model call.

        Returns the log-probabilities of each hypothesis's next token (float32, [len(states), V]) and
        the new states, in the same order. A state may be passed to `advance` more than once (two
        hypotheses that share a prefix); states are never mutated in place."""


class Wrapped:
    """A TokenDecoder passing everything to the one it wraps; subclasses change what they need."""

    def __init__(self, decoder: TokenDecoder) -> None:
        self.decoder = decoder
        self.name, self.eos = decoder.name, decoder.eos

    @property
    def vocabulary(self) -> Sequence[bytes]:
        return self.decoder.vocabulary

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, Any]:
        return self.decoder.start(audio)

    def advance(self, states: Sequence[Any], tokens: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
        return self.decoder.advance(states, tokens)


class Superseded(Exception):
    """A search given up because its audio is no longer the request's (recognition.early)."""


class Stoppable(Wrapped):
    """A TokenDecoder that gives up (Superseded) before its next model call once `stop` is set."""

    def __init__(self, decoder: TokenDecoder, stop: threading.Event) -> None:
        super().__init__(decoder)
        self.stop = stop

    def start(self, audio: np.ndarray) -> tuple[np.ndarray, Any]:
        self._check()
        return super().start(audio)

    def advance(self, states: Sequence[Any], tokens: Sequence[int]) -> tuple[np.ndarray, list[Any]]:
        self._check()
        return super().advance(states, tokens)

    def _check(self) -> None:
        if self.stop.is_set():
            raise Superseded("the request's audio changed")
