"""pocketsphinx 5: US English with the model in its wheel, restricted to a JSGF grammar."""

from __future__ import annotations

import logging

from ..errors import ModelError
from ..stages.grammar import Grammar, report_unknown_words
from ..stages.recognizer import Recognition

log = logging.getLogger(__name__)

# A grammar search can run away on speech far from the grammar (FINDINGS: 15-45 s on a few
# real recordings). Measured here: the lattice pass (bestpath) is what costs — 2.1 s against
# 0.2 s for the same 2 s request — and it adds nothing to a grammar search; the HMM bound
# caps the worst case. Tighter beams lost words.
SEARCH_BOUNDS = {"bestpath": False, "maxhmmpf": 10000, "maxwpf": 20}


class PocketSphinx:
    """A pocketsphinx decoder (en-US only: the model its wheel ships)."""

    name = "pocketsphinx"

    def __init__(self, locale: str = "en-US") -> None:
        if not locale.startswith("en"):
            raise ModelError(f"pocketsphinx only ships a US English model; for {locale} install the Vosk model "
                             f"(scripts/install.sh, models/manifest.json) and set [recognizer] engine = \"vosk\"")
        from pocketsphinx import Config, Decoder

        self._config = Config(loglevel="FATAL", **SEARCH_BOUNDS)
        self._decoder = Decoder(self._config)
        self._searches = 0
        self._other: set[str] = set()
        self.catalogue = None

    def knows(self, word: str) -> bool:
        """Whether the pronunciation dictionary has this word."""
        return self._decoder.lookup_word(word) is not None

    def set_grammar(self, grammar: Grammar) -> list[str]:
        self._other = set(grammar.other_words())
        self._searches += 1
        name = f"reorder{self._searches}"
        try:
            self._decoder.add_jsgf_string(name, grammar.jsgf(known=self.knows))
        except RuntimeError as exc:
            raise ModelError(f"pocketsphinx rejected the grammar for catalogue version "
                             f"{grammar.catalog_version} ({exc})") from None
        self._decoder.activate_search(name)
        if self._searches > 1:
            self._decoder.remove_search(f"reorder{self._searches - 1}")
        return report_unknown_words(grammar, self.catalogue, self.knows, "pocketsphinx en-US")

    def recognize(self, audio: bytes) -> Recognition:
        d = self._decoder
        d.start_utt()
        d.process_raw(audio, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return Recognition("", 0.0)
        # A finite-state grammar search gives no posterior. What it does give: whether the words
        # came from the requests or from the out-of-domain rule; the share of request words is
        # the confidence, so speech that is not a request is refused, not turned into one.
        words = hyp.hypstr.split()
        in_domain = sum(w not in self._other for w in words)
        return Recognition(" ".join(words), round(in_domain / len(words), 3))
