"""stages.request: a request recognised, understood for the current catalogue and answered aloud; the catalogue
swapped with its grammar. A recogniser that returns a given text stands in for the audio."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from device.audio.voice import Voice
from device.contract.catalogue import Catalogue
from device.dialogue.decision import Cancel, ReadBack, Refuse, Sorry
from device.dialogue.limits import Limits
from device.dialogue.request import Requests
from device.events import IntentEvent, Prompt, Rejected, Said, TranscriptEvent
from device.fakes import TimedSpeaker
from device.language.grammar import Grammar
from device.recognition.protocol import Recognition

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


class Heard:
    """A Recognizer that hears what it is told to, and keeps the grammars it was given."""

    name = "given"

    def __init__(self) -> None:
        self.next = Recognition("", 0.0)
        self.grammars: list[Grammar] = []

    def set_grammar(self, grammar: Grammar) -> list[str]:
        self.grammars.append(grammar)
        return []

    def recognize(self, audio: bytes) -> Recognition:
        return self.next


class History:
    def orders_since(self, since):
        return 0

    def skus_since(self, since):
        return set()

    def last_accepted(self):
        return None


def requests(locale: str = "en-US"):
    events: list = []
    heard = Heard()
    r = Requests(heard, Voice(TimedSpeaker(), locale, True, events.append), locale, Limits(), 0.5, events.append)
    return r, heard, events


def test_before_any_catalogue_a_request_is_refused_never_read_back():
    r, heard, events = requests()
    heard.next = Recognition("order two bottles of milk", 0.9)
    outcome = r.heard(b"", 1.0, History(), NOW)
    # no grammar exists before the first catalogue: the recogniser is not asked, the reason says why
    assert isinstance(outcome, Refuse) and outcome.reason == "no-catalog" and r.catalogue is None
    assert [type(e) for e in events] == [IntentEvent] and events[0].intent.action == "none"


def test_a_request_emits_the_transcript_and_the_intent_then_reads_back():
    r, heard, events = requests()
    r.set_catalogue(Catalogue.load(CATALOG))
    heard.next = Recognition("order two bottles of milk", 0.9)
    outcome = r.heard(b"", 1.0, History(), NOW)
    assert isinstance(outcome, ReadBack)
    assert [type(e) for e in events] == [TranscriptEvent, IntentEvent]
    assert events[0].text == "order two bottles of milk" and events[1].intent.items[0].quantity == 2
    heard_at, said_at = r.read_back(outcome, 1.0)
    assert (heard_at, said_at) == (3.0, 5.0)  # items and total said by 3 s, the instruction by 5 s
    prompt = next(e for e in events if isinstance(e, Prompt))
    assert prompt.items == ({"sku": "MILK-1L", "quantity": 2},) and prompt.currency == "EUR"
    spoken = [e.text for e in events if isinstance(e, Said)]
    assert spoken == [outcome.readback.spoken, outcome.readback.instruction]


def test_cancel_sorry_and_a_refusal_said_aloud():
    r, heard, events = requests()
    r.set_catalogue(Catalogue.load(CATALOG))
    heard.next = Recognition("cancel", 0.9)
    assert isinstance(r.heard(b"", 1.0, History(), NOW), Cancel)
    heard.next = Recognition("what a lovely day", 0.9)
    assert isinstance(r.heard(b"", 2.0, History(), NOW), Sorry)
    events.clear()
    r.refuse("daily-limit", 3.0)
    assert events[0] == Rejected(3.0, "daily-limit", "")
    assert events[1] == Said(3.0, "I cannot order that: today's order limit is reached.", 2.0)


def test_a_spoken_answer_to_the_read_back():
    r, heard, events = requests()
    r.set_catalogue(Catalogue.load(CATALOG))
    heard.next = Recognition("yes", 0.9)
    assert r.answer(b"", 1.0) == "yes"
    heard.next = Recognition("no", 0.9)
    assert r.answer(b"", 2.0) == "no"
    heard.next = Recognition("yes", 0.2)  # unsure is neither
    assert r.answer(b"", 3.0) is None
    assert [type(e) for e in events] == [TranscriptEvent] * 3


def test_a_new_catalogue_rebuilds_the_grammar_and_is_cached(tmp_path):
    r, heard, events = requests("fr-FR")
    first = Catalogue.load(CATALOG)
    r.set_catalogue(first)
    cache = tmp_path / "catalogue.json"
    second = Catalogue.load(CATALOG)
    r.set_catalogue(second, cache)
    assert len(heard.grammars) == 2 and r.catalogue is second
    assert Catalogue.load(cache) == second
    heard.next = Recognition("commande deux bouteilles de lait", 0.9)
    outcome = r.heard(b"", 1.0, History(), NOW)
    assert isinstance(outcome, ReadBack) and outcome.items[0].sku == "MILK-1L"


def test_a_cache_that_cannot_be_written_keeps_the_new_catalogue(tmp_path):
    r, heard, events = requests()
    catalogue = Catalogue.load(CATALOG)
    (tmp_path / "a-file").write_text("")
    r.set_catalogue(catalogue, tmp_path / "a-file" / "catalogue.json")  # its folder is a file: OSError
    assert r.catalogue is catalogue and not (tmp_path / "a-file" / "catalogue.json").exists()
