"""A request heard: recognised, understood for the current catalogue, and answered aloud.

The recogniser (recognition.protocol) turns the audio into words, dialogue.decision decides what
they mean (refuse, cancel, sorry, read back); this emits the `transcript` and `intent` events, says
the read-back or the refusal, and swaps the catalogue (understanding and recognition grammar
together, without a restart). The loop decides what state follows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from device.audio.voice import Voice
from device.contract.catalogue import Catalogue
from device.dialogue import limits
from device.dialogue.decision import Outcome, PastOrders, ReadBack, Understanding
from device.dialogue.readback import message
from device.events import Event, Intent, IntentEvent, Prompt, Rejected, TranscriptEvent
from device.language import grammar as grammars
from device.recognition.protocol import Recognizer

log = logging.getLogger(__name__)


class Requests:
    """What the household asked, and what the device says back, for one locale."""

    def __init__(self, recognizer: Recognizer, voice: Voice, locale: str, limits: limits.Limits,
                 min_confidence: float, emit: Callable[[Event], None]) -> None:
        self.recognizer, self.voice, self.locale, self.emit = recognizer, voice, locale, emit
        self.limits, self.min_confidence = limits, min_confidence
        self.catalogue: Catalogue | None = None
        self.understanding = Understanding(None, locale, limits, min_confidence)

    def set_catalogue(self, catalogue: Catalogue, cache: Path | None = None) -> None:
        """Use a new catalogue; written to `cache` (the last good one, for the next start) when given."""
        understanding = Understanding(catalogue, self.locale, self.limits,  # first: a failure keeps the old one
                                      self.min_confidence)
        self.recognizer.set_grammar(grammars.build(catalogue, self.locale))
        self.catalogue, self.understanding = catalogue, understanding
        log.info("catalogue version %s: %d items", catalogue.version, len(catalogue.items))
        if cache is not None:
            try:
                catalogue.save(cache)
            except OSError as exc:
                log.warning("catalogue cache %s not written (%s)", cache, exc)

    def prefetch(self, audio: bytes) -> None:
        """The request's audio, known before listening ends: a recogniser that can (recognition.early) starts on
        it; `heard` later takes the result if the audio is the same."""
        start = getattr(self.recognizer, "prefetch", None)
        if self.catalogue is not None and callable(start):
            start(audio)

    def heard(self, audio: bytes, t: float, history: PastOrders, now: datetime) -> Outcome:
        """Recognise and decide one request (the `transcript` and `intent` events)."""
        if self.catalogue is None:  # no grammar is built before the first catalogue: nothing to hear against
            self.emit(IntentEvent(t, Intent("none")))
            return self.understanding.no_catalogue()
        heard = self.recognizer.recognize(audio)
        self.emit(TranscriptEvent(t, heard.text, heard.confidence))
        decision = self.understanding.decide(heard, history, now)
        self.emit(IntentEvent(t, decision.intent))
        return decision.outcome

    def answer(self, audio: bytes, t: float) -> str | None:
        """A spoken answer to the read-back: "yes", "no", or None (unsure, or neither)."""
        heard = self.recognizer.recognize(audio)
        self.emit(TranscriptEvent(t, heard.text, heard.confidence))
        return self.understanding.answer(heard)

    def read_back(self, r: ReadBack, t: float) -> tuple[float, float]:
        """Say the items and total, then what to do (the `prompt` event): the audio times by which
        each was said. A press counts only after the first."""
        self.emit(Prompt(t, r.readback.text, float(r.readback.total), r.catalogue.currency,
                         tuple({"sku": i.sku, "quantity": i.quantity} for i in r.items)))
        heard_at = self.voice.say(r.readback.spoken, t)
        return heard_at, self.voice.say(r.readback.instruction, t)

    def refuse(self, reason: str, t: float, detail: str = "", words: str | None = None) -> None:
        """Refuse the request aloud (the `rejected` event, the refusal sound, then the words)."""
        self.emit(Rejected(t, reason, detail))
        self.voice.cue("refused", t)
        self.voice.say(words or message("refused", self.locale, reason=reason), t)
