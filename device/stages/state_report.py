"""The retained `reorder.state/1` message (CONTRACT): built here, and published from here only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import __version__
from .delivery import Delivery
from .order import iso


def state_payload(online: bool, outbox_depth: int, muted: bool, since: str) -> dict[str, Any]:
    """The `reorder.state/1` object (also the last will, with online false)."""
    return {"schema": "reorder.state/1", "online": online, "firmware": __version__, "outbox_depth": outbox_depth,
            "muted": muted, "since": since}


class StateReport:
    """The device's state as the store sees it; `since` is when the broker connection last changed."""

    def __init__(self, delivery: Delivery, topic: str, now: Callable[[], datetime]) -> None:
        self.delivery, self.topic, self.now = delivery, topic, now
        self.since = iso(now())

    def connection_changed(self) -> None:
        """The broker connection came up or went down."""
        self.since = iso(self.now())

    def payload(self, muted: bool, online: bool = True) -> dict[str, Any]:
        """The message as of now."""
        return state_payload(online, self.delivery.outbox.depth(), muted, self.since)

    def publish(self, muted: bool) -> None:
        """Publish it, retained, while connected (the broker keeps the last one for later subscribers)."""
        if self.delivery.connected:
            self.delivery.publisher.publish(self.topic, self.payload(muted), retain=True)
