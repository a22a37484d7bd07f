"""The loop alone, frame by frame in audio time, with the package's fakes (device.fakes): every move in the
transition table is made by some scenario here, no move outside it is ever made, and the whole file runs in
well under two seconds (no model, no broker, no sound card; a real outbox on disk)."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from device import config
from device.app import build_loop, sample_path
from device.audio.endpointer import Endpointer
from device.audio.source import FRAME_SECONDS
from device.audio.wake_word import WakeWordDetector
from device.confirmation.led import PATTERNS
from device.contract.catalogue import Catalogue
from device.contract.inputs import Acked, BrokerDown, BrokerUp, ButtonEdge, CatalogueArrived, MuteChanged, OrderStatus
from device.contract.topics import Topics
from device.errors import ReorderError
from device.events import Error, Event, StateChanged
from device.fakes import (
    SILENCE,
    SPEECH,
    WAKE,
    FrameVad,
    RecordingPublisher,
    ScriptedRecognizer,
    ScriptedWakeWord,
    SilentLight,
    TimedSpeaker,
)
from device.loop import Loop
from device.orders.delivery import Delivery
from device.orders.outbox import Outbox
from device.states import TRANSITIONS, State

CATALOGUE = Catalogue.load(sample_path("catalog.json"))
MADE: set[tuple[str, str]] = set()
"""Every move any test here made: the last test checks the table against it."""


class Rig:
    """A loop on fakes, at rest with the broker connected (unless `connected` is False)."""

    def __init__(self, folder: Path, heard=(), *, connected: bool = True, muted: bool = False, capacity: int = 1000,
                 say_seconds: float = 2.0, refractory: float = 2.0, catalogue: Catalogue | None = CATALOGUE,
                 **confirmation) -> None:
        settings = config.from_mapping({"device": {"id": "kitchen-01"}, "confirmation": confirmation}, "test")
        self.publisher, self.light, self.speaker = RecordingPublisher(), SilentLight(), TimedSpeaker(say_seconds)
        self.engine, self.recognizer = ScriptedWakeWord(), ScriptedRecognizer(heard)
        self.outbox = Outbox(folder / "outbox.sqlite3", capacity)
        self.events: list[Event] = []
        self.loop: Loop = build_loop(
            settings, wake=WakeWordDetector(self.engine, 0.5, refractory), endpointer=Endpointer(FrameVad()),
            recognizer=self.recognizer, delivery=Delivery(self.outbox, self.publisher, Topics("reorder", "kitchen-01")),
            light=self.light, speaker=self.speaker, emit=self.record, catalogue=catalogue,
            now=lambda: datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc), muted=muted)
        if connected:
            self.post(BrokerUp())

    def record(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, StateChanged):
            MADE.add((event.previous, event.state))

    @property
    def state(self) -> str:
        return self.loop.state.value

    def moves(self) -> list[tuple[str, str]]:
        return [(e.previous, e.state) for e in self.events if isinstance(e, StateChanged)]

    def post(self, item: object) -> None:
        self.loop.post(item)
        self.loop.step(SILENCE)

    def run(self, seconds: float, frame: bytes = SILENCE) -> None:
        for _ in range(round(seconds / FRAME_SECONDS)):
            self.loop.step(frame)

    def press(self, hold: float = 0.24) -> None:
        self.post(ButtonEdge(True))
        self.run(hold)
        self.post(ButtonEdge(False))
        self.run(0.16)

    def wake(self) -> None:
        self.loop.step(WAKE)
        self.run(0.8)  # the "listen" earcon (0.5 s) is over

    def request(self) -> None:
        """Wake, say something for a second, then silence until the endpointer ends it."""
        self.wake()
        self.run(1.0, SPEECH)
        self.run(0.8)

    def read_back(self) -> None:
        """A request for milk read back: CONFIRMING, the items, total and instruction said."""
        self.request()
        assert self.state == "awaiting-confirmation", self.events
        self.run(4.5)

    def order(self) -> str:
        """An order confirmed by a press: QUEUED; its id."""
        self.read_back()
        self.press()
        assert self.state == "queued", self.events
        return [e for e in self.events if e.name == "queued"][-1].to_dict()["order_id"]

    def order_mid(self) -> int:
        return next(i + 1 for i, (topic, _, _) in enumerate(self.publisher.sent) if topic.endswith("/orders"))

    def placed(self, until: str) -> str:
        """An order taken as far as `until`: "queued", "sent" (the broker acknowledged it) or "accepted"
        (the store too); its id."""
        order_id = self.order()
        if until != "queued":
            self.post(Acked(self.order_mid()))
        if until == "accepted":
            self.post(OrderStatus(order_id, "accepted"))
        assert self.state == until, self.events
        return order_id

    def to(self, state: str) -> None:
        """From rest to `state` (the script must hold what it needs: a giraffe for "rejected", milk else)."""
        if state == "listening":
            self.wake()
        elif state == "rejected":
            self.request()
        elif state == "error":
            self.engine.fail = RuntimeError("model broke")
            self.run(0.08)
        elif state == "awaiting-confirmation":
            self.read_back()
        elif state in ("queued", "sent", "accepted"):
            self.placed(state)
        assert self.state == state, self.events


MILK = "reorder two bottles of milk"


@pytest.fixture
def rig(tmp_path):
    """make(*heard, **settings) -> a Rig; outboxes in memory-backed /dev/shm where there is one (SQLite's fsync
    is then free: the loop is what is measured here, the outbox has its own tests on disk)."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() and os.access(shm, os.W_OK) else tmp_path
    made: list[Rig] = []

    def make(*heard, **kw) -> Rig:
        (folder / str(len(made))).mkdir()
        made.append(Rig(folder / str(len(made)), heard, **kw))
        return made[-1]

    yield make
    for r in made:
        r.outbox.close()
    if folder != tmp_path:
        shutil.rmtree(folder)


