"""Delivery: from the outbox to the broker, marked sent only on the broker's acknowledgement.

Each order is handed to the publisher once per process while it is in flight: the publisher
keeps what it accepted and sends it again after every reconnect, so an order in flight when the
connection drops is not published a second time here (that only piled up copies, one more per
reconnect). `Acked` carries the id publish() returned for that very message, so an order is
marked sent by its own acknowledgement and by nothing else.

A broker acknowledges before it has made a message safe: Mosquitto writes its persistence file
after the PUBACK, so a broker killed in between forgets orders it acknowledged. A broker that
died always costs the device its connection, so on every reconnect the orders acknowledged
that the store has not answered yet are published again (the store applies each order_id once
and answers `duplicate`). That list starts from the outbox, so a restart keeps it: after a
restart every unsent order and every unanswered one goes again.

An order goes only to its own device's topic: one made under another device id (an outbox kept
when a device was renamed, or shared by mistake) stays in the outbox, is never published under
this device's id, and is named once in the log.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from device.contract.topics import Topics
from device.orders.outbox import Outbox

log = logging.getLogger(__name__)

UNANSWERED_KEPT = 1000
"""At most this many acknowledged orders wait for the store's answer to be sent again (oldest dropped)."""


class Publisher(Protocol):
    """The MQTT connection. Implementation: adapters.mqtt (paho-mqtt).

    It must keep every message it accepted, re-sending it after reconnects, until the broker
    takes it; then `Acked(id)` reaches the loop once, with the id publish() returned. Ids are
    never reused.
    """

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> int | None:
        """Publish at QoS 1; the id its `Acked` will carry, or None when it could not be handed to the client."""


class Delivery:
    """Sends every unsent order whenever the broker is reachable, oldest first."""

    def __init__(self, outbox: Outbox, publisher: Publisher, topics: Topics) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.topics = topics
        self.connected = False
        self._in_flight: dict[int, str] = {}
        """Publisher id → order id, until that message is acknowledged."""
        self._orders: dict[str, dict[str, Any]] = {}
        """Order id → order, while in flight or acknowledged without an answer from the store."""
        self._unanswered: dict[str, None] = {}
        """Order ids acknowledged by the broker and not answered by the store (oldest first)."""
        self._foreign: set[str] = set()
        """Orders of another device id already named in the log."""
        for order in outbox.unanswered(UNANSWERED_KEPT):
            if not self._ours(order):
                continue
            self._unanswered[order["order_id"]] = None
            self._orders[order["order_id"]] = order
        self._prune_at = max(100, 2 * len(self._unanswered))

    @property
    def in_flight(self) -> int:
        """Orders handed to the broker and not yet acknowledged."""
        return len(self._in_flight)

    def submit(self, order: dict[str, Any]) -> None:
        """Commit a confirmed order to the outbox, then try to send it."""
        self.outbox.add(order)
        self.flush()

    def flush(self) -> None:
        """Hand every unsent order not already in flight to the broker."""
        if not self.connected:
            return
        sending = set(self._in_flight.values())
        for order in self.outbox.pending():
            if order["order_id"] not in sending and self._ours(order) and not self._send(order):
                return

    def _ours(self, order: dict[str, Any]) -> bool:
        """Whether the order was made under this device's id (only those are ever published)."""
        if order.get("device_id") == self.topics.device_id:
            return True
        if order["order_id"] not in self._foreign:
            self._foreign.add(order["order_id"])
            log.warning("order %s in outbox %s was made by device %s; it stays there and is never sent as %s",
                        order["order_id"], self.outbox.path, order.get("device_id"), self.topics.device_id)
        return False

    def _send(self, order: dict[str, Any]) -> bool:
        ticket = self.publisher.publish(self.topics.orders, order)
        if ticket is None:
            log.warning("order %s not handed to the MQTT client; it stays in the outbox", order["order_id"])
            return False
        self._in_flight[ticket] = order["order_id"]
        self._orders[order["order_id"]] = order
        return True

    def connection_up(self) -> None:
        """(Re)connected: send again what the store has not answered, then everything still unsent."""
        self.connected = True
        self._resend_unanswered()
        self.flush()

    def _resend_unanswered(self) -> None:
        sending = set(self._in_flight.values())
        again = 0
        for order_id in list(self._unanswered):
            if self.outbox.status_of(order_id) is not None:  # answered, or undone on the device
                self._forget(order_id)
            elif order_id not in sending:
                if not self._send(self._orders[order_id]):
                    break
                again += 1
        if again:
            log.info("%d acknowledged orders have no answer from the store yet; published again", again)

    def connection_down(self) -> None:
        """Disconnected: what is in flight stays with the publisher, which sends it again on reconnecting."""
        self.connected = False

    def acknowledged(self, mid: int) -> str | None:
        """The broker took the message publish() gave this id to: the order id newly marked sent, or None."""
        order_id = self._in_flight.pop(mid, None)
        if order_id is None:
            return None
        self._unanswered.pop(order_id, None)
        if self.outbox.status_of(order_id) is None:
            self._unanswered[order_id] = None
            self._prune()
        else:
            self._forget(order_id)
        return order_id if self.outbox.mark_sent(order_id) else None

    def _prune(self) -> None:
        """Forget answered orders now and then (the loop tells the outbox, not us, about answers)."""
        if len(self._unanswered) < self._prune_at:
            return
        for order_id in list(self._unanswered):
            if self.outbox.status_of(order_id) is not None:
                self._forget(order_id)
        while len(self._unanswered) > UNANSWERED_KEPT:
            self._forget(next(iter(self._unanswered)))
        self._prune_at = max(100, 2 * len(self._unanswered))

    def _forget(self, order_id: str) -> None:
        self._unanswered.pop(order_id, None)
        if order_id not in self._in_flight.values():
            self._orders.pop(order_id, None)
