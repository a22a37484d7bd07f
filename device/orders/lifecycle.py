"""After the press: the confirmed order into the outbox, its undo, the broker's acknowledgement and
the store's answer, each said to the household in the request's language.

The loop decides when (its State and the order session's times, stages.confirmation); this does
the work, emits the events and says the words, and tells the loop what came of it, so the loop
only changes state. The store's answer to the household's last order is said in the language the
order was asked in, which may not be the device's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from device.audio.voice import Voice
from device.confirmation.session import Pending, Placed
from device.contract.inputs import OrderStatus
from device.dialogue.readback import message
from device.events import Cancelled, Confirmed, Event, Published, Queued, Status
from device.orders.delivery import Delivery
from device.orders.payload import build_order, iso

log = logging.getLogger(__name__)

CANCEL_REFUSALS = ("too-late", "unknown-order")
"""Store reasons that refuse a cancel (the order itself stands)."""
STATUS_WORDS = {"accepted": "accepted", "rejected": "store-rejected", "cancelled": "store-cancelled"}
"""The message (device/messages/*.toml) said for each answer of the store; a duplicate says nothing."""


def status_words(status: str, reason: str | None) -> str | None:
    """The message to say for the store's answer to the last order, or None."""
    if status == "rejected" and reason in CANCEL_REFUSALS:
        return "cancel-refused"  # the answer to an undo, not to the order
    return STATUS_WORDS.get(status)


def cancel_payload(order_id: str, device_id: str, now: datetime) -> dict[str, Any]:
    """The `reorder.cancel/1` message that withdraws an order at the store."""
    return {"schema": "reorder.cancel/1", "order_id": order_id, "device_id": device_id, "created_at": iso(now)}


class Orders:
    """The household's orders once confirmed: into the outbox, undone, acknowledged, answered."""

    def __init__(self, delivery: Delivery, locale: str, voice: Voice, emit: Callable[[Event], None],
                 now: Callable[[], datetime]) -> None:
        self.delivery, self.outbox = delivery, delivery.outbox
        # The device's id and topics are the delivery's: it publishes no order made under another id.
        self.topics, self.device_id, self.locale = delivery.topics, delivery.topics.device_id, locale
        self.voice, self.emit, self.now = voice, emit, now

    def place(self, pending: Pending, by: str, t: float) -> dict[str, Any]:
        """The read-back was confirmed `by` the button or the voice: commit the order to the outbox
        (on disk before "queued" is said) and return it. Raises the outbox's OutboxFull or
        OutboxError, with the `confirmed` event already out and nothing queued."""
        order = build_order(pending.items, pending.catalogue, self.device_id, self.locale, by, self.now())
        self.emit(Confirmed(t, by=by))
        self.delivery.submit(order)
        self.voice.cue("confirmed", t)
        self.emit(Queued(t, order["order_id"]))
        self.voice.say(message("queued", self.locale), t)
        return order

    def undo(self, order_id: str, by: str, t: float) -> None:
        """Withdraw the order: out of the outbox if it was never sent, and a cancel to the store always
        (it may be in flight without an acknowledgement yet)."""
        withdrawn = self.outbox.withdraw(order_id)
        self.delivery.publisher.publish(self.topics.cancel, cancel_payload(order_id, self.device_id, self.now()))
        self.emit(Cancelled(t, by=by, order_id=order_id))
        log.info("order %s undone (%s)", order_id, "never sent" if withdrawn else "cancel sent to the store")
        self.voice.cue("cancelled", t)
        self.voice.say(message("cancelled", self.locale), t)

    def acknowledged(self, mid: int, t: float) -> str | None:
        """The broker acknowledged message `mid`: the order it carried (a `published` event), or None."""
        order_id = self.delivery.acknowledged(mid)
        if order_id:
            self.emit(Published(t, order_id))
        return order_id

    def answered(self, s: OrderStatus, t: float, last: Placed | None, tell: bool) -> bool:
        """The store answered: record it (a `status` event) when it is for an order of this device;
        say it when it answers `last` (the household's last order) and `tell` (the device is not busy
        with another request). Whether the answer concerns the last order and was told."""
        if not self.outbox.record_status(s.order_id, s.status, s.reason):
            log.warning("ignored a status for order %s: not an order of this device", s.order_id)
            return False
        self.emit(Status(t, s.order_id, s.status, s.reason))
        if last is None or last.order_id != s.order_id or not tell:
            return False  # an older order, or the household is busy with a new request: the LED and log tell
        words = status_words(s.status, s.reason)
        if words:
            locale = last.order.get("locale") or self.locale  # the request's language
            self.voice.say(message(words, locale, reason=s.reason or "other"), t, locale)
        return True
