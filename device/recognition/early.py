"""Recognition started before listening ends: the decision is ready sooner, and exactly the same.

The endpointer ends a request after 0.6 s of silence, but a neural recogniser is given the audio up to
TAIL_SECONDS after the last speech (audio.endpointer): from then on it is known, unless somebody
speaks again (pocketsphinx and Vosk keep the whole end silence, as before). `prefetch`
starts the recogniser on it in a worker thread while the endpointer waits; `recognize` at the end
takes that result when it was started on the very same bytes with the grammar still in use, and
otherwise decodes as usual (a job for other audio is stopped before its next model call). The result
is a function of the audio and the grammar only, so a replay gives the same events either way; the
time saved is the wait for silence. Only for the neural recognisers (recognition.neural), which keep
no state between requests.
"""

from __future__ import annotations

import threading
from typing import Any

from device.language.grammar import Grammar
from device.recognition.decoding import Superseded
from device.recognition.neural import ConstrainedRecognizer
from device.recognition.protocol import Recognition
from device.recognition.second_opinion import SecondOpinion

TAIL_SECONDS = 0.24
"""The audio after the last speech frame that Moonshine and Whisper are given (3 frames): their own trim keeps
0.3 s around the speech it finds, so the rest of the end silence adds nothing but waiting."""


class _Job:
    """One early recognition: its audio, the grammar it started with, and its outcome."""

    def __init__(self, audio: bytes, grammar: object) -> None:
        self.audio, self.grammar = audio, grammar
        self.stop = threading.Event()
        self.result: Recognition | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def run(self, recognizer: ConstrainedRecognizer | SecondOpinion) -> None:
        try:
            self.result = recognizer.recognize(self.audio, self.stop)
        except Superseded:
            pass
        except Exception as exc:  # raised again on the loop's thread if this result is asked for
            self.error = exc


class EarlyStart:
    """A ConstrainedRecognizer (or two, as a second opinion) that can start on a request's audio before listening
    has ended."""

    def __init__(self, inner: ConstrainedRecognizer | SecondOpinion) -> None:
        self.inner = inner
        self.name = inner.name
        self.used = self.started = 0
        """Early results taken at the end of listening, and early jobs started (the rest were superseded)."""
        self._job: _Job | None = None
        self._lock = threading.Lock()

    def set_grammar(self, grammar: Grammar) -> list[str]:
        """As the recogniser's; a job started with the old grammar is stopped."""
        self._drop()
        return self.inner.set_grammar(grammar)

    def prefetch(self, audio: bytes) -> None:
        """Start recognising `audio` in the background, unless a job for the same bytes is under way."""
        with self._lock:
            if self._job is not None and self._job.audio == audio:
                return
            old, job = self._job, _Job(audio, self.inner.grammar_in_use)
            self._job = job
            self.started += 1
        if old is not None:
            old.stop.set()
        job.thread = threading.Thread(target=job.run, args=(self.inner,), name="early-recognition", daemon=True)
        job.thread.start()

    def recognize(self, audio: bytes) -> Recognition:
        """The early result for these bytes when there is one (waiting for it to finish), else a decode now."""
        with self._lock:
            job, self._job = self._job, None
        if job is not None and job.audio == audio and job.grammar is self.inner.grammar_in_use:
            assert job.thread is not None
            job.thread.join()
            if job.error is not None:
                raise job.error
            if job.result is not None:
                self.used += 1
                return job.result
        elif job is not None:
            job.stop.set()
        return self.inner.recognize(audio)

    def _drop(self) -> None:
        with self._lock:
            job, self._job = self._job, None
        if job is not None:
            job.stop.set()

    def __getattr__(self, name: str) -> Any:  # wait_for_grammar, grammar_pending, search, settings…
        return getattr(self.inner, name)
