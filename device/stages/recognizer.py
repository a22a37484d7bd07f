"""Speech recognition of one request, restricted to the catalogue's grammar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .grammar import Grammar


@dataclass(frozen=True)
class Recognition:
    """What the recogniser heard."""

    text: str
    confidence: float
    """0-1; transcripts below the configured minimum are refused (low-confidence)."""
    second_opinion: str | None = None
    """The same audio decoded once more with other frame boundaries (pocketsphinx's cross-check), or
    None. A request whose two decodings mean different things is refused, never read back."""


class Recognizer(Protocol):
    """A speech recogniser. Implementations: adapters.vosk, adapters.pocketsphinx."""

    name: str

    def set_grammar(self, grammar: Grammar) -> list[str]:
        """Restrict recognition to this grammar; returns warnings about words the model lacks."""

    def recognize(self, audio: bytes) -> Recognition:
        """Decode one request (16 kHz mono int16, with silence on both sides)."""