def test_the_broker_coming_and_going_moves_between_idle_and_offline(rig):
    r = rig(connected=False)
    assert r.state == "offline"
    r.post(BrokerUp())
    r.post(BrokerDown("test"))
    r.post(BrokerUp())
    assert r.moves() == [("offline", "idle"), ("idle", "offline"), ("offline", "idle")]


@pytest.mark.parametrize("connected", [True, False])
def test_nobody_speaking_after_the_wake_word_rests_again(rig, connected):
    r = rig(connected=connected)
    r.wake()
    r.run(5.5)
    rest = "idle" if connected else "offline"
    assert r.moves()[-2:] == [(rest, "listening"), ("listening", rest)]


@pytest.mark.parametrize("connected", [True, False])
def test_a_request_is_read_back_then_a_press_orders_it(rig, connected):
    r = rig(MILK, connected=connected)
    r.order()
    rest = "idle" if connected else "offline"
    assert r.moves()[-4:] == [(rest, "listening"), ("listening", "thinking"), ("thinking", "awaiting-confirmation"),
                              ("awaiting-confirmation", "queued")]
    assert r.outbox.depth() == 1


def test_a_press_before_the_items_and_total_were_said_is_ignored(rig):
    r = rig(MILK)
    r.request()
    r.press()
    assert r.state == "awaiting-confirmation"
    assert [e.to_dict()["event"] for e in r.events][-1] == "ignored"


def test_the_broker_acknowledges_then_the_store_accepts(rig):
    r = rig(MILK)
    r.placed("accepted")
    assert r.moves()[-2:] == [("queued", "sent"), ("sent", "accepted")]
    r.run(31)  # the undo window closes
    assert r.moves()[-1] == ("accepted", "idle")


def test_the_store_may_answer_before_the_acknowledgement(rig):
    r = rig(MILK)
    order_id = r.order()
    r.post(OrderStatus(order_id, "accepted"))
    assert r.moves()[-1] == ("queued", "accepted")


@pytest.mark.parametrize("first", ["queued", "sent", "accepted"])
def test_the_store_rejecting_shows_rejected_then_rests(rig, first):
    r = rig(MILK)
    order_id = r.placed(first)
    r.post(OrderStatus(order_id, "rejected", "out-of-stock"))
    r.run(2.5)
    assert r.moves()[-2:] == [(first, "rejected"), ("rejected", "idle")]


@pytest.mark.parametrize("first", ["queued", "sent", "accepted"])
def test_a_press_in_the_undo_window_withdraws_the_order(rig, first):
    r = rig(MILK)
    r.placed(first)
    r.run(1.0)
    r.press()
    assert r.moves()[-1] == (first, "idle")
    assert any(topic.endswith("/cancel") for topic, _, _ in r.publisher.sent)


