"""stages.ordering: after the press — the order into the outbox, its undo, the broker's acknowledgement and
the store's answer said in the request's language. A real outbox (SQLite) and Delivery; no audio, no broker."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from device.audio.voice import Voice
from device.confirmation.session import OrderSession
from device.contract import schemas
from device.contract.catalogue import Catalogue
from device.contract.inputs import OrderStatus
from device.contract.topics import Topics
from device.dialogue.readback import readback
from device.events import Cancelled, Confirmed, IntentItem, Published, Queued, Said, Status
from device.fakes import RecordingPublisher, TimedSpeaker
from device.orders.delivery import Delivery
from device.orders.lifecycle import Orders, cancel_payload, status_words
from device.orders.outbox import Outbox, OutboxFull

CATALOG = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"
NOW = datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc)


class Rig:
    """Orders over a real outbox, a Delivery to a recording publisher, a Voice that records what it said."""

    def __init__(self, tmp_path: Path, locale: str = "en-US", capacity: int = 100) -> None:
        self.events: list = []
        self.publisher, self.topics = RecordingPublisher(), Topics("reorder/v1", "kitchen")
        self.outbox = Outbox(tmp_path / "outbox.sqlite3", capacity=capacity)
        self.delivery = Delivery(self.outbox, self.publisher, self.topics)
        self.voice = Voice(TimedSpeaker(1.0, 0.25), locale, True, self.events.append)
        self.orders = Orders(self.delivery, locale, self.voice, self.events.append, lambda: NOW)
        self.catalogue = Catalogue.load(CATALOG)
        self.session = OrderSession(timeout_seconds=20.0, undo_seconds=30.0)
        self.locale = locale

    def pending(self, sku: str = "MILK-1L", quantity: int = 2):
        items = (IntentItem(sku, quantity, "milk"),)
        said = readback(items, self.catalogue, self.locale)
        return self.session.offer(items, self.catalogue, said, heard_at=3.0, said_at=4.0)

    def said(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Said)]

    def close(self) -> None:
        self.outbox.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_a_confirmed_order_is_on_disk_before_queued_is_said_and_follows_the_contract(rig):
    order = rig.orders.place(rig.pending(), "button", t=5.0)
    assert schemas.problem(order, schemas.ORDER) is None
    assert order["device_id"] == "kitchen" and order["items"][0]["sku"] == "MILK-1L"
    assert order["items"][0]["quantity"] == 2
    assert rig.outbox.depth() == 1  # offline: it waits on disk
    kinds = [type(e) for e in rig.events]
    assert kinds == [Confirmed, Queued, Said] and rig.said() == ["Ordered."]
    assert rig.events[1].order_id == order["order_id"]


def test_a_full_outbox_raises_after_confirmed_and_nothing_is_queued_or_said(tmp_path):
    r = Rig(tmp_path, capacity=1)
    try:
        r.orders.place(r.pending(), "button", 5.0)
        r.events.clear()
        with pytest.raises(OutboxFull):
            r.orders.place(r.pending("COFFEE-500G", 1), "button", 9.0)
        assert [type(e) for e in r.events] == [Confirmed] and r.outbox.depth() == 1
    finally:
        r.close()


def test_undo_of_an_unsent_order_withdraws_it_and_tells_the_store_anyway(rig):
    order = rig.orders.place(rig.pending(), "button", 5.0)
    rig.orders.undo(order["order_id"], "button", 8.0)
    assert rig.outbox.depth() == 0 and rig.outbox.status_of(order["order_id"]) == "cancelled"
    [(topic, payload, _)] = rig.publisher.sent
    assert topic == rig.topics.cancel and payload == cancel_payload(order["order_id"], "kitchen", NOW)
    assert schemas.problem(payload, schemas.CANCEL) is None
    cancelled = [e for e in rig.events if isinstance(e, Cancelled)]
    assert cancelled == [Cancelled(8.0, by="button", order_id=order["order_id"])]
    assert rig.said()[-1] == "Cancelled."


def test_the_acknowledgement_of_an_order_is_published_once(rig):
    rig.delivery.connection_up()
    order = rig.orders.place(rig.pending(), "button", 5.0)
    [(topic, _, _)] = rig.publisher.sent
    assert topic == rig.topics.orders
    assert rig.orders.acknowledged(1, 5.1) == order["order_id"]
    assert rig.orders.acknowledged(1, 5.2) is None  # the same ack twice
    assert rig.orders.acknowledged(99, 5.3) is None  # not an order
    assert [e for e in rig.events if isinstance(e, Published)] == [Published(5.1, order["order_id"])]


@pytest.mark.parametrize("status, reason, words", [
    ("accepted", None, "The store accepted your order."),
    ("rejected", "price-mismatch", "The store refused the order: a price has changed."),
    ("rejected", "too-late", "The store could not cancel the order: it is too late to cancel."),
    ("cancelled", None, "The store cancelled the order."),
    ("duplicate", None, None),
])
def test_the_store_answer_to_the_last_order_is_said(rig, status, reason, words):
    order = rig.orders.place(rig.pending(), "button", 5.0)
    rig.session.place(order, 5.0)
    rig.events.clear()
    told = rig.orders.answered(OrderStatus(order["order_id"], status, reason), 7.0, rig.session.placed, tell=True)
    assert told
    assert rig.events[0] == Status(7.0, order["order_id"], status, reason)
    assert rig.said() == ([words] if words else [])


def test_an_answer_in_french_for_a_french_request_on_an_english_device(rig):
    order = rig.orders.place(rig.pending(), "button", 5.0)
    order = {**order, "locale": "fr-FR"}  # the request was in French
    rig.session.place(order, 5.0)
    rig.events.clear()
    rig.orders.answered(OrderStatus(order["order_id"], "accepted"), 7.0, rig.session.placed, tell=True)
    assert rig.said() == ["Le magasin a accepté votre commande."]


def test_an_answer_for_an_older_order_or_while_busy_is_recorded_not_said(rig):
    first = rig.orders.place(rig.pending(), "button", 5.0)
    second = rig.orders.place(rig.pending("COFFEE-500G", 1), "button", 9.0)
    rig.session.place(second, 9.0)
    rig.events.clear()
    assert not rig.orders.answered(OrderStatus(first["order_id"], "accepted"), 10.0, rig.session.placed, True)
    assert not rig.orders.answered(OrderStatus(second["order_id"], "accepted"), 11.0, rig.session.placed, False)
    assert rig.said() == [] and [type(e) for e in rig.events] == [Status, Status]
    assert rig.outbox.status_of(first["order_id"]) == "accepted"


def test_an_answer_for_an_order_of_no_one_here_is_ignored(rig):
    assert not rig.orders.answered(OrderStatus("not-ours", "accepted"), 1.0, None, tell=True)
    assert rig.events == []


def test_status_words_cover_every_answer():
    assert status_words("accepted", None) == "accepted"
    assert status_words("rejected", "unknown-order") == "cancel-refused"
    assert status_words("rejected", None) == "store-rejected"
    assert status_words("shipped", None) is None
