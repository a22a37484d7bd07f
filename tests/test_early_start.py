"""Recognition started before listening ends (recognition.early): the endpointer knows the request's audio
before its end silence is over, and an early result is used only for the very same audio and grammar."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from device.audio.endpointer import Endpointer, Ending
from device.contract.catalogue import Catalogue
from device.fakes import SILENCE, SPEECH, FrameVad
from device.language import grammar as grammars
from device.recognition.decoding import Stoppable, Superseded
from device.recognition.early import EarlyStart
from device.recognition.neural import ConstrainedRecognizer
from tests.fake_decoder import FakeDecoder

LOUD = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()
OTHER = (np.sin(np.arange(32000) / 7) * 8000).astype("<i2").tobytes()


def frames(*counts: tuple[bytes, int]) -> list[bytes]:
    return [frame for frame, n in counts for _ in range(n)]


def test_the_early_audio_is_the_endpoints_audio_known_0_24_s_after_the_last_speech():
    endpointer = Endpointer(FrameVad(), tail_seconds=0.24)
    early, end = [], None
    for frame in frames((SILENCE, 2), (SPEECH, 10), (SILENCE, 8)):
        end = endpointer.feed(frame)
        early.append(endpointer.early())
    assert end is not None and end.outcome is Ending.UTTERANCE
    known = [i for i, audio in enumerate(early) if audio is not None]
    assert known[0] == 2 + 10 + 3 - 1  # the third silent frame (0.24 s) after the last speech
    assert early[known[0]] == end.audio == b"".join(frames((SILENCE, 2), (SPEECH, 10), (SILENCE, 3)))
    assert early[-1] is None  # after the end, listening starts afresh


def test_speech_after_a_pause_moves_the_early_audio_on():
    endpointer = Endpointer(FrameVad(), tail_seconds=0.24)
    seen = []
    for frame in frames((SPEECH, 5), (SILENCE, 4), (SPEECH, 5), (SILENCE, 8)):
        end = endpointer.feed(frame)
        if endpointer.early() is not None:
            seen.append(endpointer.early())
    assert len(set(seen)) == 2 and end is not None
    assert end.audio == seen[-1] and len(end.audio) > len(seen[0])


def test_by_default_the_request_keeps_its_whole_end_silence_and_is_known_only_at_the_end():
    endpointer = Endpointer(FrameVad())
    for frame in frames((SPEECH, 5), (SILENCE, 7)):
        assert endpointer.feed(frame) is None and endpointer.early() is None
    end = endpointer.feed(SILENCE)
    assert end is not None and end.audio == b"".join(frames((SPEECH, 5), (SILENCE, 8)))


def test_a_click_has_no_early_audio():
    endpointer = Endpointer(FrameVad(), tail_seconds=0.24)
    for frame in frames((SPEECH, 2), (SILENCE, 8)):
        assert endpointer.feed(frame) is None
        assert endpointer.early() is None


def recognizer(heard: str = " order two milk") -> tuple[ConstrainedRecognizer, FakeDecoder]:
    decoder = FakeDecoder(heard)
    inner = ConstrainedRecognizer(decoder, "en-US")
    inner.set_grammar(grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US"))
    return inner, decoder


def test_an_early_result_for_the_same_audio_is_the_result_and_costs_no_second_decode():
    plain, _ = recognizer()
    expected = plain.recognize(LOUD)
    inner, decoder = recognizer()
    early = EarlyStart(inner)
    early.prefetch(LOUD)
    early.prefetch(LOUD)  # the same bytes again (every frame of the end silence): one job
    result = early.recognize(LOUD)
    calls = decoder.calls
    assert result == expected and early.used == 1 and early.started == 1
    assert early.recognize(LOUD) == expected and decoder.calls == 2 * calls  # no early job left: decoded now


def test_other_audio_or_another_grammar_is_decoded_at_the_end():
    inner, _ = recognizer()
    early = EarlyStart(inner)
    early.prefetch(OTHER)
    assert early.recognize(LOUD).text == "order two milk" and early.used == 0
    early.prefetch(LOUD)
    early.set_grammar(grammars.build(Catalogue.load("device/samples/catalog.json"), "en-US"))
    inner.wait_for_grammar()
    assert early.recognize(LOUD).text == "order two milk" and early.used == 0


def test_an_error_in_the_early_job_is_raised_where_the_result_is_asked_for():
    inner, decoder = recognizer()

    def broken(states, tokens):
        raise RuntimeError("model call failed")

    decoder.advance = broken
    early = EarlyStart(inner)
    early.prefetch(LOUD)
    with pytest.raises(RuntimeError, match="model call failed"):
        early.recognize(LOUD)


def test_a_superseded_search_stops_before_its_next_model_call():
    inner, decoder = recognizer()
    gate, reached = threading.Event(), threading.Event()
    advance = decoder.advance

    def slow(states, tokens):
        reached.set()
        gate.wait(5)
        return advance(states, tokens)

    decoder.advance = slow
    stop = threading.Event()
    outcome = []
    job = threading.Thread(target=lambda: outcome.append(_catch(lambda: inner.recognize(LOUD, stop))))
    job.start()
    assert reached.wait(5)
    stop.set()
    gate.set()
    job.join(5)
    assert outcome == ["superseded"] and decoder.calls == 1
    with pytest.raises(Superseded):
        Stoppable(decoder, stop).start(np.zeros(16000, np.float32))


def _catch(work) -> object:
    try:
        return work()
    except Superseded:
        return "superseded"
