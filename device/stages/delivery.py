"""Delivery: from the outbox to the broker, marked sent only on the broker's acknowledgement."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..topics import Topics
from .outbox import Outbox

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """The MQTT connection. Implementation: adapters.mqtt (paho-mqtt)."""

    def publish(self, topic: str, payload: dict[str, Any], retain: bool = False) -> int | None:
        """Publish at QoS 1; the message id to wait for, or None when it could not be handed to the client."""


class Delivery:
    """Sends every unsent order whenever the broker is reachable, oldest first."""

    def __init__(self, outbox: Outbox, publisher: Publisher, topics: Topics) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.topics = topics
        self.connected = False
        self._in_flight: dict[int, str] = {}

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
            if order["order_id"] in sending:
                continue
            mid = self.publisher.publish(self.topics.orders, order)
            if mid is None:
                log.warning("order %s not handed to the MQTT client; it stays in the outbox", order["order_id"])
                return
            self._in_flight[mid] = order["order_id"]

    def connection_up(self) -> None:
        """(Re)connected: send everything still unsent."""
        self.connected = True
        self.flush()

    def connection_down(self) -> None:
        """Disconnected: what was in flight is sent again on the next connection."""
        self.connected = False
        self._in_flight.clear()

    def acknowledged(self, mid: int) -> str | None:
        """The broker's PUBACK for `mid`: the order id newly marked sent, or None."""
        order_id = self._in_flight.pop(mid, None)
        if order_id is not None and self.outbox.mark_sent(order_id):
            return order_id
        return None
