"""A new catalogue's grammar is built off the loop's thread: requests meanwhile use the old one, replays wait."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np

from device.contract.catalogue import Catalogue
from device.language import grammar as grammars
from device.language import sentences
from device.recognition.neural import ConstrainedRecognizer
from device.runner import _wait_for_grammar
from tests.fake_decoder import FakeDecoder

LOUD = (np.sin(np.arange(32000) / 5) * 8000).astype("<i2").tobytes()


def catalogue(*names: str, version: int) -> Catalogue:
    return Catalogue.from_payload({"schema": "reorder.catalog/1", "version": version, "currency": "EUR", "items": [
        {"sku": n.upper(), "names": {"en": [n]}, "unit_price": 1.0, "max_quantity": 6} for n in names]})


def slow_build(monkeypatch) -> threading.Event:
    """sentences.build blocks until the returned event is set (a busy machine, made certain)."""
    release, real = threading.Event(), sentences.build

    def build(grammar):
        release.wait(30)
        return real(grammar)

    monkeypatch.setattr(sentences, "build", build)
    return release


def test_a_request_during_a_build_is_decided_with_the_old_grammar_never_empty(monkeypatch):
    rec = ConstrainedRecognizer(FakeDecoder(" order two milk"), "en-US")
    rec.set_grammar(grammars.build(catalogue("milk", "bread", version=1), "en-US"))
    release = slow_build(monkeypatch)
    rec.set_grammar(grammars.build(catalogue("coffee", "bread", version=2), "en-US"))
    assert rec.grammar_pending
    heard = rec.recognize(LOUD)  # returns at once, with the grammar in use when the request ended
    assert heard.text == "order two milk" and heard.confidence >= 0.85
    release.set()
    assert rec.wait_for_grammar(timeout=30) and not rec.grammar_pending
    assert rec.recognize(LOUD).text != "order two milk"  # milk is gone from version 2


def test_a_replay_finishes_a_pending_build_before_audio_time_moves_on(monkeypatch):
    rec = ConstrainedRecognizer(FakeDecoder(" order two coffee"), "en-US")
    rec.set_grammar(grammars.build(catalogue("milk", version=1), "en-US"))
    release = slow_build(monkeypatch)
    rec.set_grammar(grammars.build(catalogue("coffee", version=2), "en-US"))
    device = SimpleNamespace(loop=SimpleNamespace(requests=SimpleNamespace(recognizer=rec)))
    threading.Timer(0.3, release.set).start()
    _wait_for_grammar(device)
    assert not rec.grammar_pending
    assert rec.recognize(LOUD).text == "order two coffee"


def test_a_failed_build_keeps_the_old_grammar(monkeypatch, caplog):
    rec = ConstrainedRecognizer(FakeDecoder(" order two milk"), "en-US")
    rec.set_grammar(grammars.build(catalogue("milk", version=1), "en-US"))

    def broken(grammar):
        raise MemoryError("no room")

    monkeypatch.setattr(sentences, "build", broken)
    rec.set_grammar(grammars.build(catalogue("coffee", version=2), "en-US"))
    assert rec.wait_for_grammar(timeout=30)
    assert rec.recognize(LOUD).text == "order two milk"
    assert "previous one stays in use" in caplog.text
