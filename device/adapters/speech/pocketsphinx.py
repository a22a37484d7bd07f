"""pocketsphinx 5: US English with the model in its wheel, restricted to a JSGF grammar."""

from __future__ import annotations

import logging

import numpy as np

from device.errors import ModelError
from device.language.grammar import Grammar, report_unknown_words
from device.recognition.protocol import Recognition

log = logging.getLogger(__name__)

# A grammar search can run away on speech far from the grammar (FINDINGS: 15-45 s on a few
# real recordings). Measured here: the lattice pass (bestpath) is what costs — 2.1 s against
# 0.2 s for the same 2 s request — and it adds nothing to a grammar search; the HMM bound
# caps the worst case. Tighter beams lost words. A word insertion penalty well below the default
# (wip 0.65) keeps the decoder from inventing short words ("two more", "and a tea"): on 150
# held-out espeak-ng requests (seed 3001, not the benchmark's) wrong read-backs went from 51 to
# 42 and exact ones from 86 to 87.
SEARCH_BOUNDS = {"bestpath": False, "maxhmmpf": 10000, "maxwpf": 20, "wip": 0.05}


def _dithered(audio: bytes) -> bytes:
    """Digital silence (exact zeros, as in generated or gated audio) throws pocketsphinx's
    normalisation off — measured: words dropped that it hears with a microphone's noise floor.
    Add ±1 LSB of noise, from a fixed seed so a replay decodes the same way every time."""
    samples = np.frombuffer(audio, dtype="<i2")
    noise = np.random.default_rng(0).integers(-1, 2, size=len(samples), dtype=np.int16)
    return np.clip(samples.astype(np.int32) + noise, -32768, 32767).astype("<i2").tobytes()


HALF_FRAME_BYTES = 80 * 2
"""5 ms of 16 kHz int16 audio: half of pocketsphinx's 10 ms frame shift."""

WORD_EDGE_FRAMES = 5
"""10 ms frames either side of a word still counted as that word."""


def speech_covered(audio: bytes, spans: list[tuple[int, int]]) -> float:
    """Share of the loud 10 ms frames (pocketsphinx's frames) that fall inside recognised words.

    Loud = above the midpoint, in log energy, between the quiet floor and the speech peaks of
    this very utterance, so it adapts to the microphone and the room."""
    samples = np.frombuffer(audio, dtype="<i2").astype(np.float64)
    n = len(samples) // 160
    if n == 0:
        return 0.0
    energy = np.log10(np.mean(samples[: n * 160].reshape(n, 160) ** 2, axis=1) + 1.0)
    floor, peak = np.percentile(energy, 10), np.percentile(energy, 95)
    if peak - floor < 0.5:  # no speech stands out of the noise
        return 0.0
    loud = energy > (floor + peak) / 2
    inside = np.zeros(n, dtype=bool)
    for start, end in spans:  # word edges are fuzzy: a plosive's burst may sit in the next "silence"
        inside[max(start - WORD_EDGE_FRAMES, 0):min(end + 1 + WORD_EDGE_FRAMES, n)] = True
    return float((loud & inside).sum() / max(loud.sum(), 1))


class PocketSphinx:
    """A pocketsphinx decoder (en-US only: the model its wheel ships)."""

    name = "pocketsphinx"

    def __init__(self, locale: str = "en-US", cross_check: bool = False) -> None:
        if not locale.startswith("en"):
            raise ModelError(f"pocketsphinx only ships a US English model; for {locale} install the Vosk model "
                             f"(scripts/install.sh, models/manifest.json) and set [recognizer] engine = \"vosk\"")
        from pocketsphinx import Config, Decoder

        # lm=None: the wheel's full language model is 60 MB of memory the grammar search never uses.
        self._config = Config(loglevel="FATAL", lm=None, **SEARCH_BOUNDS)
        self._decoder = Decoder(self._config)
        self.cross_check = cross_check
        self._searches = 0
        self._other: set[str] = set()

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
        return report_unknown_words(grammar, grammar.catalogue, self.knows, "pocketsphinx en-US")

    def recognize(self, audio: bytes) -> Recognition:
        heard = self._decode(audio)
        if not self.cross_check or not heard.text:
            return heard
        # The grammar search gives no posterior, so ask again: the same audio half a 10 ms frame
        # later gives the decoder other frames to score. Measured on espeak-ng requests: when the
        # two decodings mean different things the first was wrong twice as often as right.
        again = self._decode(audio[HALF_FRAME_BYTES:])
        return Recognition(heard.text, heard.confidence, again.text)

    def _decode(self, audio: bytes) -> Recognition:
        d = self._decoder
        d.start_utt()
        d.process_raw(_dithered(audio), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return Recognition("", 0.0)
        # A finite-state grammar search gives no posterior. Two things it does give: whether the
        # words came from the requests or from the out-of-domain rule, and where each word lies.
        # Confidence is the lower of the share of request words and the share of the loud part
        # of the audio that words account for — a word swallowed as "silence" ("order [milk
        # and] coffee") must not become a smaller order.
        words = hyp.hypstr.split()
        in_domain = sum(w not in self._other for w in words) / len(words)
        spans = [(seg.start_frame, seg.end_frame) for seg in d.seg() if seg.word[0] not in "<[(+"]
        return Recognition(" ".join(words), round(min(in_domain, speech_covered(audio, spans)), 3))
