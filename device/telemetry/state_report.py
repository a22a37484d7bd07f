"""The retained `reorder.state/1` and `reorder.stats/1` messages: built here, and published from here only.

The state goes out on connect and whenever the outbox depth or mute changes; the counters
(stages.stats) with it, and when the loop comes to rest, each time only if they moved. Mirrors
(a household broker for Home Assistant, adapters.mirror) get a copy of both, never anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from device import firmware
from device.orders.delivery import Delivery
from device.orders.payload import iso
from device.telemetry.stats import Stats, StatsFile, stats_payload

Mirror = Callable[[str, dict[str, Any]], None]
"""Receives a copy of each state or stats message: (topic, payload)."""


def state_payload(online: bool, outbox_depth: int, muted: bool, since: str) -> dict[str, Any]:
    """The `reorder.state/1` object (also the last will, with online false)."""
    return {"schema": "reorder.state/1", "online": online, "firmware": firmware(), "outbox_depth": outbox_depth,
            "muted": muted, "since": since}


class StateReport:
    """The device's state as the store sees it; `since` is when the broker connection last changed."""

    def __init__(self, delivery: Delivery, topic: str, now: Callable[[], datetime]) -> None:
        self.delivery, self.topic, self.now = delivery, topic, now
        self.since = iso(now())
        self.mirrors: list[Mirror] = []
        self.stats: StatsReport | None = None

    def attach(self, stats: StatsReport | None = None, mirror: Mirror | None = None) -> None:
        """Publish the counters along with the state, and/or copy both to a mirror."""
        if stats is not None:
            self.stats = stats
            stats.mirrors = self.mirrors
        if mirror is not None:
            self.mirrors.append(mirror)

    def connection_changed(self) -> None:
        """The broker connection came up or went down: the state is new since now."""
        self.since = iso(self.now())
        if self.stats is not None:
            self.stats.resend()

    def connection(self, up: bool, muted: bool) -> None:
        """The broker connection came up (delivery resumes, the state is published) or went down."""
        self.connection_changed()
        if up:
            self.delivery.connection_up()
            self.publish(muted)
        else:
            self.delivery.connection_down()

    def payload(self, muted: bool, online: bool = True) -> dict[str, Any]:
        """The message as of now."""
        return state_payload(online, self.delivery.outbox.depth(), muted, self.since)

    def publish(self, muted: bool) -> None:
        """Publish it, retained, while connected (the broker keeps the last one for later subscribers)."""
        payload = self.payload(muted)
        if self.delivery.connected:
            self.delivery.publisher.publish(self.topic, payload, retain=True)
        for mirror in self.mirrors:
            mirror(self.topic, payload)
        if self.stats is not None:
            self.stats.publish()


class StatsReport:
    """The counters as the operator sees them: published retained when they moved, the since-install ones saved."""

    def __init__(self, stats: Stats, delivery: Delivery, topic: str, device_id: str, now: Callable[[], datetime],
                 free_bytes: Callable[[], int | None] = lambda: None, file: StatsFile | None = None) -> None:
        self.stats, self.delivery, self.topic, self.device_id = stats, delivery, topic, device_id
        self.now, self.free_bytes, self.file = now, free_bytes, file
        self.mirrors: list[Mirror] = []
        self._published = self._saved = 0

    def resend(self) -> None:
        """The next publish goes out even if nothing moved (a new connection, perhaps to a broker that forgot)."""
        self._published = 0

    def payload(self) -> dict[str, Any]:
        """The `reorder.stats/1` message as of now."""
        return stats_payload(self.stats, self.device_id, firmware(), iso(self.now()), self.delivery.outbox.depth(),
                             self.free_bytes())

    def publish(self) -> None:
        """Save the since-install counters and publish them, retained, if they moved since the last time."""
        version = self.stats.version
        if self.file is not None and version != self._saved:
            self.file.save(self.stats.saved())
            self._saved = version
        if version == self._published:
            return
        payload = self.payload()
        if self.delivery.connected:
            self.delivery.publisher.publish(self.topic, payload, retain=True)
            self._published = version
        for mirror in self.mirrors:
            mirror(self.topic, payload)