def test_a_long_press_undoes_and_the_store_cancelling_rests(rig, tmp_path):
    r = rig(MILK)
    r.order()
    r.run(1.0)
    r.press(hold=1.7)
    assert r.moves()[-1] == ("queued", "idle")
    r2 = rig(MILK)
    r2.post(OrderStatus(r2.placed("sent"), "cancelled"))
    assert r2.moves()[-1] == ("sent", "idle")


def test_the_undo_window_closing_while_offline_rests_offline(rig):
    r = rig(MILK)
    r.placed("accepted")
    r.post(BrokerDown("test"))
    r.run(31)
    assert r.moves()[-1] == ("accepted", "offline")
    r2 = rig(MILK)
    r2.placed("sent")
    r2.post(BrokerDown("test"))
    r2.run(31)
    r3 = rig(MILK)
    r3.order()
    r3.post(BrokerDown("test"))
    r3.run(1.0)
    r3.press()
    assert r2.moves()[-1] == ("sent", "offline") and r3.moves()[-1] == ("queued", "offline")


@pytest.mark.parametrize("how", ["long press", "no press"])
def test_the_read_back_ends_without_an_order(rig, how):
    r = rig(MILK)
    r.read_back()
    if how == "long press":
        r.press(hold=1.7)
    else:
        r.run(15.0)
    assert r.moves()[-1] == ("awaiting-confirmation", "idle") and r.outbox.depth() == 0


def test_the_read_back_ends_offline_when_the_broker_went_away(rig):
    r = rig(MILK)
    r.read_back()
    r.post(BrokerDown("test"))
    r.press(hold=1.7)
    assert r.moves()[-1] == ("awaiting-confirmation", "offline")


def test_a_spoken_yes_or_no_answers_the_read_back(rig):
    r = rig(MILK, "yes", voice_confirmation=True)
    r.read_back()
    r.run(1.0, SPEECH)
    r.run(0.8)
    assert r.moves()[-1] == ("awaiting-confirmation", "queued")
    r2 = rig(MILK, "no", voice_confirmation=True)
    r2.read_back()
    r2.run(1.0, SPEECH)
    r2.run(0.8)
    assert r2.moves()[-1] == ("awaiting-confirmation", "idle") and r2.outbox.depth() == 0


def test_a_full_outbox_refuses_the_order_out_loud(rig):
    r = rig("reorder coffee", MILK, capacity=1)
    r.order()
    r.run(31)
    r.read_back()
    r.press()
    assert r.moves()[-1] == ("awaiting-confirmation", "rejected")


@pytest.mark.parametrize("connected", [True, False])
def test_what_is_not_understood_is_refused_then_rests(rig, connected):
    r = rig("buy a giraffe", connected=connected)
    r.request()
    r.run(2.5)
    rest = "idle" if connected else "offline"
    assert r.moves()[-3:] == [("listening", "thinking"), ("thinking", "rejected"), ("rejected", rest)]


def test_a_request_before_any_catalogue_is_refused_saying_why(rig):
    r = rig(MILK, catalogue=None)
    r.request()
    r.run(2.5)
    assert r.moves()[-3:] == [("listening", "thinking"), ("thinking", "rejected"), ("rejected", "idle")]
    assert [e.to_dict() for e in r.events if e.name == "rejected"][0]["reason"] == "no-catalog"
    assert not any(isinstance(e, Error) for e in r.events)


@pytest.mark.parametrize("connected", [True, False])
def test_cancel_by_voice_rests(rig, connected):
    r = rig("cancel", connected=connected)
    r.request()
    rest = "idle" if connected else "offline"
    assert r.moves()[-2:] == [("listening", "thinking"), ("thinking", rest)]


def test_cancel_by_voice_undoes_the_last_order_in_its_window(rig):
    r = rig(MILK, "cancel")
    r.order()
    r.run(3.0)  # "ordered" has been said
    r.request()
    assert r.moves()[-3:] == [("queued", "listening"), ("listening", "thinking"), ("thinking", "idle")]
    assert any(topic.endswith("/cancel") for topic, _, _ in r.publisher.sent)


