"""A household broker for Home Assistant: copies of the state, the counters and the discovery configs.

Never an order: this link is not the delivery stage's publisher, and nothing but the messages
offered here (retained `state` and `stats`, discovery configs) is ever published on it. It may
subscribe to one topic, the mute command, and hands the loop nothing else (MqttLink decodes only
the topics it subscribed to). Its last will is the offline state, so HA's online sensor falls
when the device vanishes from the household broker too. After every (re)connect it publishes
the discovery configs and the latest state and counters again, since a household broker without
persistence forgets retained messages when it restarts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from device.adapters.network.mqtt import MqttLink
from device.config import MqttSettings
from device.contract.inputs import BrokerDown, BrokerUp, MuteChanged
from device.contract.topics import Topics

log = logging.getLogger(__name__)


class HouseholdMirror:
    """The second MQTT link; `offer(topic, payload)` is a StateReport mirror."""

    def __init__(self, settings: MqttSettings, client_id: str, topics: Topics,
                 discovery: list[tuple[str, dict[str, Any]]], will: tuple[str, dict[str, Any]],
                 on_mute: Callable[[MuteChanged], None] | None = None) -> None:
        self.topics, self.discovery, self._on_mute = topics, discovery, on_mute
        self._latest: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        subscriptions = (topics.mute,) if on_mute is not None else ()
        self.link = MqttLink(settings, client_id, self._heard, subscriptions, will=will, topics=topics)

    def _heard(self, item: object) -> None:
        """Paho's thread: a connect republishes everything; a mute command goes to the loop; acks are ignored."""
        if isinstance(item, BrokerUp):
            log.info("household broker %s connected: publishing discovery, state and counters", self.link.host)
            with self._lock:
                latest = list(self._latest.items())
            for topic, payload in [*self.discovery, *latest]:
                self.link.publish(topic, payload, retain=True)
        elif isinstance(item, BrokerDown):
            log.warning("household broker %s lost (%s); reconnecting", self.link.host, item.reason)
        elif isinstance(item, MuteChanged) and self._on_mute is not None:
            self._on_mute(item)

    def offer(self, topic: str, payload: dict[str, Any]) -> None:
        """The latest state or counters: published now when connected, else at the next connect."""
        with self._lock:
            if self._latest.get(topic) == payload:
                return
            self._latest[topic] = payload
        if self.link.connected:
            self.link.publish(topic, payload, retain=True)

    def start(self) -> None:
        """Connect in the background (reconnects by itself)."""
        self.link.start()

    def stop(self, final: tuple[str, dict[str, Any]] | None = None) -> None:
        """Publish the offline state, then disconnect; idempotent."""
        self.link.stop(final=final)
