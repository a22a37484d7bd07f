"""Speech recognition of one request, restricted to the catalogue's grammar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from device.language.grammar import Grammar


@dataclass(frozen=True)
class Recognition:
    """What the recogniser heard."""

    text: str
    confidence: float
    """0-1; transcripts below the configured minimum are refused (low-confidence)."""
    second_opinion: str | None = None
    """The same audio decoded once more with other frame boundaries (pocketsphinx's cross-check), or
    None. A request whose two decodings mean different things is refused, never read back."""
    alternatives: tuple[str, ...] = ()
    """Other transcripts of the same audio almost as likely (N-best, best first), or none. An
    alternative naming another product adds it to that item's alternatives (the read-back names
    it); one with another quantity refuses the request (stages.understanding)."""


class Recognizer(Protocol):
    """A speech recogniser. Implementations: adapters.vosk, adapters.pocketsphinx."""

    name: str

    def set_grammar(self, grammar: Grammar) -> list[str]:
        """Restrict recognition to this grammar (it carries its catalogue); returns warnings about
        catalogue words the model lacks. All a recogniser is told when the catalogue changes."""

    def recognize(self, audio: bytes) -> Recognition:
        """Decode one request (16 kHz mono int16, with silence on both sides)."""