@pytest.mark.parametrize("first", ["idle", "offline", "rejected", "error"])
def test_push_to_talk_and_the_wake_word_listen_from_rest_and_feedback(rig, first):
    for start in ("press", "wake"):
        # a short "sorry" and refractory period, so that the wake word can come while the refusal shows
        r = rig("buy a giraffe", connected=first != "offline", say_seconds=0.5, refractory=1.0)
        r.to(first)
        if first == "rejected":
            r.run(1.2)
        if start == "press":
            r.post(ButtonEdge(True))
            r.run(0.16)
            r.post(ButtonEdge(False))
        else:
            r.loop.step(WAKE)
        assert r.moves()[-1] == (first, "listening"), (start, r.events)


@pytest.mark.parametrize("first", ["queued", "sent", "accepted"])
def test_the_wake_word_starts_a_new_request_while_an_order_is_on_its_way(rig, first):
    r = rig(MILK)
    r.placed(first)
    r.run(5.0)  # what the device says is over
    r.loop.step(WAKE)
    assert r.moves()[-1] == (first, "listening")


@pytest.mark.parametrize("connected", [True, False])
def test_an_error_shows_then_rests(rig, connected):
    r = rig(connected=connected)
    r.engine.fail = RuntimeError("model broke")
    r.run(2.5)
    rest = "idle" if connected else "offline"
    assert r.moves()[-2:] == [(rest, "error"), ("error", rest)]
    assert [e for e in r.events if isinstance(e, Error)][0].message == "internal error: RuntimeError: model broke"


@pytest.mark.parametrize("during", ["listening", "thinking", "awaiting-confirmation", "queued", "sent", "accepted",
                                    "rejected"])
def test_an_error_in_any_state_shows_error(rig, during):
    r = rig(MILK if during != "rejected" and during != "thinking" else "buy a giraffe")
    if during == "thinking":
        r.recognizer.script[0] = ReorderError("the recogniser failed")
        r.request()
    else:
        r.to(during)
    if during != "thinking":
        r.engine.fail = RuntimeError("model broke")
        r.run(0.08)
    assert r.moves()[-1] == (during, "error")


@pytest.mark.parametrize("during", ["idle", "offline", "listening", "awaiting-confirmation", "queued", "sent",
                                    "accepted", "rejected", "error"])
def test_mute_closes_the_microphone_from_any_state_and_unmute_rests(rig, during):
    r = rig(MILK if during != "rejected" else "buy a giraffe", connected=during != "offline")
    r.to(during)
    r.post(MuteChanged(True))
    r.loop.step(WAKE)  # never heard: the microphone is closed
    r.run(1.0)
    r.post(MuteChanged(False))
    rest = "idle" if during != "offline" else "offline"
    assert r.moves()[-2:] == [(during, "muted"), ("muted", rest)]


def test_a_device_muted_from_boot_unmutes_to_rest(rig):
    r = rig(connected=False, muted=True)
    assert r.state == "muted" and r.loop.muted
    r.post(MuteChanged(False))
    assert r.moves() == [("muted", "offline")]


def test_an_error_while_muted_keeps_the_device_muted(rig):
    """The bug: muted, a grammar that failed to build showed ERROR, then IDLE (the LED said "listening for
    the wake word") while the microphone stayed closed."""
    r = rig()
    r.post(MuteChanged(True))
    r.recognizer.grammar_error = ReorderError("grammar for catalogue 2 cannot be built")
    r.post(CatalogueArrived(Catalogue.from_payload({**CATALOGUE.to_payload(), "version": 2})))
    r.run(3.0)
    assert any(isinstance(e, Error) for e in r.events)
    assert r.state == "muted" and r.loop.muted and r.light.shown[-1] == PATTERNS["muted"]
    assert r.moves()[-1] == ("idle", "muted")


def test_a_move_outside_the_table_is_refused_and_reported(rig):
    r = rig()
    with pytest.raises(RuntimeError, match="no transition from idle to sent"):
        r.loop._enter(State.SENT)
    assert r.state == "idle"


def test_every_move_in_the_table_was_made_and_none_outside_it():
    """Runs last (pytest keeps file order): the union of every scenario's moves is the table."""
    table = {(a.value, b.value) for a, b in TRANSITIONS}
    assert MADE <= table, f"moves outside the table: {sorted(MADE - table)}"
    assert table <= MADE, f"moves never made here: {sorted(table - MADE)}"
